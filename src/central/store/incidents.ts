/** Correlated incidents: the correlator's changes applied in one transaction; paged reads. */
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Incident, IncidentChanges } from '../../runtime/incidents/types.js';
import { chunks, fromJson, toJson } from './json.js';
import type { Database, IncidentsTable } from './schema.js';

type Db = Kysely<Database> | Transaction<Database>;

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
  for (const part of chunks(changes.removed, 300)) await db.deleteFrom('incidents').where('id', 'in', part).execute();
  // The last state of an incident in one step wins (it may be updated, then closed).
  const latest = new Map(changes.updated.map((i) => [i.id, i]));
  let part: IncidentsTable[] = [];
  let bytes = 0;
  const flush = async () => {
    // Multi-row VALUES on both stores, each body its own text parameter: as one JSON parameter
    // (jsonRecordset) every body's quotes were escaped and parsed again (PostgreSQL CPU per
    // event 0.050 against 0.029 ms in bench/bus-cpu-incidents.bench.ts).
    await db.insertInto('incidents').values(part).onConflict((oc) => oc.column('id').doUpdateSet((eb) => ({
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

export interface IncidentQuery {
  limit: number;
  cursor?: { k: string; id: string };
  severities?: string[];
  state?: 'open' | 'closed';
  /** Only incidents that involve this workload: a LIKE pattern over the stored body (workloadPattern). */
  workloadLike?: string;
  /** Only incidents with this host among their hosts (exact). */
  host?: string;
  /** Only incidents with a workload identity equal to this one or under it (`k8s:c/ns/Kind/name` matches its containers). */
  workload?: string;
  /** Only incidents that reached this ATT&CK tactic (its id, e.g. TA0002). */
  tacticId?: string;
  /** The JSON functions differ: SQLite's json_each, PostgreSQL's jsonb. */
  dialect?: 'sqlite' | 'postgres';
}

/** `\`-escaped for LIKE … ESCAPE '\'. */
const likeText = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);

/**
 * The LIKE pattern that finds a Central deployment among an incident's workloads (their ids are
 * src/runtime/baseline/identity.ts's: `k8s:CLUSTER/NS/KIND/NAME/CONTAINER`, and
 * `host:HOST/IMAGE/CONTAINER` for a plain host's container).
 */
export function workloadPattern(d: { sourceKind: string; sourceName: string; kind: string; namespace: string; name: string }): string {
  return d.sourceKind === 'cluster'
    ? `%"k8s:${likeText(`${d.sourceName}/${d.namespace}/${d.kind}/${d.name}/`)}%`
    : `%"host:${likeText(`${d.sourceName}/`)}%/${likeText(d.name)}"%`;
}

/*
 * Membership tests over the body's arrays. The body is JSON text on both stores, so each
 * dialect reads it with its own JSON functions; exact element matches, never a substring of
 * the whole body (a host name also appears in titles and timeline entries).
 */
function hasHost(dialect: 'sqlite' | 'postgres', host: string) {
  return dialect === 'postgres'
    ? sql<boolean>`(body::jsonb -> 'hosts') @> jsonb_build_array(${host}::text)`
    : sql<boolean>`exists (select 1 from json_each(incidents.body, '$.hosts') where value = ${host})`;
}

function hasTactic(dialect: 'sqlite' | 'postgres', id: string) {
  return dialect === 'postgres'
    ? sql<boolean>`(body::jsonb -> 'tactics') @> jsonb_build_array(jsonb_build_object('id', ${id}::text))`
    : sql<boolean>`exists (select 1 from json_each(incidents.body, '$.tactics') where json_extract(value, '$.id') = ${id})`;
}

function hasWorkload(dialect: 'sqlite' | 'postgres', workload: string) {
  const under = `${likeText(workload.replace(/\/+$/, ''))}/%`;
  return dialect === 'postgres'
    ? sql<boolean>`exists (select 1 from jsonb_array_elements_text(body::jsonb -> 'workloads') as w(v) where w.v = ${workload} or w.v like ${under} escape '\\')`
    : sql<boolean>`exists (select 1 from json_each(incidents.body, '$.workloads') where value = ${workload} or value like ${under} escape '\\')`;
}

/** Newest activity first (last_seen desc, id desc); one extra row tells whether a next page exists. */
export async function listIncidents(db: Db, q: IncidentQuery): Promise<{ items: Incident[]; more: boolean }> {
  let query = db.selectFrom('incidents').select(['id', 'body', 'last_seen']);
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
  const r = await db.selectFrom('incidents').select('body').where('id', '=', id).executeTakeFirst();
  return r ? fromJson<Incident>(r.body, {} as Incident) : undefined;
}

/** Incidents left open by a previous run: the correlator's memory is gone, so they close at start. */
export async function closeStaleIncidents(db: Db, now: string): Promise<number> {
  const rows = await db.selectFrom('incidents').select(['id', 'body']).where('state', '=', 'open').execute();
  for (const r of rows) {
    const inc = { ...fromJson<Incident>(r.body, {} as Incident), state: 'closed' as const, closedAt: now };
    await db.updateTable('incidents').set({ state: 'closed', closed_at: now, body: toJson(inc), updated_at: now }).where('id', '=', r.id).execute();
  }
  return rows.length;
}
