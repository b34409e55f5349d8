/**
 * Batch messages on the bus (session 6): BusPublisher sends a posted batch as one JetStream
 * message `{source, events}` (split at NATS's max payload), JetStream drops a batch sent again
 * whole, and Central's consumer stores batch messages and the older one-event messages alike,
 * refusing a bad event alone. Also: a publisher closed before it ever connected lets its
 * process end (it used to keep retrying the first connection forever).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { BusPublisher } from '../../src/central/client/bus-publisher.js';
import { BUS_STREAM } from '../../src/central/client/bus-stream.js';
import { CentralError } from '../../src/central/client/client.js';
import type { EventBatch, IngestEvent } from '../../src/central/client/ingest-types.js';
import { INGEST_EVENTS_PATH } from '../../src/central/client/shipper.js';
import { busConsumerJob } from '../../src/central/bus/consumer.js';
import { DIALECTS, dialectSkip, startTestCentral } from '../helpers/central.js';
import { freePort, metricValue, natsSkip, startNats, waitFor } from './helpers.js';

const skip = natsSkip();
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };
const source: EventBatch['source'] = { kind: 'sensor', cluster: 'batch-test', host: 'node-7', node: 'node-7' };

/** An alert with `pad` bytes of data, so a few hundred of them overflow one message. */
const alert = (id: string, n: number, pad = 0): IngestEvent => ({
  id, type: 'alert', time: new Date(Date.UTC(2026, 0, 1, 0, 0, n % 60)).toISOString(),
  finding: { id: 'batch-rule', kind: 'runtime', severity: 'HIGH', title: `event ${n}`, resource: { host: 'node-7' } },
  data: { n, pad: 'x'.repeat(pad) },
});

test('a BusPublisher closed before its first connection lets the process end', async () => {
  const port = await freePort(); // nothing listens there
  const script = `
    import { BusPublisher } from ${JSON.stringify(fileURLToPath(new URL('../../src/central/client/bus-publisher.ts', import.meta.url)))};
    const p = new BusPublisher({ url: 'nats://127.0.0.1:${port}', timeoutMs: 300 });
    const r = await p.post('/api/v1/ingest/events', { source: { kind: 'sensor', host: 'h' }, events: [] }).then(() => 'sent', (e) => e.message);
    await p.close();
    console.log(JSON.stringify({ r, stats: p.stats() }));
  `;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  // The process ends by itself once close() is done; a connection attempt still retrying keeps it alive.
  const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const [code, signal] = await new Promise<[number | null, string | null]>((resolve) => child.on('exit', (c, s) => resolve([c, s])));
  clearTimeout(killer);
  assert.equal(signal, null, `the process still ran 30 s after close() (a connection attempt kept it alive); output: ${out}`);
  assert.equal(code, 0, out);
  const line = JSON.parse(out.trim().split('\n').pop()!) as { r: string; stats: { connected: boolean; failures: number } };
  assert.match(line.r, /NATS nats:\/\/127\.0\.0\.1:\d+: not connected/);
  assert.deepEqual([line.stats.connected, line.stats.failures], [false, 1]);
});

test('bus: one message per batch, split at the max payload, a re-sent batch dropped by JetStream', { skip }, async () => {
  const nats = await startNats();
  const publisher = new BusPublisher({ url: nats.url, timeoutMs: 10_000 });
  const nc = await connect({ servers: nats.url });
  try {
    const events = Array.from({ length: 1200 }, (_, i) => alert(`big-${i}`, i, 2000)); // ~2.3 MB: three messages or more
    const first = await publisher.post<{ stored: number; duplicates: number }>(INGEST_EVENTS_PATH, { source, events });
    assert.deepEqual(first, { stored: 1200, duplicates: 0 });
    const jsm = await jetstreamManager(nc);
    const info = await jsm.streams.info(BUS_STREAM);
    const max = nc.info!.max_payload;
    assert.ok(info.state.messages >= 3 && info.state.messages <= 6, `${info.state.messages} messages for 1,200 events of ~2 KB (max payload ${max})`);
    const ids: string[] = [];
    for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
      const m = (await jsm.streams.getMessage(BUS_STREAM, { seq }))!;
      assert.ok(m.data.length <= max, `message ${seq} is ${m.data.length} bytes, over ${max}`);
      assert.equal(m.subject, 'gatehouse.events.batch-test');
      const body = m.json<{ source: unknown; events: IngestEvent[] }>();
      assert.deepEqual(body.source, source);
      ids.push(...body.events.map((e) => e.id));
    }
    assert.deepEqual(ids, events.map((e) => e.id), 'every event once, in order, across the messages');

    // The same batch again (a sensor killed between the PubAck and its spool's ack): all duplicates.
    const again = await publisher.post<{ stored: number; duplicates: number }>(INGEST_EVENTS_PATH, { source, events });
    assert.deepEqual(again, { stored: 0, duplicates: 1200 });
    assert.equal((await jsm.streams.info(BUS_STREAM)).state.messages, info.state.messages);

    // One event over the max payload is refused as bad input (413: the shipper skips it), nothing published.
    const tooBig = await publisher.post(INGEST_EVENTS_PATH, { source, events: [alert('huge', 1, max + 10)] }).then(() => undefined, (e: unknown) => e);
    assert.ok(tooBig instanceof CentralError && tooBig.status === 413, String(tooBig));
    assert.equal((await jsm.streams.info(BUS_STREAM)).state.messages, info.state.messages);

    // The pre-session-6 shape is still there for an old Central.
    const legacy = new BusPublisher({ url: nats.url, messageShape: 'event' });
    await legacy.post(INGEST_EVENTS_PATH, { source, events: [alert('old-1', 1), alert('old-2', 2)] });
    await legacy.close();
    const last = (await jsm.streams.getMessage(BUS_STREAM, { last_by_subj: 'gatehouse.events.batch-test' }))!;
    assert.deepEqual(last.json<{ event: IngestEvent }>().event.id, 'old-2');
    assert.equal(last.header.get('Nats-Msg-Id'), 'old-2');
  } finally {
    await nc.close();
    await publisher.close();
    await nats.stop();
  }
});

