/**
 * The incident store with timelines apart (migration 0016: heads rewritten only when changed,
 * entries appended) against the store before it (incidents-store-reference.ts: whole bodies
 * upserted at every write), in one store, on both dialects: generated inputs through the real
 * correlator in batches (the service's path), the clock moving so incidents close idle or are
 * evicted, merges, small and large timeline caps, out-of-order entries that move later ones;
 * some writes by a writer that forgets what it stored (a failed transaction's clear(), another
 * process). After every step every read the API makes — each list page under each filter, each
 * incident by id — must give the same JSON, key order included; and after the stale-close at
 * start.
 */
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyIncidentChanges, closeStaleIncidents, getIncident, listIncidents, StoredIncidents, workloadPattern, type IncidentQuery } from '../../src/central/store/incidents.js';
import { openStore, type Store } from '../../src/central/store/open.js';
import { IncidentCorrelator, type CorrelatorOptions } from '../../src/runtime/incidents/index.js';
import { storeTest } from '../helpers/central.js';
import { freshDatabase } from '../helpers/postgres.js';
import { rng } from '../helpers/random.js';
import { T0, inputs } from './generated-inputs.js';
import * as ref from './incidents-store-reference.js';

type Filter = Omit<IncidentQuery, 'limit' | 'cursor' | 'dialect'>;

const FILTERS: Filter[] = [
  {}, { state: 'open' }, { state: 'closed' }, { severities: ['HIGH', 'CRITICAL'] }, { host: 'node-1' }, { tacticId: 'TA0002' },
  { workload: 'k8s:c1/shop/Deployment/app-3' }, { workload: 'k8s:c1/shop/Deployment/app-1/app' },
  // The deployment filter: its pattern over the whole body once, over the head or an entry now (flows' entries name workloads the head does not).
  ...[0, 2, 5].map((m) => ({ workloadLike: workloadPattern({ sourceKind: 'cluster', sourceName: 'c1', kind: 'Deployment', namespace: 'shop', name: `app-${m}` }) })),
];

/** Every page of every filter and every incident by id, as JSON. */
async function reads(store: Store, ids: string[], list: typeof listIncidents, get: typeof getIncident): Promise<string[]> {
  const out: string[] = [];
  for (const f of FILTERS) {
    let cursor: IncidentQuery['cursor'];
    for (let page = 0; ; page++) {
      const { items, more } = await list(store.db, { ...f, limit: 7, ...(cursor ? { cursor } : {}), dialect: store.dialect });
      out.push(`${JSON.stringify(f)} page ${page}: ${JSON.stringify(items)}`);
      const last = items[items.length - 1];
      if (!more || !last) break;
      cursor = { k: last.lastSeen, id: last.id };
    }
  }
  for (const id of ids) out.push(`${id}: ${JSON.stringify((await get(store.db, id)) ?? null)}`);
  return out;
}

interface Case { seed: number; n: number; spanMin: number; pools: number; chunk: number; options: Omit<CorrelatorOptions, 'now'> }

async function run(store: Store, c: Case): Promise<{ steps: number; appended: number; cut: number }> {
  let clock = T0;
  const eng = new IncidentCorrelator({ ...c.options, now: () => new Date(clock) });
  const all = inputs(c.seed, c.n, c.spanMin, c.pools);
  const r = rng(c.seed + 77);
  let stored = new StoredIncidents();
  const ids = new Set<string>();
  let steps = 0;
  let appended = 0;
  let cut = 0;
  const write = async (changes: ReturnType<IncidentCorrelator['sweep']>, now: string) => {
    for (const inc of changes.updated) {
      ids.add(inc.id);
      // What the step makes the writer do: append past the stored prefix, or cut and write again from where it differs.
      const before = stored.timelines.get(inc.id);
      if (before) {
        let k = 0;
        while (k < before.length && before[k] === inc.timeline[k]) k++;
        if (k < before.length) cut++;
        else if (inc.timeline.length > k) appended++;
      }
    }
    for (const id of changes.removed) ids.add(id);
    await store.db.transaction().execute(async (trx) => {
      await applyIncidentChanges(trx, changes, now, stored);
      await ref.applyIncidentChanges(trx, changes, now);
    });
  };
  for (let at = 0; at < all.length; at += c.chunk) {
    // A turn for the event loop: SQLite's statements are synchronous, and the other store's test is being registered meanwhile (its PostgreSQL check times out after 5 s).
    await new Promise((res) => setImmediate(res));
    clock = T0 + Math.floor((at / all.length) * (c.spanMin + 40) * 60_000);
    const b = eng.batch();
    for (const i of all.slice(at, at + c.chunk)) b.ingest(i);
    // Now and then the writer forgets (a failed write clears it; another Central writes whole).
    if (r() < 0.1) stored = r() < 0.5 ? new StoredIncidents() : (stored.clear(), stored);
    const now = new Date(clock).toISOString();
    await write(b.changes(), now);
    if (r() < 0.2) await write(eng.sweep(), now);
    steps++;
    if (steps % 4 === 0 || at + c.chunk >= all.length) {
      const [got, want] = [await reads(store, [...ids], listIncidents, getIncident), await reads(store, [...ids], ref.listIncidents, ref.getIncident)];
      for (let k = 0; k < want.length; k++) assert.equal(got[k], want[k], `${JSON.stringify(c)}, step ${steps}`);
      assert.equal(got.length, want.length);
    }
  }
  // A restart: incidents left open are closed, heads only.
  const end = new Date(clock + 3_600_000).toISOString();
  assert.equal(await closeStaleIncidents(store.db, end), await ref.closeStaleIncidents(store.db, end));
  assert.deepEqual(await reads(store, [...ids], listIncidents, getIncident), await reads(store, [...ids], ref.listIncidents, ref.getIncident));
  return { steps, appended, cut };
}

storeTest('incidents stored as heads and appended entries read back as whole bodies did', async (dialect) => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-incidents-store-diff-'));
  const pg = dialect === 'postgres' ? await freshDatabase() : undefined;
  const store = await openStore({ dataDir: dir, ...(pg ? { database: pg.url } : {}) });
  try {
    await ref.createReferenceTable(store.db);
    let appended = 0;
    let cut = 0;
    for (let seed = 1; seed <= 6; seed++) {
      // Each case on empty tables: ids repeat across seeds.
      await store.db.deleteFrom('incident_timeline').execute();
      await store.db.deleteFrom('incidents').execute();
      await sql`delete from ref_incidents`.execute(store.db);
      const got = await run(store, {
        seed, n: 900, spanMin: [20, 60, 240][seed % 3]!, pools: [4, 12, 40][seed % 3]!, chunk: 30 + seed * 11,
        options: { maxOpen: [3, 20, 1000][seed % 3]!, maxTimeline: [3, 40, 500][Math.floor(seed / 2) % 3]!, maxPending: [5, 60, 10_000][seed % 3]!, ...(seed % 4 === 0 ? { windowMs: 2 * 60_000, idleMs: 5 * 60_000 } : {}) },
      });
      appended += got.appended;
      cut += got.cut;
    }
    // The cases reach both paths of a write.
    assert.ok(appended > 50, `writes that appended: ${appended}`);
    assert.ok(cut > 5, `writes that cut and wrote again: ${cut}`);
  } finally {
    await store.close();
    await pg?.drop();
    rmSync(dir, { recursive: true, force: true });
  }
});
