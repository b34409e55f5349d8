/**
 * Correlated incidents: the correlator's changes applied in one transaction; paged reads.
 * An incident is stored as its head (`incidents.body`: the incident's JSON with `"timeline":[]`)
 * and its timeline in runs of entries (`incident_timeline`, a row per write that added entries,
 * migration 0016), so a write appends one row with the entries an incident gained and rewrites
 * a head only when it changed: under a bus
 * stream every open incident gains entries between writes, and rewriting whole bodies was the
 * incident write's cost in PostgreSQL (bench:scale: ~900 bodies of up to 500 entries a second).
 */
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Incident, IncidentChanges, TimelineEntry } from '../../runtime/incidents/types.js';
import { chunks, fromJson, toJson } from './json.js';
import type { Database, IncidentTimelineTable, IncidentsTable } from './schema.js';

type Db = Kysely<Database> | Transaction<Database>;

/** The incident's JSON with an empty timeline in the timeline's place (the key order stays). */
const headJson = (i: Incident) => toJson({ ...i, timeline: [] });

function row(i: Incident, body: string, now: string): IncidentsTable {
  return {
    id: i.id, state: i.state, severity: i.severity, stage: i.stage, title: i.title.slice(0, 1000), first_seen: i.firstSeen, last_seen: i.lastSeen,
    closed_at: i.closedAt ?? null, signals: i.signals, body, updated_at: now,
  };
}

/** Head text per upsert statement (heads are small; a long title or many workloads make one larger). */
const STATEMENT_BYTES = 4 << 20;
/** Rows per head statement: 11 parameters each, under SQLite's 32,766. */
const STATEMENT_ROWS = 300;
/** Timeline rows per insert: 3 parameters each (their text is bounded by maxTimeline entries a row). */
const RUN_ROWS = 1000;

/**
 * What one writer last stored of each open incident: its head's JSON and its timeline. Entries
 * are compared by identity (the correlator never changes an entry once made and its snapshots
 * share them), so the stored prefix of a timeline is found without reading the store. An
 * incident this writer has not stored (another process's, or any after a failed write: clear())
 * is written whole. Closed and removed incidents are forgotten: at most maxOpen are held.
 */
export class StoredIncidents {
  readonly heads = new Map<string, string>();
  readonly timelines = new Map<string, readonly TimelineEntry[]>();
  /** Where each stored row of an incident's timeline starts (ascending; the first is 0). */
  readonly starts = new Map<string, number[]>();

  forget(id: string): void {
    this.heads.delete(id);
    this.timelines.delete(id);
    this.starts.delete(id);
  }

  clear(): void {
    this.heads.clear();
    this.timelines.clear();
    this.starts.clear();
  }
}