for (const dialect of DIALECTS) {
  test(`bus (${dialect}): Central stores batch messages and one-event messages; a bad event is refused alone`, { skip: skip || (await dialectSkip(dialect)), timeout: 120_000 }, async () => {
    const nats = await startNats();
    const central = await startTestCentral({ dialect });
    const abort = new AbortController();
    const publisher = new BusPublisher({ url: nats.url });
    const nc = await connect({ servers: nats.url });
    let consumerDone: Promise<void> | undefined;
    try {
      // 30 batches of 50 (as 30 sensors' shippers would post them) and 3,000 of one (a backlog of
      // many small messages: a max_bytes pull stalled on them), one old-style message, a batch
      // message with one bad event among two good ones, and a message whose source is bad.
      for (let b = 0; b < 30; b++) {
        await publisher.post(INGEST_EVENTS_PATH, { source: { ...source, host: `node-${b}`, node: `node-${b}` }, events: Array.from({ length: 50 }, (_, i) => alert(`e-${b}-${i}`, i)) });
      }
      await Promise.all(Array.from({ length: 3000 }, (_, b) => publisher.post(INGEST_EVENTS_PATH, { source: { ...source, host: `small-${b % 100}` }, events: [alert(`s-${b}`, b)] })));
      const js = jetstream(nc);
      await js.publish('gatehouse.events.batch-test', JSON.stringify({ source, event: alert('legacy-1', 1) }));
      await js.publish('gatehouse.events.batch-test', JSON.stringify({ source, events: [alert('mixed-1', 1), { id: 'bad', type: 'bogus', time: 'now' }, alert('mixed-2', 2)] }));
      await js.publish('gatehouse.events.batch-test', JSON.stringify({ source: { kind: 'robot' }, events: [alert('robot-1', 1)] }));

      consumerDone = busConsumerJob({ url: nats.url })(central.ctx, abort.signal, { log: quiet });
      const count = async () => Number((await central.db().selectFrom('events').select((e) => e.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
      await waitFor('4,503 events stored', async () => (await count()) === 4503 || undefined, 60_000);
      const metrics = await waitFor('consumer idle', async () => {
        const text = (await central.api('GET', '/metrics')).body as string;
        return metricValue(text, 'gatehouse_central_bus_consumer_ack_pending') === 0 && metricValue(text, 'gatehouse_central_bus_consumer_pending') === 0 && text;
      }, 30_000);
      assert.equal(metricValue(metrics, 'gatehouse_central_bus_events_total', 'outcome="stored"'), 4503);
      assert.equal(metricValue(metrics, 'gatehouse_central_bus_events_total', 'outcome="rejected"'), 2, 'the bad event and the robot message');
      const ids = new Set((await central.db().selectFrom('events').select('id').execute()).map((r) => r.id));
      for (const id of ['e-0-0', 'e-29-49', 's-0', 's-2999', 'legacy-1', 'mixed-1', 'mixed-2']) assert.ok(ids.has(id), id);
      assert.ok(!ids.has('robot-1') && !ids.has('bad'));
      const row = await central.db().selectFrom('events').select(['cluster', 'host']).where('id', '=', 'e-17-3').executeTakeFirstOrThrow();
      assert.deepEqual(row, { cluster: 'batch-test', host: 'node-17' }, 'each event keeps its own message\'s source');
    } finally {
      abort.abort();
      await consumerDone;
      await nc.close();
      await publisher.close();
      await central.close();
      await nats.stop();
    }
  });
}
