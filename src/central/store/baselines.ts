/**
 * Behavioural baselines kept by Central (migration 0012): one merged baseline per workload
 * identity (src/runtime/baseline/merge.ts decides how pushes merge and when it locks), and one
 * row per host pushing to it (its last push id, its deviations). Every change is one
 * transaction over the workload's rows; the read-modify-write is serialised in this process
 * and, on PostgreSQL, by a row lock (Centrals sharing one database).
 */
import type { Kysely, Transaction } from 'kysely';
import { Baseline, type BaselineFile } from '../../runtime/baseline/baseline.js';
import { CHANNELS } from '../../runtime/baseline/features.js';
import type { WorkloadIdentity } from '../../runtime/baseline/identity.js';
import { applyDelta, liveDeviations, mergeDeviations, type BaselineDelta, type HostDeviation, type MergedBaseline, type MergedDeviation } from '../../runtime/baseline/merge.js';
import { fromJson, toJson } from './json.js';
import type { StoreDialect } from './open.js';
import type { BaselinesTable, Database } from './schema.js';

type Db = Kysely<Database>;
type Trx = Transaction<Database>;

export interface BaselineSummary {
  observations: number;
  /** Known items per channel (the most specific ones). */
  items: Record<string, number>;
  threshold?: number;
  replicas: number;
  learnUntil?: string;
  lockedAt?: string;
  hosts: string[];
}

/** A list row (GET /api/v1/baselines). */
export interface BaselineListItem {
  workload: string;
  cluster?: string;
  namespace?: string;
  kind: string;
  name: string;
  container: string;
  host?: string;
  state: 'learning' | 'locked';
  learnUntil?: string;
  lockedAt?: string;
  observations: number;
  items: Record<string, number>;
  deviations: number;
  hosts: string[];
}

/** What a push answers per workload: the merged baseline the sensor adopts. */
export interface PushAnswer {
  workload: string;
  state: 'learning' | 'locked';
  epoch: number;
  baseline: BaselineFile;
}

export interface StoredBaseline {
  row: BaselinesTable;
  merged: MergedBaseline;
  hosts: Array<{ host: string; updatedAt: string; deviations: HostDeviation[] }>;
  deviations: MergedDeviation[];
}

/** The most specific items of a baseline (keys nothing more specific was counted under), per channel. */
export function specificItems(b: Baseline): Record<string, Array<{ item: string; count: number }>> {
  const out: Record<string, Array<{ item: string; count: number }>> = {};
  for (const [ch, cc] of b.channels) {
    const list: Array<{ item: string; count: number }> = [];
    for (const [k, v] of cc.c) if (!cc.t.has(k)) list.push({ item: k, count: v });
    out[ch] = list.sort((a, x) => x.count - a.count || a.item.localeCompare(x.item));
  }
  return out;
}

export function learnUntil(b: Baseline): string | undefined {
  if (b.locked || b.firstSeenNs === 0n) return undefined;
  return new Date(Number(b.firstSeenNs / 1_000_000n) + b.learnMs).toISOString();
}

function summaryOf(b: Baseline, hosts: string[]): BaselineSummary {
  const items: Record<string, number> = {};
  for (const ch of CHANNELS) {
    const cc = b.channels.get(ch)!;
    let n = 0;
    for (const k of cc.c.keys()) if (!cc.t.has(k)) n++;
    items[ch] = n;
  }
  const until = learnUntil(b);
  return {
    observations: b.events, items, replicas: b.replicas.length, hosts,
    ...(b.calibration.threshold !== undefined ? { threshold: b.calibration.threshold } : {}),
    ...(until ? { learnUntil: until } : {}), ...(b.lockedAt ? { lockedAt: b.lockedAt } : {}),
  };
}

function identityColumns(w: WorkloadIdentity): Pick<BaselinesTable, 'cluster' | 'namespace' | 'kind' | 'name' | 'container' | 'host'> {
  return { cluster: w.cluster ?? null, namespace: w.namespace ?? null, kind: w.kind, name: w.name, container: w.container, host: w.host ?? null };
}