/** Where two timelines first differ (entries by identity). */
function commonPrefix(a: readonly TimelineEntry[], b: readonly TimelineEntry[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

/**
 * Stores what one correlation step changed: deletes those merged away, then for each updated
 * incident (its last state in the step) one row with the timeline entries past what `stored`
 * says is already stored (where one differs — an entry earlier in time, or a merge, moved later
 * ones — the row holding it and those after are deleted and written again from that row's start)
 * and its head if it changed. A few statements per step,
 * not one per incident. `stored` is updated as written: the caller clears it if the
 * transaction fails. Without it every incident is written whole.
 */
export async function applyIncidentChanges(db: Db, changes: IncidentChanges, now: string, stored = new StoredIncidents()): Promise<void> {
  for (const part of chunks(changes.removed, 300)) {
    await db.deleteFrom('incident_timeline').where('incident_id', 'in', part).execute();
    await db.deleteFrom('incidents').where('id', 'in', part).execute();
  }
  for (const id of changes.removed) stored.forget(id);
  // The last state of an incident in one step wins (it may be updated, then closed).
  const latest = new Map(changes.updated.map((i) => [i.id, i]));
  const cuts: Array<[string, number]> = [];
  const runs: IncidentTimelineTable[] = [];
  const heads: IncidentsTable[] = [];
  for (const inc of latest.values()) {
    const tl = inc.timeline;
    const before = stored.timelines.get(inc.id);
    let starts = stored.starts.get(inc.id) ?? [];
    let from = before ? commonPrefix(before, tl) : 0;
    if (!before) {
      // Not stored by this writer: rows another writer (or a previous run) left under this id go.
      cuts.push([inc.id, 0]);
      starts = [];
    } else if (from < before.length) {
      // Back to the start of the stored row that holds the first entry that differs.
      let j = starts.length - 1;
      while (j > 0 && starts[j]! > from) j--;
      from = starts[j] ?? 0;
      cuts.push([inc.id, from]);
      starts = starts.slice(0, j);
    }
    if (tl.length > from) {
      let text = toJson(tl[from]);
      for (let k = from + 1; k < tl.length; k++) text += `,${toJson(tl[k])}`;
      runs.push({ incident_id: inc.id, pos: from, entries: text });
      starts = [...starts, from];
    }
    const head = headJson(inc);
    if (stored.heads.get(inc.id) !== head) heads.push(row(inc, head, now));
    if (inc.state === 'closed') stored.forget(inc.id);
    else {
      stored.heads.set(inc.id, head);
      stored.timelines.set(inc.id, tl);
      stored.starts.set(inc.id, starts);
    }
  }
  // As a chain of ORs of (id, position) also for whole timelines: `incident_id in (…)` took
  // 3.8 s in 295 statements of one bench:scale run against 0.4 s in 137 for the ORs in another.
  for (const part of chunks(cuts, 300)) {
    await db.deleteFrom('incident_timeline').where((eb) => eb.or(part.map(([id, pos]) => eb.and([eb('incident_id', '=', id), eb('pos', '>=', pos)])))).execute();
  }
  // On conflict: rows another writer stored under the same id and position are replaced, not an error that fails every later write.
  for (const part of chunks(runs, RUN_ROWS)) {
    await db.insertInto('incident_timeline').values(part).onConflict((oc) => oc.columns(['incident_id', 'pos']).doUpdateSet((eb) => ({ entries: eb.ref('excluded.entries') }))).execute();
  }
  let part: IncidentsTable[] = [];
  let bytes = 0;
  const flush = async () => {
    // Multi-row VALUES on both stores, each head its own text parameter: as one JSON parameter
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
  for (const r of heads) {
    part.push(r);
    bytes += r.body.length;
    if (bytes >= STATEMENT_BYTES || part.length >= STATEMENT_ROWS) await flush();
  }
  if (part.length) await flush();
}

/** Heads with their timelines put back: the incidents as the correlator gave them. */
async function assemble(db: Db, rows: Array<{ id: string; body: string }>): Promise<Incident[]> {
  const texts = new Map<string, string[]>(rows.map((r) => [r.id, []]));
  for (const part of chunks(rows.map((r) => r.id), 300)) {
    const runs = await db.selectFrom('incident_timeline').select(['incident_id', 'entries']).where('incident_id', 'in', part).orderBy('incident_id').orderBy('pos').execute();
    for (const e of runs) texts.get(e.incident_id)!.push(e.entries);
  }
  return rows.map((r) => {
    const inc = fromJson<Incident>(r.body, {} as Incident);
    // Assigned over the head's empty timeline: the key keeps its place.
    inc.timeline = JSON.parse(`[${texts.get(r.id)!.join(',')}]`) as TimelineEntry[];
    return inc;
  });
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
  // The pattern matched the whole body once: now the head or one of the timeline's rows (it matches within one JSON string).
  if (q.workloadLike) {
    query = query.where(sql<boolean>`(body like ${q.workloadLike} escape '\\'
      or exists (select 1 from incident_timeline t where t.incident_id = incidents.id and t.entries like ${q.workloadLike} escape '\\'))`);
  }
  const dialect = q.dialect ?? 'sqlite';
  if (q.host) query = query.where(hasHost(dialect, q.host));
  if (q.workload) query = query.where(hasWorkload(dialect, q.workload));
  if (q.tacticId) query = query.where(hasTactic(dialect, q.tacticId));
  if (q.cursor) query = query.where(sql<boolean>`(last_seen < ${q.cursor.k} or (last_seen = ${q.cursor.k} and id < ${q.cursor.id}))`);
  const rows = await query.orderBy('last_seen', 'desc').orderBy('id', 'desc').limit(q.limit + 1).execute();
  return { items: await assemble(db, rows.slice(0, q.limit)), more: rows.length > q.limit };
}

export async function getIncident(db: Db, id: string): Promise<Incident | undefined> {
  const r = await db.selectFrom('incidents').select(['id', 'body']).where('id', '=', id).executeTakeFirst();
  return r ? (await assemble(db, [r]))[0] : undefined;
}

/** Incidents left open by a previous run: the correlator's memory is gone, so they close at start (heads only: the timelines stay). */
export async function closeStaleIncidents(db: Db, now: string): Promise<number> {
  const rows = await db.selectFrom('incidents').select(['id', 'body']).where('state', '=', 'open').execute();
  for (const r of rows) {
    const inc = { ...fromJson<Incident>(r.body, {} as Incident), state: 'closed' as const, closedAt: now };
    await db.updateTable('incidents').set({ state: 'closed', closed_at: now, body: toJson(inc), updated_at: now }).where('id', '=', r.id).execute();
  }
  return rows.length;
}
