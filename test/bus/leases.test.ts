/**
 * Leased periodic work on a real PostgreSQL:
 * - two instances compete for one lease: the job never runs on both at once, also when the
 *   holder loses the database (it stops its job before its lease can be taken over);
 * - two `gatehouse server` processes on one database: the first holds every periodic job,
 *   and when it is killed (kill -9) the second takes all of them over within 30 s.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import type { CentralContext } from '../../src/central/context.js';
import { LeaseManager, leased } from '../../src/central/leases.js';
import { openStore } from '../../src/central/store/open.js';
import { freshDatabase, postgresSkip } from '../helpers/postgres.js';
import { sleep, startCentralCli, waitFor, type CentralProcess } from './helpers.js';

const skip = await postgresSkip();
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };
/** The periodic jobs of CENTRAL_JOBS that are leased. */
const LEASED = ['exception-expiry', 'in-use-scan', 'live-inventory', 'registry-hygiene', 'vuln-db-rematch'];

test('a lease: one holder at a time, a holder that loses the store stops before another takes over', { skip, timeout: 120_000 }, async () => {
  const db = await freshDatabase();
  const stores = [await openStore({ database: db.url }), await openStore({ database: db.url })];
  const abort = new AbortController();
  try {
    const managers = stores.map((s, i) => new LeaseManager(s.db, `instance-${i}`));
    const runs: { holder: number; start: number; end?: number }[] = [];
    let active = 0;
    let maxActive = 0;
    const job = (holder: number) => async (_ctx: CentralContext, signal: AbortSignal) => {
      const run: { holder: number; start: number; end?: number } = { holder, start: performance.now() };
      runs.push(run);
      maxActive = Math.max(maxActive, ++active);
      await new Promise<void>((r) => signal.addEventListener('abort', () => r(), { once: true }));
      active--;
      run.end = performance.now();
    };
    // Short, but with room for a loaded CI machine: three renewals per TTL.
    const timings = { ttlMs: 3000, renewMs: 800, retryMs: 300, marginMs: 600 };
    const loops = stores.map((s, i) => leased('test-job', job(i), { timings, manager: () => managers[i]! })({ store: s, db: s.db } as unknown as CentralContext, abort.signal, { log: quiet }));

    await waitFor('one instance runs the job', () => runs.length === 1);
    await sleep(4000); // several renewals: no flapping between the two
    assert.equal(runs.length, 1, 'the holder kept its lease through its renewals');
    const first = runs[0]!.holder;
    const [row] = await managers[0]!.list();
    assert.equal(row!.holder, `instance-${first}`);

    // The holder loses its database (its pool is gone): its renewals fail.
    await stores[first]!.close();
    await waitFor('the other instance takes over', () => runs.length === 2, 20_000);
    const [lost, taken] = runs as [typeof runs[0], typeof runs[0]];
    assert.equal(taken.holder, 1 - first);
    assert.ok(lost.end !== undefined && lost.end <= taken.start, 'the old holder stopped its job before the new one started it');
    assert.equal(maxActive, 1, 'never two runs at once');
    const [after] = await managers[1 - first]!.list();
    assert.equal(after!.holder, `instance-${1 - first}`);
    assert.equal(after!.epoch, row!.epoch + 1, 'the epoch (fencing token) moved on with the holder');
    abort.abort();
    await Promise.all(loops);
    assert.deepEqual(await managers[1 - first]!.list(), [], 'a graceful stop gives the lease back');
  } finally {
    abort.abort();
    for (const s of stores) await s.close().catch(() => undefined);
    await db.drop();
  }
});

test('two Centrals on one PostgreSQL: the second takes over the leased jobs of the first within 30 s after kill -9', { skip, timeout: 240_000 }, async () => {
  const db = await freshDatabase();
  const client = new pg.Client({ connectionString: db.url });
  const centrals: CentralProcess[] = [];
  try {
    const a = await startCentralCli(['--database', db.url]);
    centrals.push(a);
    await client.connect();
    const leases = async () => (await client.query<{ name: string; holder: string; epoch: string }>('SELECT name, holder, epoch FROM leases ORDER BY name')).rows;
    const heldBy = async (pid: number) => {
      const rows = await leases();
      return rows.length === LEASED.length && rows.every((r) => r.holder.split('/')[1] === String(pid)) && rows;
    };
    const held = await waitFor('the first Central holds every periodic job', () => heldBy(a.pid), 60_000);
    assert.deepEqual(held.map((r) => r.name), LEASED);

    const b = await startCentralCli(['--database', db.url]);
    centrals.push(b);
    await sleep(6000); // more than one retry period of the second Central
    assert.ok(await heldBy(a.pid), 'a running holder keeps its jobs: none runs on the second Central too');

    await a.kill9();
    const killedAt = Date.now();
    await waitFor('the second Central holds every periodic job', () => heldBy(b.pid), 45_000);
    const takeover = Date.now() - killedAt;
    process.stderr.write(`# lease takeover after kill -9: ${takeover} ms\n`);
    assert.ok(takeover <= 30_000, `taken over in ${takeover} ms`);
    await waitFor('the second Central logs the jobs it took over', () => LEASED.every((name) => new RegExp(`"job":"${name}".*lease acquired`).test(b.output())), 10_000);
    for (const r of await leases()) assert.equal(Number(r.epoch), 2, `${r.name}: one change of holder`);
  } finally {
    for (const c of centrals) await c.stop();
    await client.end().catch(() => undefined);
    await db.drop();
  }
});
