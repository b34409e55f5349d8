/**
 * The event bus with a real nats-server (JetStream, file store): the sensor's publishing path
 * (disk spool → EventShipper → BusPublisher) keeps events while NATS is down and drains them
 * in order when it is back; Central's consumer stores them through the ingest code (one
 * transaction per fetch, dedup by id), acks after the commit, refuses what breaks the
 * contract, and shows its backlog in /metrics.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { BusPublisher } from '../../src/central/client/bus-publisher.js';
import { BUS_STREAM, DEFAULT_BUS_MAX_AGE_MS, subjectFor } from '../../src/central/client/bus-stream.js';
import type { IngestEvent } from '../../src/central/client/ingest-types.js';
import { busConsumerJob } from '../../src/central/bus/consumer.js';
import { eventShipperFor } from '../../src/cli/central-push.js';
import { DIALECTS, dialectSkip, startTestCentral } from '../helpers/central.js';
import { metricValue, natsSkip, startNats, tempDir, waitFor } from './helpers.js';

const skip = natsSkip();
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

const alert = (id: string, n: number): IngestEvent => ({
  id, type: 'alert', time: new Date(Date.UTC(2026, 0, 1, 0, 0, n % 60)).toISOString(),
  finding: { id: 'bus-rule', kind: 'runtime', severity: 'HIGH', title: `event ${n}`, resource: { host: 'h1' } },
  data: { n },
});

for (const dialect of DIALECTS.filter((d) => !process.env.BUS_DIALECT || d === process.env.BUS_DIALECT)) {
  test(`bus (${dialect}): spooled while NATS is down, drained in order, stored once, backlog in /metrics`, { skip: skip || (await dialectSkip(dialect)), timeout: 180_000 }, async () => {
    const nats = await startNats();
    const central = await startTestCentral({ dialect });
    const abort = new AbortController();
    let consumerDone: Promise<void> | undefined;
    let streamCopies = 0;
    const source = { kind: 'sensor' as const, cluster: 'prod.eu-1', host: 'node-1' };
    const handle = eventShipperFor(new BusPublisher({ url: nats.url, timeoutMs: 1500 }), source, join(tempDir('spool'), 's'), { flushIntervalMs: 20, log: () => undefined });
    try {
      // The first batch goes through while NATS is up.
      for (let i = 0; i < 50; i++) handle.shipper.submit(alert(`a-${i}`, i));
      await waitFor('first batch published', () => handle.shipper.stats().sent === 50);
      await nats.kill9();
      for (let i = 50; i < 400; i++) handle.shipper.submit(alert(`a-${i}`, i));
      await waitFor('a failed publish while NATS is down', () => handle.shipper.stats().failures > 0);
      assert.ok(handle.shipper.stats().pendingEvents > 0, 'events wait in the spool while NATS is down');
      await nats.restart();
      await waitFor('spool drained', () => handle.shipper.stats().pendingEvents === 0 && handle.shipper.stats().sent >= 400, 60_000);

      // The stream: file storage, limits, one subject per cluster, every event once and in order.
      const nc = await connect({ servers: nats.url });
      try {
        const jsm = await jetstreamManager(nc);
        const info = await jsm.streams.info(BUS_STREAM);
        assert.equal(info.config.storage, 'file');
        assert.equal(info.config.max_age, DEFAULT_BUS_MAX_AGE_MS * 1_000_000);
        assert.ok(info.config.max_bytes > 0);
        assert.equal(subjectFor(source), 'gatehouse.events.prod_eu-1');
        // One message per shipped batch (session 6). JetStream drops a batch re-sent whole; a batch
        // re-sent with more events after a timeout is a new message, whose copies Central's store drops.
        const ns: number[] = [];
        for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
          const m = await jsm.streams.getMessage(BUS_STREAM, { seq });
          assert.equal(m!.subject, 'gatehouse.events.prod_eu-1');
          ns.push(...(m!.json() as { events: { data: { n: number } }[] }).events.map((e) => e.data.n));
        }
        assert.deepEqual(ns.filter((n, i) => ns.indexOf(n) === i), [...Array(400).keys()], 'spooled events were published in the order they were raised');
        streamCopies = ns.length - 400;

        // A message that is not the contract, and an event published again under another message id.
        const js = (await import('@nats-io/jetstream')).jetstream(nc);
        await js.publish('gatehouse.events.prod_eu-1', JSON.stringify({ source, event: { id: 'x', type: 'bogus', time: 'now' } }));
        await js.publish('gatehouse.events.prod_eu-1', JSON.stringify({ source, event: alert('a-7', 7) }), { msgID: 'again-a-7' });
      } finally {
        await nc.close();
      }

      const metricsBefore = (await central.api('GET', '/metrics')).body as string;
      consumerDone = busConsumerJob({ url: nats.url, batchSize: 100 })(central.ctx, abort.signal, { log: quiet });
      await waitFor('all events stored', async () => Number((await central.db().selectFrom('events').select((e) => e.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n) === 400 || undefined, 60_000);
      let lastMetrics = '';
      const metrics = await waitFor('consumer idle, duplicate and refusal counted', async () => {
        const text = (lastMetrics = (await central.api('GET', '/metrics')).body as string);
        return metricValue(text, 'gatehouse_central_bus_events_total', 'outcome="duplicate"') >= 1 && metricValue(text, 'gatehouse_central_bus_events_total', 'outcome="rejected"') >= 1
          && metricValue(text, 'gatehouse_central_bus_consumer_ack_pending') === 0 && text;
      }, 30_000).catch((e: Error) => {
        throw new Error(`${e.message}\n${lastMetrics.split('\n').filter((l) => l.includes('_bus_')).join('\n')}`);
      });
      assert.match(metricsBefore, /gatehouse_central_http_requests_total/);
      assert.equal(metricValue(metrics, 'gatehouse_central_bus_events_total', 'outcome="stored"'), 400);
      assert.equal(metricValue(metrics, 'gatehouse_central_bus_events_total', 'outcome="duplicate"'), 1 + streamCopies, 'a-7 again (and any copy in the stream): dropped by id in the store');
      assert.equal(metricValue(metrics, 'gatehouse_central_bus_events_total', 'outcome="rejected"'), 1);
      assert.equal(metricValue(metrics, 'gatehouse_central_bus_consumer_pending'), 0);
      assert.equal(metricValue(metrics, 'gatehouse_central_bus_connected'), 1);
      assert.match(metrics, /^gatehouse_central_bus_lag_seconds\{[^}]*\} \d/m);
      const stored = await central.db().selectFrom('events').select(['id', 'cluster', 'host', 'type']).where('id', '=', 'a-399').executeTakeFirstOrThrow();
      assert.deepEqual(stored, { id: 'a-399', cluster: 'prod.eu-1', host: 'node-1', type: 'alert' });

      // A flow (the sensor's aggregated connection) goes through storeEventBatch's flow path (deduplicated by flow_ids), as through the HTTP route.
      const flow = { protocol: 'TCP', direction: 'egress', local: { ip: '10.0.0.5', port: 40000, container: { id: 'abc123' } }, remote: { ip: '10.0.0.9', port: 5432 }, firstSeen: '2026-01-01T00:00:00Z', lastSeen: '2026-01-01T00:00:05Z', connections: 3, observedBy: 'ebpf' };
      handle.shipper.submit({ id: 'flow-1', type: 'flow', time: '2026-01-01T00:00:05Z', data: flow });
      await waitFor('the flow stored', async () => (await central.db().selectFrom('flow_ids').select('id').where('id', '=', 'flow-1').executeTakeFirst()) !== undefined, 30_000);
      await waitFor('the flow counted as stored', async () => metricValue((await central.api('GET', '/metrics')).body as string, 'gatehouse_central_bus_events_total', 'outcome="stored"') === 401, 10_000);
    } finally {
      abort.abort();
      await consumerDone;
      await handle.close(1000).catch(() => undefined);
      await central.close();
      await nats.stop();
    }
  });
}
