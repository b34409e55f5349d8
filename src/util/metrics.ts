/**
 * Prometheus metrics (prom-client), shared by Central, the sensor, admission and the engine
 * proxy. The default process metrics (CPU, RSS, heap, event-loop lag, GC) live in one registry
 * per process, made at the first scrape; each component instance makes its own Registry for
 * its own metrics (defined in its own file), and metricsText() serves both. Labels are small
 * fixed sets (route, status, decision…), never ids.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
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

/** Where and how a component serves its metrics apart from its own listener (src/cli/metrics-options.ts builds it). */
export interface MetricsServeOptions {
  host: string;
  port: number;
  /** The scrape token: every request must carry `Authorization: Bearer <token>` (Prometheus: authorization.credentials_file). */
  token: string;
  /** HTTPS with this certificate; without it the address must be a loopback one. */
  tls?: { cert: string | Buffer; key: string | Buffer };
}

/**
 * Whether an Authorization header carries the scrape token. Both sides are hashed first, so
 * the comparison is constant-time whatever the lengths.
 */
export function metricsAuthorized(header: string | undefined, token: string): boolean {
  const m = /^Bearer ([^\s]+)$/i.exec(header ?? '');
  if (!m) return false;
  const digest = (v: string) => createHash('sha256').update(v).digest();
  return timingSafeEqual(digest(m[1]!), digest(token));
}

/** Loopback addresses, where plain HTTP is allowed (nothing leaves the machine). */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/**
 * A listener answering `GET /metrics` with the registry's text format (everything else 404),
 * for components whose own listener speaks another protocol or that have none. Every API
 * needs a token, metrics too: a request without the scrape token gets 401. HTTPS when given a
 * certificate; plain HTTP only on loopback.
 */
export async function serveMetrics(registry: Registry, at: MetricsServeOptions): Promise<MetricsListener> {
  if (!at.token) throw new UserError('metrics need a scrape token (--metrics-token-file FILE or GATEHOUSE_METRICS_TOKEN)', 'usage');
  if (!at.tls && !isLoopbackHost(at.host)) throw new UserError(`--metrics-listen ${at.host}:${at.port}: plain HTTP is served on a loopback address only; give --metrics-tls-cert and --metrics-tls-key`, 'usage');
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '').split('?')[0];
    if (req.method !== 'GET' || path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('only GET /metrics is served here\n');
      return;
    }
    if (!metricsAuthorized(req.headers.authorization, at.token)) {
      res.writeHead(401, { 'content-type': 'text/plain', 'www-authenticate': 'Bearer realm="gatehouse-metrics"' }).end('a bearer token is required (the scrape token)\n');
      return;
    }
    metricsText(registry).then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (e: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics: ${e instanceof Error ? e.message : String(e)}\n`),
    );
  };
  const server: Server = at.tls ? createHttpsServer({ cert: at.tls.cert, key: at.tls.key }, handle) : createServer(handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => reject(new UserError(`--metrics-listen ${at.host}:${at.port}: ${e.code ?? e.message}`, 'usage')));
    server.listen(at.port, at.host, () => resolve());
  });
  const addr = server.address() as { address: string; port: number };
  const host = addr.address.includes(':') ? `[${addr.address}]` : addr.address;
  return {
    url: `${at.tls ? 'https' : 'http'}://${host}:${addr.port}/metrics`,
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
