/**
 * The in-process detection engine: feed it events (from the sensor or a replay), it emits
 * alerts to its listeners and sinks and keeps counts.
 */
import type { RuntimeEvent } from '../event.js';
import type { Alert } from '../alerts/alert.js';
import type { AlertSink } from '../alerts/sinks.js';
import type { RuleSet } from './ruleset.js';

export interface EngineStats {
  events: number;
  alerts: number;
  byRule: Record<string, number>;
}

export interface EngineOptions {
  /**
   * Called on every alert before it is emitted, with the event that raised it (none for an
   * alert that did not come from a rule): runtime policies add their verdict here.
   */
  annotate?: (alert: Alert, event: RuntimeEvent | undefined) => Alert;
}

export class Engine {
  readonly stats: EngineStats = { events: 0, alerts: 0, byRule: {} };
  private readonly listeners: Array<(a: Alert) => void> = [];

  constructor(readonly ruleSet: RuleSet, private readonly sinks: AlertSink[] = [], private readonly opts: EngineOptions = {}) {}

  onAlert(fn: (a: Alert) => void): void {
    this.listeners.push(fn);
  }

  /** Evaluates one event; returns (and emits) its alerts. */
  push(ev: RuntimeEvent): Alert[] {
    this.stats.events++;
    let alerts = this.ruleSet.evaluate(ev);
    const annotate = this.opts.annotate;
    if (annotate && alerts.length) alerts = alerts.map((a) => annotate(a, ev));
    for (const a of alerts) this.send(a);
    return alerts;
  }

  /** Emits an alert that did not come from a rule (e.g. the sensor's drop report). */
  emit(a: Alert): void {
    this.send(this.opts.annotate ? this.opts.annotate(a, undefined) : a);
  }

  private send(a: Alert): void {
    this.stats.alerts++;
    this.stats.byRule[a.rule] = (this.stats.byRule[a.rule] ?? 0) + 1;
    for (const s of this.sinks) s.write(a);
    for (const l of this.listeners) l(a);
  }

  async close(): Promise<void> {
    for (const s of this.sinks) await s.close();
  }
}
