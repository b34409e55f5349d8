/**
 * The sensor's Prometheus metrics (`gatehouse sensor --metrics-listen HOST:PORT`). Events by
 * evt.type (a fixed set of syscalls from the probe), alerts by priority, drops by where they
 * happened (read from the sensor's own counters at scrape time). No container, process or
 * rule names as labels.
 */
import type { Alert } from '../runtime/alerts/alert.js';
import type { RuntimeEvent } from '../runtime/event.js';
import { Counter, newRegistry, totalCounter, type Registry } from '../util/metrics.js';
import type { SensorStats } from './sensor.js';

export class SensorMetrics {
  readonly registry: Registry;
  private readonly eventsByType = new Map<string, number>();
  readonly alerts: Counter<'priority'>;
  private stats?: () => SensorStats;

  constructor(registry: Registry = newRegistry('sensor')) {
    this.registry = registry;
    // Counted in a plain map on the hot path; the counter reads it at scrape time.
    totalCounter(registry, 'gatehouse_sensor_events_total', 'Events out of the kernel into the rules, by evt.type', ['type'], () =>
      [...this.eventsByType].map(([type, n]) => [{ type }, n] as [{ type: string }, number]));
    this.alerts = new Counter({ name: 'gatehouse_sensor_alerts_total', help: 'Alerts raised (rules, drop reports), by priority', labelNames: ['priority'], registers: [registry] });
    totalCounter(registry, 'gatehouse_sensor_dropped_events_total', 'Events lost, by where (kernel: perf buffer, queue: between probe and rules, incomplete: records never completed)', ['reason'], () => {
      const s = this.stats?.();
      return s ? [[{ reason: 'kernel' }, s.lostInKernel], [{ reason: 'queue' }, s.droppedInQueue], [{ reason: 'incomplete' }, s.incomplete]] : [];
    });
  }

  /** Reads drops from the running sensor. */
  watch(stats: () => SensorStats): void {
    this.stats = stats;
  }

  event(ev: RuntimeEvent): void {
    const type = typeof ev['evt.type'] === 'string' ? ev['evt.type'] : 'unknown';
    this.eventsByType.set(type, (this.eventsByType.get(type) ?? 0) + 1);
  }

  alert(a: Alert): void {
    this.alerts.inc({ priority: a.priority });
  }
}
