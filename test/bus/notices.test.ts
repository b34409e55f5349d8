/**
 * Change notices cross Central instances through NATS: a registry watch added through the
 * instance that does not hold the registry-hygiene lease is audited at once by the one that
 * does (without the notice, the holder would wait for its hourly tick).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import { freshDatabase, postgresSkip } from '../helpers/postgres.js';
import { natsSkip, startCentralCli, startNats, waitFor, type CentralProcess } from './helpers.js';

const skip = natsSkip() || (await postgresSkip());

test('a change made through one Central reaches the leased job on another', { skip, timeout: 240_000 }, async () => {
  const db = await freshDatabase();
  const nats = await startNats();
  const client = new pg.Client({ connectionString: db.url });
  const centrals: CentralProcess[] = [];
  try {
    const a = await startCentralCli(['--database', db.url, '--nats', nats.url]);
    centrals.push(a);
    await client.connect();
    await waitFor('the first Central holds registry-hygiene', async () => {
      const r = await client.query<{ holder: string }>("SELECT holder FROM leases WHERE name = 'registry-hygiene'");
      return r.rows[0]?.holder.split('/')[1] === String(a.pid);
    }, 60_000);
    const b = await startCentralCli(['--database', db.url, '--nats', nats.url]);
    centrals.push(b);
    await waitFor('the second Central listens for notices', () => /event bus: connected/.test(b.output()), 30_000);
    await new Promise((r) => setTimeout(r, 1000));

    // Nothing listens on port 1: the audit fails fast, and records that it ran.
    const added = await b.post('/api/v1/registry-watches', { repository: '127.0.0.1:1/team/app' });
    assert.ok(added.status === 200 || added.status === 201, added.text);
    const watch = await waitFor('the holder audited the new watch', async () => {
      const items = JSON.parse((await a.get('/api/v1/registry-watches')).text).items as { lastRunAt: string | null; lastError: string | null }[];
      return items[0]?.lastRunAt ? items[0] : undefined;
    }, 30_000);
    assert.ok(watch.lastError, 'the unreachable registry is recorded as the audit error');
    assert.match(a.output(), /registry hygiene: audit failed/);
    assert.doesNotMatch(b.output(), /registry hygiene: audit failed/, 'the instance without the lease did not audit');
  } finally {
    for (const c of centrals) await c.stop();
    await client.end().catch(() => undefined);
    await nats.stop();
    await db.drop();
  }
});
