/**
 * Prometheus metrics (prom-client), shared by Central, the sensor, admission and the engine
 * proxy. The default process metrics (CPU, RSS, heap, event-loop lag, GC) live in one registry
 * per process, made at the first scrape; each component instance makes its own Registry for
 * its own metrics (defined in its own file), and metricsText() serves both. Labels are small
 * fixed sets (route, status, decision…), never ids.
 */
import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { UserError } from './errors.js';

export { Counter, Gauge, Histogram, Registry };

/** Seconds: 1 ms … 10 s, for request and review latencies. */
export const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

let processRegistry: Registry | undefined;

/** The process's default metrics under `gatehouse_` (one set per process, however many components it runs). */
export function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry, prefix: 'gatehouse_' });
  }
  return processRegistry;
}

/** A component's registry; its samples carry `component`. */
export function newRegistry(component: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ component });
  return registry;
}

/** The text format of the process metrics and the component's (content type: registry.contentType). */
export async function metricsText(registry: Registry): Promise<string> {
  const [proc, own] = await Promise.all([processMetrics().metrics(), registry.metrics()]);
  return proc + own;
}

/** Seconds since `startNs` (process.hrtime.bigint()). */
export function secondsSince(startNs: bigint): number {
  return Number(process.hrtime.bigint() - startNs) / 1e9;
}

export interface MetricsListener {
  /** http://host:port/metrics */
  url: string;
  close(): Promise<void>;
}

/** Parses `HOST:PORT` for a --metrics-listen option (port 0 picks a free one). */
export function parseMetricsListen(value: string): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(value);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) throw new UserError(`--metrics-listen ${JSON.stringify(value)}: expected HOST:PORT, e.g. 127.0.0.1:9464`, 'usage');
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
}

/**
 * A plain HTTP listener answering `GET /metrics` with the registry's text format (everything
 * else 404), for components whose own listener speaks another protocol or that have none.
 */
export async function serveMetrics(registry: Registry, at: { host: string; port: number }): Promise<MetricsListener> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (req.method !== 'GET' || path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('only GET /metrics is served here\n');
      return;
    }
    metricsText(registry).then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (e: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics: ${e instanceof Error ? e.message : String(e)}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => reject(new UserError(`--metrics-listen ${at.host}:${at.port}: ${e.code ?? e.message}`, 'usage')));
    server.listen(at.port, at.host, () => resolve());
  });
  const addr = server.address() as { address: string; port: number };
  const host = addr.address.includes(':') ? `[${addr.address}]` : addr.address;
  return {
    url: `http://${host}:${addr.port}/metrics`,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

/** What a spool-backed shipper to Central reports (EventShipper.stats() has this shape). */
export interface ShipperStatsLike {
  sent: number;
  duplicates: number;
  rejected: number;
  failures: number;
  pendingEvents: number;
  pendingBytes: number;
  droppedTotal: number;
}

/** A counter whose value is read from a running total at scrape time (no work on the hot path). */
export function totalCounter<L extends string>(registry: Registry, name: string, help: string, labelNames: readonly L[], read: () => Iterable<[Partial<Record<L, string>>, number]>): Counter<L> {
  return new Counter<L>({
    name, help, labelNames, registers: [registry],
    collect() {
      this.reset();
      for (const [labels, v] of read()) this.inc(labels, v);
    },
  });
}

/** Gauges and counters of the shipper to Central: pending (the lag, in events and bytes), sent, failed, lost. */
export function registerShipperMetrics(registry: Registry, stats: () => ShipperStatsLike): void {
  let last: ShipperStatsLike | undefined;
  const read = () => (last = stats());
  new Gauge({ name: 'gatehouse_shipper_pending_events', help: 'Events in the disk spool not yet acknowledged by Central (shipping lag)', registers: [registry], collect() { this.set(read().pendingEvents); } });
  new Gauge({ name: 'gatehouse_shipper_pending_bytes', help: 'Bytes in the disk spool not yet acknowledged by Central', registers: [registry], collect() { this.set((last ?? read()).pendingBytes); } });
  totalCounter(registry, 'gatehouse_shipper_events_total', 'Events the shipper is done with, by outcome (sent, duplicate, rejected by Central, dropped because the spool was full)', ['outcome'], () => {
    const s = last ?? read();
    return [[{ outcome: 'sent' }, s.sent], [{ outcome: 'duplicate' }, s.duplicates], [{ outcome: 'rejected' }, s.rejected], [{ outcome: 'dropped' }, s.droppedTotal]];
  });
  totalCounter(registry, 'gatehouse_shipper_push_failures_total', 'Pushes to Central that failed (retried later)', [], () => [[{}, (last ?? read()).failures]]);
}
