/**
 * The incident store as it was before migration 0016 (src/central/store/incidents.ts at
 * 782c069, frozen): each incident one row whose body is the whole incident, upserted whole at
 * every write. Its table is `ref_incidents` (the columns of migration 0007, created by
 * createReferenceTable), so it runs beside the product's in one store for the differential test.
 */
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Incident, IncidentChanges } from '../../src/runtime/incidents/types.js';
import { chunks, fromJson, toJson } from '../../src/central/store/json.js';
import type { IncidentsTable } from '../../src/central/store/schema.js';
import type { IncidentQuery } from '../../src/central/store/incidents.js';

type Db = Kysely<any> | Transaction<any>;

function row(i: Incident, now: string): IncidentsTable {
  return {
    id: i.id, state: i.state, severity: i.severity, stage: i.stage, title: i.title.slice(0, 1000), first_seen: i.firstSeen, last_seen: i.lastSeen,
    closed_at: i.closedAt ?? null, signals: i.signals, body: toJson(i), updated_at: now,
  };
}

/** Body text per upsert statement: a bus fetch changes up to maxOpen incidents of up to maxTimeline entries each (~100 KiB). */
const STATEMENT_BYTES = 4 << 20;
/** Rows per statement: 11 parameters each, under SQLite's 32,766. */
const STATEMENT_ROWS = 300;

/**
 * Stores what one correlation step changed: deletes those merged away, upserts the updated
 * incidents — a few statements per step, not one per incident (a bus fetch changes ~900 of
 * them at 15,000 deployments: their statements were most of the write's CPU), cut so that no
 * statement carries much more than STATEMENT_BYTES of bodies or more than STATEMENT_ROWS rows.
 */
export async function applyIncidentChanges(db: Db, changes: IncidentChanges, now: string): Promise<void> {
  for (const part of chunks(changes.removed, 300)) await db.deleteFrom('ref_incidents').where('id', 'in', part).execute();
  // The last state of an incident in one step wins (it may be updated, then closed).
  const latest = new Map(changes.updated.map((i) => [i.id, i]));
  let part: IncidentsTable[] = [];
  let bytes = 0;
  const flush = async () => {
    // Multi-row VALUES on both stores, each body its own text parameter: as one JSON parameter
    // (jsonRecordset) every body's quotes were escaped and parsed again (PostgreSQL CPU per
    // event 0.050 against 0.029 ms in bench/bus-cpu-incidents.bench.ts).
    await db.insertInto('ref_incidents').values(part).onConflict((oc) => oc.column('id').doUpdateSet((eb) => ({
      state: eb.ref('excluded.state'), severity: eb.ref('excluded.severity'), stage: eb.ref('excluded.stage'), title: eb.ref('excluded.title'),
      first_seen: eb.ref('excluded.first_seen'), last_seen: eb.ref('excluded.last_seen'), closed_at: eb.ref('excluded.closed_at'),
      signals: eb.ref('excluded.signals'), body: eb.ref('excluded.body'), updated_at: eb.ref('excluded.updated_at'),
    }))).execute();
    part = [];
    bytes = 0;
  };
  for (const inc of latest.values()) {
    const r = row(inc, now);
    part.push(r);
    bytes += r.body.length;
    if (bytes >= STATEMENT_BYTES || part.length >= STATEMENT_ROWS) await flush();
  }
  if (part.length) await flush();
}

/** `\`-escaped for LIKE … ESCAPE '\'. */
const likeText = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);

/*
 * Membership tests over the body's arrays. The body is JSON text on both stores, so each
 * dialect reads it with its own JSON functions; exact element matches, never a substring of
 * the whole body (a host name also appears in titles and timeline entries).
 */
function hasHost(dialect: 'sqlite' | 'postgres', host: string) {
  return dialect === 'postgres'
    ? sql<boolean>`(body::jsonb -> 'hosts') @> jsonb_build_array(${host}::text)`
    : sql<boolean>`exists (select 1 from json_each(ref_incidents.body, '$.hosts') where value = ${host})`;
}