function bodyOf(b: Baseline): string {
  return toJson({ ...b.toJSON(), deviations: {} });
}

function parse(row: BaselinesTable): MergedBaseline {
  return { baseline: Baseline.fromJSON(fromJson<unknown>(row.body, null), `stored baseline ${row.workload}`), epoch: Number(row.epoch) };
}

/** Serialises this process's read-modify-writes of baselines (SQLite has no row locks; PostgreSQL gets one too). */
let chain: Promise<unknown> = Promise.resolve();
function serial<T>(fn: () => Promise<T>): Promise<T> {
  const run = chain.then(fn, fn);
  chain = run.catch(() => undefined);
  return run;
}

async function readRow(trx: Trx, dialect: StoreDialect, workload: string): Promise<BaselinesTable | undefined> {
  let q = trx.selectFrom('baselines').selectAll().where('workload', '=', workload);
  if (dialect === 'postgres') q = q.forUpdate();
  return q.executeTakeFirst();
}

async function hostRows(trx: Trx | Db, workload: string): Promise<Array<{ host: string; push_id: string; deviations: string; updated_at: string }>> {
  return trx.selectFrom('baseline_hosts').select(['host', 'push_id', 'deviations', 'updated_at']).where('workload', '=', workload).orderBy('host').execute();
}

/** Writes the merged baseline with its summary and merged deviation count. */
async function writeBaseline(trx: Trx, m: MergedBaseline, exists: boolean, now: string): Promise<void> {
  const hosts = (await hostRows(trx, m.baseline.workload.id)).map((h) => ({ host: h.host, deviations: fromJson<HostDeviation[]>(h.deviations, []) }));
  const row: BaselinesTable = {
    workload: m.baseline.workload.id, ...identityColumns(m.baseline.workload), state: m.baseline.state, epoch: m.epoch,
    summary: toJson(summaryOf(m.baseline, hosts.map((h) => h.host))), deviations: mergeDeviations(hosts).length, body: bodyOf(m.baseline), updated_at: now,
  };
  if (exists) {
    const { workload, ...rest } = row;
    await trx.updateTable('baselines').set(rest).where('workload', '=', workload).execute();
  } else await trx.insertInto('baselines').values(row).execute();
}

function answer(m: MergedBaseline): PushAnswer {
  return { workload: m.baseline.workload.id, state: m.baseline.state, epoch: m.epoch, baseline: { ...m.baseline.toJSON(), deviations: {} } };
}

/**
 * Applies one sensor push (every workload it reports) in one transaction and answers with the
 * merged baselines. A push whose id this host's row already holds is a retry: nothing is counted again.
 */
export function applyBaselinePush(db: Db, dialect: StoreDialect, push: { host: string; pushId: string; baselines: BaselineDelta[] }, now: string): Promise<PushAnswer[]> {
  return serial(() => db.transaction().execute(async (trx) => {
    const out: PushAnswer[] = [];
    for (const d of push.baselines) {
      const id = d.workload.id;
      const row = await readRow(trx, dialect, id);
      const host = await trx.selectFrom('baseline_hosts').select(['push_id', 'deviations']).where('workload', '=', id).where('host', '=', push.host).executeTakeFirst();
      let m = row ? parse(row) : undefined;
      if (m && host?.push_id === push.pushId) {
        out.push(answer(m));
        continue;
      }
      m = applyDelta(m, d);
      const devs = toJson(liveDeviations(m.baseline, d.deviations));
      // an idle workload's sync changes nothing: no write (a repeat of such a push is harmless)
      if (row && host && host.deviations === devs && row.body === bodyOf(m.baseline)) {
        out.push(answer(m));
        continue;
      }
      if (host) await trx.updateTable('baseline_hosts').set({ push_id: push.pushId, deviations: devs, updated_at: now }).where('workload', '=', id).where('host', '=', push.host).execute();
      else await trx.insertInto('baseline_hosts').values({ workload: id, host: push.host, push_id: push.pushId, deviations: devs, updated_at: now }).execute();
      await writeBaseline(trx, m, !!row, now);
      out.push(answer(m));
    }
    return out;
  }));
}

