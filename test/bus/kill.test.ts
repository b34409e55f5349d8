/**
 * kill -9 in the middle of a stream, with real parts: a nats-server (JetStream, file store),
 * two `gatehouse server --nats … --database postgres://…` processes sharing one PostgreSQL
 * database and one durable consumer, and the sensor's publishing path in a child process
 * (test/bus/publisher-child.ts: the real disk spool, EventShipper and BusPublisher, fed with
 * generated events instead of bpftrace: a sensor with bpftrace is too heavy to kill and
 * restart here). The publisher, then nats-server, then one Central are killed with SIGKILL
 * while events flow. Afterwards every event JetStream acknowledged is in the store exactly
 * once, nothing else is, and a duplicate is counted.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { jetstream } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import pg from 'pg';
import { freshDatabase, postgresSkip } from '../helpers/postgres.js';
import { metricValue, natsSkip, readAcks, sleep, startCentralCli, startNats, startPublisher, tempDir, waitFor, type CentralProcess } from './helpers.js';

const skip = natsSkip() || (await postgresSkip());

test('kill -9 of the publisher, of nats-server and of a Central mid-stream: every acknowledged event stored exactly once', { skip, timeout: 420_000 }, async () => {
  const db = await freshDatabase();
  const nats = await startNats();
  const client = new pg.Client({ connectionString: db.url });
  const centrals: CentralProcess[] = [];
  const dir = tempDir('kill');
  const spoolDir = join(dir, 'spool');
  const ackFile = join(dir, 'acks');
  const publishers: ReturnType<typeof startPublisher>[] = [];
  try {
    centrals.push(await startCentralCli(['--database', db.url, '--nats', nats.url]));
    centrals.push(await startCentralCli(['--database', db.url, '--nats', nats.url]));
    const [a, b] = centrals as [CentralProcess, CentralProcess];
    await client.connect();
    const storedIds = async () => new Set((await client.query<{ id: string }>("SELECT id FROM events WHERE id LIKE 'pub:%'")).rows.map((r) => r.id));
    const acked = (tag?: string) => [...readAcks(ackFile).acked].filter((id) => !tag || id.startsWith(`pub:${tag}:`)).length;

    // 1. The publisher dies (kill -9) while it sends: what it had spooled is sent by its next start.
    const first = startPublisher({ nats: nats.url, spoolDir, ackFile, tag: 'r1', rate: 300, count: 1_000_000 });
    publishers.push(first);
    await waitFor('the first publisher acknowledged', () => acked('r1') >= 300, 60_000);
    await first.kill9();
    const second = startPublisher({ nats: nats.url, spoolDir, ackFile, tag: 'r2', rate: 250, count: 3000 });
    publishers.push(second);
    await waitFor('the second publisher under way', () => acked('r2') >= 300, 60_000);

    // 2. nats-server dies (kill -9) and comes back on the same store: the spool holds events meanwhile.
    await nats.kill9();
    await sleep(3000);
    await nats.restart();
    const beforeCentralKill = acked('r2');
    await waitFor('events flow again after NATS restarted', () => acked('r2') >= beforeCentralKill + 300, 60_000);

    // 3. One Central dies (kill -9) with batches in hand: the other gets them (ack wait 30 s) and goes on.
    const storedBefore = (await storedIds()).size;
    await a.kill9();
    const exit = await second.exited;
    assert.equal(exit, 0, `the second publisher drained its spool and exited:\n${second.output().slice(-2000)}`);

    const { acked: ackedIds, duplicates: publisherDuplicates } = readAcks(ackFile);
    assert.ok(ackedIds.size >= 3300, `acked ${ackedIds.size}`);
    const stored = await waitFor('every acknowledged event in the store', async () => {
      const ids = await storedIds();
      return [...ackedIds].every((id) => ids.has(id)) && ids;
    }, 120_000).catch(async (e: Error) => {
      const ids = await storedIds();
      const missing = [...ackedIds].filter((id) => !ids.has(id));
      throw new Error(`${e.message}: ${missing.length} missing, e.g. ${missing.slice(0, 5).join(', ')}`);
    });
    assert.ok(stored.size > storedBefore, 'the surviving Central kept storing after the other was killed');
    for (const id of stored) {
      const m = /^pub:(r1|r2):(\d+)$/.exec(id);
      assert.ok(m, `unexpected id ${id}`);
      if (m[1] === 'r2') assert.ok(Number(m[2]) < 3000, id);
    }
    // Exactly once: the id is the primary key, so a second row of an id cannot exist; and all r2 events are there.
    const counts = await client.query<{ n: string; d: string }>("SELECT count(*) AS n, count(DISTINCT id) AS d FROM events WHERE id LIKE 'pub:%'");
    assert.equal(counts.rows[0]!.n, counts.rows[0]!.d);
    assert.equal([...stored].filter((id) => id.startsWith('pub:r2:')).length, 3000, 'every event of the publisher that finished');

    // A copy of a stored event under another message id (a re-send after JetStream's dedup window) is dropped by id and counted.
    const nc = await connect({ servers: nats.url });
    try {
      const id = [...ackedIds][0]!;
      await jetstream(nc).publish('gatehouse.events.bus-test', JSON.stringify({ source: { kind: 'sensor', cluster: 'bus-test', host: 'bus-test-host' }, event: { id, type: 'alert', time: new Date().toISOString() } }), { msgID: `resend-${id}` });
    } finally {
      await nc.close();
    }
    const metrics = await waitFor('the duplicate counted and the backlog empty', async () => {
      const text = (await b.get('/metrics')).text;
      return metricValue(text, 'gatehouse_central_bus_events_total', 'outcome="duplicate"') >= 1 && metricValue(text, 'gatehouse_central_bus_consumer_pending') === 0 && text;
    }, 60_000);
    assert.equal((await storedIds()).size, stored.size, 'the re-sent event was not stored again');
    assert.ok(metricValue(metrics, 'gatehouse_central_bus_events_total', 'outcome="stored"') > 0);
    process.stderr.write(`# kill test: ${ackedIds.size} acknowledged, ${stored.size} stored; publisher-side duplicates (JetStream dedup) ${publisherDuplicates}; redeliveries seen by the surviving Central ${metricValue(metrics, 'gatehouse_central_bus_redeliveries_total')}; store-side duplicates ${metricValue(metrics, 'gatehouse_central_bus_events_total', 'outcome="duplicate"')}\n`);
  } finally {
    for (const p of publishers) await p.kill9();
    for (const c of centrals) await c.stop();
    await client.end().catch(() => undefined);
    await nats.stop();
    await db.drop();
  }
});
