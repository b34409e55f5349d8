/**
 * The event bus's metrics, on Central's /metrics registry (src/central/metrics.ts):
 *   gatehouse_central_bus_events_total{outcome=stored|duplicate|rejected}
 *   gatehouse_central_bus_batches_total{outcome=committed|failed}
 *   gatehouse_central_bus_redeliveries_total      messages this instance got again
 *   gatehouse_central_bus_consumer_pending        in the stream, not yet delivered (the backlog)
 *   gatehouse_central_bus_consumer_ack_pending    delivered to some Central, not acked yet
 *   gatehouse_central_bus_consumer_redelivered    delivered more than once, not acked yet
 *   gatehouse_central_bus_lag_seconds             age of the oldest event of the last stored batch
 *   gatehouse_central_bus_commit_seconds          time to store one fetched batch
 *   gatehouse_central_bus_connected               1 while connected to NATS
 * The consumer gauges are read from JetStream at scrape time (one consumer-info request).
 */
import type { ConsumerInfo } from '@nats-io/jetstream';
import { Counter, Gauge, Histogram, LATENCY_BUCKETS } from '../../util/metrics.js';
import type { CentralContext } from '../context.js';
import { centralMetrics } from '../metrics.js';

export interface BusMetrics {
  events: Counter<'outcome'>;
  batches: Counter<'outcome'>;
  redeliveries: Counter;
  lag: Gauge;
  commit: Histogram;
  connected: Gauge;
}

const byContext = new WeakMap<CentralContext, { metrics: BusMetrics; source: { info: () => Promise<ConsumerInfo | undefined> } }>();

/** The bus metrics of this context, made once; `info` reads the consumer's state at scrape time. */
export function busMetrics(ctx: CentralContext, info: () => Promise<ConsumerInfo | undefined>): BusMetrics {
  const known = byContext.get(ctx);
  if (known) {
    known.source.info = info;
    return known.metrics;
  }
  const registers = [centralMetrics(ctx).registry];
  const source = { info };
  let last: Promise<ConsumerInfo | undefined> | undefined;
  // One consumer-info request per scrape, shared by the three gauges.
  const read = () => (last ??= source.info().finally(() => setTimeout(() => (last = undefined), 200).unref()));
  const fromInfo = (name: string, help: string, pick: (i: ConsumerInfo) => number) => new Gauge({
    name, help, registers,
    async collect() {
      const i = await read();
      if (i) this.set(pick(i));
    },
  });
  fromInfo('gatehouse_central_bus_consumer_pending', 'Events in the JetStream stream not yet delivered to any Central (the backlog)', (i) => i.num_pending);
  fromInfo('gatehouse_central_bus_consumer_ack_pending', 'Events delivered to a Central and not acknowledged yet (being stored)', (i) => i.num_ack_pending);
  fromInfo('gatehouse_central_bus_consumer_redelivered', 'Events delivered more than once and not acknowledged yet', (i) => i.num_redelivered);
  const metrics: BusMetrics = {
    events: new Counter({ name: 'gatehouse_central_bus_events_total', help: 'Events taken from the bus by this instance, by outcome (stored, duplicate: already stored, dropped by id; rejected: not the ingest contract)', labelNames: ['outcome'], registers }),
    batches: new Counter({ name: 'gatehouse_central_bus_batches_total', help: 'Fetched batches, by outcome (committed then acked; failed: store error, redelivered later)', labelNames: ['outcome'], registers }),
    redeliveries: new Counter({ name: 'gatehouse_central_bus_redeliveries_total', help: 'Messages this instance received that JetStream had delivered before (ack not received in time)', registers }),
    lag: new Gauge({ name: 'gatehouse_central_bus_lag_seconds', help: 'Age of the oldest event of the last stored batch when it committed (0 when the consumer is idle)', registers }),
    commit: new Histogram({ name: 'gatehouse_central_bus_commit_seconds', help: 'Time to store one fetched batch (one transaction)', buckets: LATENCY_BUCKETS, registers }),
    connected: new Gauge({ name: 'gatehouse_central_bus_connected', help: '1 while this instance is connected to NATS', registers }),
  };
  byContext.set(ctx, { metrics, source });
  return metrics;
}
