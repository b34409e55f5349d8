/**
 * Central's Prometheus metrics, served at GET /metrics (src/central/api/metrics.ts; a token
 * with any reader role, as every API). One registry per Central context. HTTP requests are
 * counted by an onResponse hook on the root instance (registerHttpMetrics, called once from
 * server.ts) with the route pattern as label, never the URL; ingest is counted from the
 * requests the hook sees and from the change notices on ctx.events.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Counter, Gauge, Histogram, LATENCY_BUCKETS, newRegistry, totalCounter, type Registry } from '../util/metrics.js';
import { incidentInputsDropped } from './incidents/service.js';
import type { CentralContext } from './context.js';

/** Ingest routes and the kind their batches are counted as. */
const INGEST_ROUTES: Record<string, string> = {
  '/api/v1/ingest/images': 'images',
  '/api/v1/ingest/events': 'events',
  '/api/v1/ingest/findings': 'findings',
};
/** Change notices on ctx.events that are counted (names are a fixed set; payloads are not labels). */
const NOTICES = ['image', 'images', 'events', 'alerts', 'violations', 'deployments', 'policies', 'exceptions', 'sources'] as const;

export class CentralMetrics {
  readonly registry: Registry;
  readonly httpRequests: Counter<'method' | 'route' | 'status'>;
  readonly httpLatency: Histogram<'method' | 'route'>;
  readonly ingestBatches: Counter<'kind'>;
  readonly ingestEvents: Counter<'type'>;
  readonly notices: Counter<'notice'>;
  readonly liveEvaluated: Counter;

  constructor(ctx: CentralContext, registry: Registry = newRegistry('central')) {
    this.registry = registry;
    const registers = [registry];
    this.httpRequests = new Counter({ name: 'gatehouse_central_http_requests_total', help: 'API requests answered, by method, route pattern and status', labelNames: ['method', 'route', 'status'], registers });
    this.httpLatency = new Histogram({ name: 'gatehouse_central_http_request_duration_seconds', help: 'Time from request to response, by method and route pattern', labelNames: ['method', 'route'], buckets: LATENCY_BUCKETS, registers });
    this.ingestBatches = new Counter({ name: 'gatehouse_central_ingest_batches_total', help: 'Accepted (2xx) pushes, by kind (images, events, findings)', labelNames: ['kind'], registers });
    this.ingestEvents = new Counter({ name: 'gatehouse_central_ingest_events_total', help: 'Events received in accepted pushes (duplicates included), by type (alert, decision)', labelNames: ['type'], registers });
    this.notices = new Counter({ name: 'gatehouse_central_changes_total', help: 'Change notices for background work (image: an image evaluated, alerts: alerted deployments, deployments: a live evaluation pass…)', labelNames: ['notice'], registers });
    this.liveEvaluated = new Counter({ name: 'gatehouse_central_live_deployments_evaluated_total', help: 'Deployments evaluated by the live evaluator', registers });
    new Gauge({ name: 'gatehouse_central_image_pool_in_flight', help: 'Image pushes and re-matches being worked on by the image worker pool', registers, collect() { this.set(ctx.imagePool.inFlight); } });
    new Gauge({ name: 'gatehouse_central_image_pool_workers', help: 'Image worker slots', registers, collect() { this.set(ctx.imagePool.size); } });
    // A bounded queue's loss is counted where operators look (IncidentServiceOptions.maxQueuedInputs).
    totalCounter(registry, 'gatehouse_central_incident_inputs_dropped_total', 'Ingested events not correlated into incidents because the correlation queue was full (the events themselves are stored)', [], () => [[{}, incidentInputsDropped(ctx)]]);
    new Gauge({ name: 'gatehouse_central_store_info', help: 'The store in use (label dialect: sqlite or postgres); always 1', labelNames: ['dialect'], registers }).set({ dialect: ctx.store.dialect }, 1);
    for (const notice of NOTICES) ctx.events.on(notice, () => this.notices.inc({ notice }));
    ctx.events.on('deployments', (count: unknown) => {
      const n = Number(count);
      if (Number.isFinite(n) && n > 0) this.liveEvaluated.inc(n);
    });
  }

  /** Counts one answered request (the onResponse hook). */
  observe(req: FastifyRequest, reply: FastifyReply): void {
    const route = req.routeOptions.url ?? 'unmatched';
    const status = reply.statusCode;
    this.httpRequests.inc({ method: req.method, route, status: String(status) });
    this.httpLatency.observe({ method: req.method, route }, reply.elapsedTime / 1000);
    const kind = INGEST_ROUTES[route];
    if (!kind || req.method !== 'POST' || status >= 300) return;
    this.ingestBatches.inc({ kind });
    if (kind !== 'events') return;
    const events = (req.body as { events?: { type?: unknown }[] } | undefined)?.events;
    if (!Array.isArray(events)) return;
    let alerts = 0;
    for (const e of events) if (e?.type === 'alert') alerts++;
    if (alerts) this.ingestEvents.inc({ type: 'alert' }, alerts);
    if (events.length - alerts) this.ingestEvents.inc({ type: 'decision' }, events.length - alerts);
  }
}

const byContext = new WeakMap<CentralContext, CentralMetrics>();

/** The metrics of this Central context (made on first use). */
export function centralMetrics(ctx: CentralContext): CentralMetrics {
  let m = byContext.get(ctx);
  if (!m) byContext.set(ctx, (m = new CentralMetrics(ctx)));
  return m;
}

/** Counts every request of `app` (the root instance, before the API modules are registered). */
export function registerHttpMetrics(app: FastifyInstance, ctx: CentralContext): void {
  const metrics = centralMetrics(ctx);
  app.addHook('onResponse', (req, reply, done) => {
    metrics.observe(req, reply);
    done();
  });
}
