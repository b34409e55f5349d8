/**
 * Incident timelines apart from the incident's head (issue 21): under a bus stream every open
 * incident gains entries between two writes, and storing the whole incident as one body made
 * each write rewrite every open incident's timeline (up to maxTimeline entries, ~900 incidents
 * under bench:scale). `incident_timeline` holds the timeline in runs — a row per write that added
 * entries, keyed by its first entry's position, its entries' JSON comma-separated —; the
 * incident's `body` keeps the rest with `"timeline":[]` in its place, so the key order of the
 * assembled JSON is the old body's (store/incidents.ts). Existing bodies are split here; down
 * puts the entries back into their bodies.
 */
import type { Kysely } from 'kysely';

const PAGE = 200;

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createTable('incident_timeline')
    .addColumn('incident_id', 'text', (c) => c.notNull())
    .addColumn('pos', 'integer', (c) => c.notNull())
    .addColumn('entries', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('incident_timeline_pk', ['incident_id', 'pos'])
    .execute();
  let after = '';
  for (;;) {
    const rows: Array<{ id: string; body: string }> = await db.selectFrom('incidents').select(['id', 'body']).where('id', '>', after).orderBy('id').limit(PAGE).execute();
    if (!rows.length) break;
    for (const r of rows) {
      const inc = JSON.parse(r.body) as { timeline?: unknown[] };
      const entries = inc.timeline ?? [];
      if (entries.length) await db.insertInto('incident_timeline').values({ incident_id: r.id, pos: 0, entries: entries.map((e) => JSON.stringify(e)).join(',') }).execute();
      if (inc.timeline) await db.updateTable('incidents').set({ body: JSON.stringify({ ...inc, timeline: [] }) }).where('id', '=', r.id).execute();
    }
    after = rows[rows.length - 1]!.id;
  }
}

export async function down(db: Kysely<any>): Promise<void> {
  let after = '';
  for (;;) {
    const rows: Array<{ id: string; body: string }> = await db.selectFrom('incidents').select(['id', 'body']).where('id', '>', after).orderBy('id').limit(PAGE).execute();
    if (!rows.length) break;
    for (const r of rows) {
      const runs: Array<{ entries: string }> = await db.selectFrom('incident_timeline').select('entries').where('incident_id', '=', r.id).orderBy('pos').execute();
      const inc = JSON.parse(r.body) as { timeline?: unknown[] };
      inc.timeline = JSON.parse(`[${runs.map((e) => e.entries).join(',')}]`) as unknown[];
      await db.updateTable('incidents').set({ body: JSON.stringify(inc) }).where('id', '=', r.id).execute();
    }
    after = rows[rows.length - 1]!.id;
  }
  await db.schema.dropTable('incident_timeline').execute();
}