function hasTactic(dialect: 'sqlite' | 'postgres', id: string) {
  return dialect === 'postgres'
    ? sql<boolean>`(body::jsonb -> 'tactics') @> jsonb_build_array(jsonb_build_object('id', ${id}::text))`
    : sql<boolean>`exists (select 1 from json_each(ref_incidents.body, '$.tactics') where json_extract(value, '$.id') = ${id})`;
}

function hasWorkload(dialect: 'sqlite' | 'postgres', workload: string) {
  const under = `${likeText(workload.replace(/\/+$/, ''))}/%`;
  return dialect === 'postgres'
    ? sql<boolean>`exists (select 1 from jsonb_array_elements_text(body::jsonb -> 'workloads') as w(v) where w.v = ${workload} or w.v like ${under} escape '\\')`
    : sql<boolean>`exists (select 1 from json_each(ref_incidents.body, '$.workloads') where value = ${workload} or value like ${under} escape '\\')`;
}

/** Newest activity first (last_seen desc, id desc); one extra row tells whether a next page exists. */
export async function listIncidents(db: Db, q: IncidentQuery): Promise<{ items: Incident[]; more: boolean }> {
  let query = db.selectFrom('ref_incidents').select(['id', 'body', 'last_seen']);
  if (q.state) query = query.where('state', '=', q.state);
  if (q.severities) query = query.where('severity', 'in', q.severities);
  if (q.workloadLike) query = query.where(sql<boolean>`body like ${q.workloadLike} escape '\\'`);
  const dialect = q.dialect ?? 'sqlite';
  if (q.host) query = query.where(hasHost(dialect, q.host));
  if (q.workload) query = query.where(hasWorkload(dialect, q.workload));
  if (q.tacticId) query = query.where(hasTactic(dialect, q.tacticId));
  if (q.cursor) query = query.where(sql<boolean>`(last_seen < ${q.cursor.k} or (last_seen = ${q.cursor.k} and id < ${q.cursor.id}))`);
  const rows = await query.orderBy('last_seen', 'desc').orderBy('id', 'desc').limit(q.limit + 1).execute();
  return { items: rows.slice(0, q.limit).map((r) => fromJson<Incident>(r.body, {} as Incident)), more: rows.length > q.limit };
}

export async function getIncident(db: Db, id: string): Promise<Incident | undefined> {
  const r = await db.selectFrom('ref_incidents').select('body').where('id', '=', id).executeTakeFirst();
  return r ? fromJson<Incident>(r.body, {} as Incident) : undefined;
}

/** Incidents left open by a previous run: the correlator's memory is gone, so they close at start. */
export async function closeStaleIncidents(db: Db, now: string): Promise<number> {
  const rows = await db.selectFrom('ref_incidents').select(['id', 'body']).where('state', '=', 'open').execute();
  for (const r of rows) {
    const inc = { ...fromJson<Incident>(r.body, {} as Incident), state: 'closed' as const, closedAt: now };
    await db.updateTable('ref_incidents').set({ state: 'closed', closed_at: now, body: toJson(inc), updated_at: now }).where('id', '=', r.id).execute();
  }
  return rows.length;
}

/** The old `incidents` table (migration 0007) under the name ref_incidents. */
export async function createReferenceTable(db: Db): Promise<void> {
  await db.schema.createTable('ref_incidents')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('severity', 'text', (c) => c.notNull())
    .addColumn('stage', 'text', (c) => c.notNull())
    .addColumn('title', 'text', (c) => c.notNull())
    .addColumn('first_seen', 'text', (c) => c.notNull())
    .addColumn('last_seen', 'text', (c) => c.notNull())
    .addColumn('closed_at', 'text')
    .addColumn('signals', 'integer', (c) => c.notNull())
    .addColumn('body', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
}
