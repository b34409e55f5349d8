/**
 * The engine proxy's Prometheus metrics. The proxy's own listener speaks the Docker API, so
 * they are served on a separate plain-HTTP address (`--metrics-listen`, src/util/metrics.ts
 * serveMetrics). Labels: decision (allow, warn, deny, error) and the endpoint's action
 * (container.create, image.pull…: a fixed set from endpoints.ts), never a container or caller.
 */
import { Counter, Histogram, LATENCY_BUCKETS, newRegistry, type Registry } from '../util/metrics.js';

export class EngineProxyMetrics {
  readonly registry: Registry;
  readonly requests: Counter<'decision' | 'action'>;
  readonly decisionLatency: Histogram<'decision'>;
  readonly upstreamErrors: Counter<'stage'>;

  constructor(registry: Registry = newRegistry('engine-proxy')) {
    this.registry = registry;
    this.requests = new Counter({ name: 'gatehouse_engine_proxy_requests_total', help: 'Engine API requests decided, by decision (error: refused as malformed) and action', labelNames: ['decision', 'action'], registers: [registry] });
    this.decisionLatency = new Histogram({ name: 'gatehouse_engine_proxy_decision_duration_seconds', help: 'Time from a request arriving to its decision (body read, facts gathered, policy evaluated)', labelNames: ['decision'], buckets: LATENCY_BUCKETS, registers: [registry] });
    this.upstreamErrors = new Counter({ name: 'gatehouse_engine_proxy_upstream_errors_total', help: 'Failures talking to the engine, by stage (inspect: reading a target to decide, forward, stream, hijack)', labelNames: ['stage'], registers: [registry] });
  }
}