export async function getBaseline(db: Db, workload: string): Promise<StoredBaseline | undefined> {
  const row = await db.selectFrom('baselines').selectAll().where('workload', '=', workload).executeTakeFirst();
  if (!row) return undefined;
  const hosts = (await hostRows(db, workload)).map((h) => ({ host: h.host, updatedAt: h.updated_at, deviations: fromJson<HostDeviation[]>(h.deviations, []) }));
  return { row, merged: parse(row), hosts, deviations: mergeDeviations(hosts) };
}

/**
 * Changes one workload's lifecycle (lock, unlock, accept) in a transaction: `change` mutates
 * the merged baseline and returns the accepted items, which leave every host's deviations.
 * Undefined when the workload has no baseline.
 */
export function changeBaseline<T>(db: Db, dialect: StoreDialect, workload: string, now: string, change: (m: MergedBaseline, deviations: MergedDeviation[]) => { result: T; accepted?: string[] }): Promise<{ result: T; merged: MergedBaseline } | undefined> {
  return serial(() => db.transaction().execute(async (trx) => {
    const row = await readRow(trx, dialect, workload);
    if (!row) return undefined;
    const m = parse(row);
    const hosts = (await hostRows(trx, workload)).map((h) => ({ host: h.host, deviations: fromJson<HostDeviation[]>(h.deviations, []) }));
    const { result, accepted } = change(m, mergeDeviations(hosts));
    if (accepted?.length) {
      const gone = new Set(accepted);
      for (const h of hosts) {
        const left = h.deviations.filter((d) => !gone.has(d.item));
        if (left.length !== h.deviations.length) await trx.updateTable('baseline_hosts').set({ deviations: toJson(left), updated_at: now }).where('workload', '=', workload).where('host', '=', h.host).execute();
      }
    }
    await writeBaseline(trx, m, true, now);
    return { result, merged: m };
  }));
}

export interface BaselineQuery {
  limit: number;
  /** After this workload id (ascending order). */
  cursor?: string;
  state?: 'learning' | 'locked';
  /** Only these workloads' owners: a cluster's object, or a plain host's container. */
  owner?: { cluster: string; namespace: string; kind: string; name: string } | { host: string; name: string };
}

/** Workload id order; one extra row tells whether a next page exists. */
export async function listBaselines(db: Db, q: BaselineQuery): Promise<{ items: BaselineListItem[]; more: boolean }> {
  let sel = db.selectFrom('baselines').select(['workload', 'cluster', 'namespace', 'kind', 'name', 'container', 'host', 'state', 'summary', 'deviations']);
  if (q.state) sel = sel.where('state', '=', q.state);
  if (q.owner && 'cluster' in q.owner) sel = sel.where('cluster', '=', q.owner.cluster).where('namespace', '=', q.owner.namespace).where('kind', '=', q.owner.kind).where('name', '=', q.owner.name);
  else if (q.owner) sel = sel.where('host', '=', q.owner.host).where('name', '=', q.owner.name);
  if (q.cursor) sel = sel.where('workload', '>', q.cursor);
  const rows = await sel.orderBy('workload').limit(q.limit + 1).execute();
  const items = rows.slice(0, q.limit).map((r): BaselineListItem => {
    const s = fromJson<BaselineSummary>(r.summary, { observations: 0, items: {}, replicas: 0, hosts: [] });
    return {
      workload: r.workload, ...(r.cluster !== null ? { cluster: r.cluster } : {}), ...(r.namespace !== null ? { namespace: r.namespace } : {}),
      kind: r.kind, name: r.name, container: r.container, ...(r.host !== null ? { host: r.host } : {}), state: r.state,
      ...(s.learnUntil ? { learnUntil: s.learnUntil } : {}), ...(s.lockedAt ? { lockedAt: s.lockedAt } : {}),
      observations: s.observations, items: s.items, deviations: Number(r.deviations), hosts: s.hosts,
    };
  });
  return { items, more: rows.length > q.limit };
}
