/**
 * applyIncidentChanges (a few upsert statements per correlation step, cut by body size) leaves
 * exactly the rows the per-incident insert-or-update left: over generated steps — new and
 * known incidents, the same incident twice in one step (the last wins), closures, merges away
 * (deletes, some re-created in the same step), titles over the column's 1,000 characters and
 * steps whose bodies need several statements — the table equals a model of the rows each step
 * should leave, heads apart from their timelines' rows (migration 0016). On both stores.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyIncidentChanges } from '../../src/central/store/incidents.js';
import { openStore } from '../../src/central/store/open.js';
import type { Incident, TimelineEntry } from '../../src/runtime/incidents/types.js';
import { storeTest } from '../helpers/central.js';
import { freshDatabase } from '../helpers/postgres.js';
import { rng } from '../helpers/random.js';

type Row = Record<string, unknown>;

function incident(r: () => number, id: string, k: number): Incident {
  const entries = Math.floor(r() ** 3 * 700);
  const timeline: TimelineEntry[] = Array.from({ length: entries }, (_, i) => ({
    time: new Date(Date.UTC(2026, 11, 7, 22, 0, i)).toISOString(), layer: 'runtime', kind: 'alert', ref: `${id}-${k}-${i}`,
    title: 'Terminal shell in container', severity: 'HIGH', host: `node-${i % 7}`, workload: `host:node-${i % 7}`, reason: i ? 'same workload' : 'opened', techniques: ['T1059'],
  }));
  const closed = r() < 0.2;
  return {
    id, state: closed ? 'closed' : 'open', severity: (['LOW', 'MEDIUM', 'HIGH', 'CRITICAL'] as const)[Math.floor(r() * 4)]!, stage: 'Execution',
    title: r() < 0.05 ? `long ${'x'.repeat(1200)}` : `Terminal shell in container in host:node-${k} (+${entries} related)`,
    tactics: [{ id: 'TA0002', name: 'Execution' }], techniques: [{ id: 'T1059', name: 'Command and Scripting Interpreter' }],
    hosts: [`node-${k % 7}`], workloads: [], layers: ['runtime'], firstSeen: '2026-12-07T22:00:00.000Z', lastSeen: new Date(Date.UTC(2026, 11, 7, 22, 0, k)).toISOString(),
    ...(closed ? { closedAt: '2026-12-07T23:00:00.000Z' } : {}), timeline, timelineDropped: Math.max(0, entries - 500), signals: entries + 1,
  };
}

storeTest('incident changes are stored as the per-incident insert or update stored them', async (dialect) => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-incidents-store-'));
  const pg = dialect === 'postgres' ? await freshDatabase() : undefined;
  const store = await openStore({ dataDir: dir, ...(pg ? { database: pg.url } : {}) });
  try {
    const r = rng(8);
    const model = new Map<string, Row>();
    const entries = new Map<string, string[]>();
    let bigSteps = 0;
    for (let step = 0; step < 30; step++) {
      // A turn for the event loop: the other store's test is being registered meanwhile (its PostgreSQL check times out after 5 s).
      await new Promise((res) => setImmediate(res));
      const now = new Date(Date.UTC(2026, 11, 7, 22, step)).toISOString();
      const ids = Array.from({ length: 1 + Math.floor(r() * 120) }, () => `inc-${Math.floor(r() * 150)}`);
      const updated = ids.map((id, k) => incident(r, id, step * 1000 + k));
      const removed = [...model.keys()].filter(() => r() < 0.05);
      const bodies = updated.reduce((n, i) => n + JSON.stringify(i).length, 0);
      if (bodies > 5 << 20) bigSteps++;
      await store.db.transaction().execute((trx) => applyIncidentChanges(trx, { updated, removed }, now));
      // What the per-incident path leaves: deletes first, then each updated incident's last state.
      for (const id of removed) {
        model.delete(id);
        entries.delete(id);
      }
      for (const i of updated) {
        entries.set(i.id, i.timeline.map((e) => JSON.stringify(e)));
        model.set(i.id, {
          id: i.id, state: i.state, severity: i.severity, stage: i.stage, title: i.title.slice(0, 1000), first_seen: i.firstSeen, last_seen: i.lastSeen,
          closed_at: i.closedAt ?? null, signals: i.signals, body: JSON.stringify({ ...i, timeline: [] }), updated_at: now,
        });
      }
      const rows = await store.db.selectFrom('incidents').selectAll().orderBy('id').execute();
      assert.deepEqual(rows.map((x) => ({ ...x, signals: Number(x.signals) })), [...model.values()].sort((a, b) => (String(a.id) < String(b.id) ? -1 : 1)), `step ${step}`);
      // The timelines apart (migration 0016), each in its order.
      const stored = new Map<string, string[]>();
      for (const e of await store.db.selectFrom('incident_timeline').select(['incident_id', 'entries']).orderBy('incident_id').orderBy('pos').execute()) {
        stored.set(e.incident_id, [...(stored.get(e.incident_id) ?? []), ...(JSON.parse(`[${e.entries}]`) as unknown[]).map((x) => JSON.stringify(x))]);
      }
      assert.deepEqual(stored, new Map([...entries].filter(([, t]) => t.length)), `step ${step}: timelines`);
    }
    assert.ok(bigSteps > 0, 'some steps need several statements');
  } finally {
    await store.close();
    await pg?.drop();
    rmSync(dir, { recursive: true, force: true });
  }
});
