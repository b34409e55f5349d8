/**
 * PostgreSQL restarts under a stream of events: Central (`gatehouse server --nats …
 * --database …`) cannot commit while the database is down, so it acks nothing, the bus
 * keeps the events, and once PostgreSQL is back Central reconnects and stores every event
 * JetStream acknowledged, once. The database is a private cluster of this test (initdb +
 * pg_ctl in a temp directory on a free port), never the PostgreSQL other tests share.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import pg from 'pg';
import { metricValue, natsSkip, privatePostgresSkip, readAcks, sleep, startCentralCli, startNats, startPrivatePostgres, startPublisher, tempDir, waitFor, type CentralProcess, type PrivatePostgres } from './helpers.js';

const skip = natsSkip() || privatePostgresSkip();

test('PostgreSQL restart mid-stream: Central reconnects and loses nothing the bus acknowledged', { skip, timeout: 300_000 }, async () => {
  let pgc: PrivatePostgres | undefined;
  const nats = await startNats();
  let central: CentralProcess | undefined;
  let publisher: ReturnType<typeof startPublisher> | undefined;
  const dir = tempDir('pgr');
  const ackFile = join(dir, 'acks');
  try {
    pgc = await startPrivatePostgres();
    central = await startCentralCli(['--database', pgc.url, '--nats', nats.url]);
    const count = async () => {
      const c = new pg.Client({ connectionString: pgc!.url });
      await c.connect();
      try {
        return new Set((await c.query<{ id: string }>("SELECT id FROM events WHERE id LIKE 'pub:%'")).rows.map((r) => r.id));
      } finally {
        await c.end();
      }
    };
    publisher = startPublisher({ nats: nats.url, spoolDir: join(dir, 'spool'), ackFile, tag: 'pg', rate: 200, count: 2400 });
    await waitFor('events stored before the restart', async () => (await count()).size >= 300, 60_000);

    // Immediate stop: connections cut, no checkpoint (as a crash); the bus goes on acknowledging.
    pgc.stop('immediate');
    const ackedWhileDown = readAcks(ackFile).acked.size;
    await sleep(5000);
    assert.ok(readAcks(ackFile).acked.size > ackedWhileDown, 'the bus acknowledged events while PostgreSQL was down');
    pgc.start();

    assert.equal(await publisher.exited, 0, publisher.output().slice(-2000));
    const { acked } = readAcks(ackFile);
    assert.equal(acked.size, 2400);
    const stored = await waitFor('every acknowledged event stored after the restart', async () => {
      const ids = await count();
      return [...acked].every((id) => ids.has(id)) && ids;
    }, 120_000);
    assert.equal(stored.size, 2400, 'nothing else, nothing twice');
    // /metrics needs the store (tokens), so the failures are read once it is back.
    const text = (await central.get('/metrics')).text;
    assert.ok(metricValue(text, 'gatehouse_central_bus_batches_total', 'outcome="failed"') >= 1, `Central could not commit while PostgreSQL was down, and counted it:\n${central.output().slice(-3000)}`);
    assert.match(central.output(), /event bus: cannot store a batch; it will be redelivered/);
    assert.equal(metricValue(text, 'gatehouse_central_bus_connected'), 1);
  } finally {
    await publisher?.kill9();
    await central?.stop();
    await nats.stop();
    pgc?.destroy();
  }
});
