/**
 * Alerts and decisions. Each event carries its sender's idempotency key as its id; a batch
 * is stored in one transaction and keys already stored are dropped, so at-least-once
 * delivery stores every event once.
 */
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Finding } from '../../findings/finding.js';
import { withFingerprint } from '../../findings/fingerprint.js';
import type { EventBatch, IngestEvent } from '../client/ingest-types.js';
import { bulkInserts, chunks, fromJson, isPostgres, toJson } from './json.js';
import { workloadKindOf } from '../../kube/workload-kinds.js';
import { deploymentId } from '../live/deployments.js';
import { AlertOwners } from '../live/alert-owner.js';
import { NetworkIndex } from '../network/endpoints.js';
import type { ObservedFlow } from '../../network/flow.js';
import { storeFlowBatches } from './flows.js';
import type { Database, EventsTable } from './schema.js';
import { UNKNOWN, type OwnerNames, type OwnerRef } from './owner-names.js';

/**
 * Flow events (type `flow`) are not rows of `events`: they are resolved and added to the
 * aggregated observed edges (store/flows.ts), in the same transaction, deduplicated by id
 * through `flow_ids`. Pass Central's NetworkIndex (networkIndexOf(ctx)) so endpoint
 * resolution reuses its inventory index; without one a fresh index is built for the batch.
 */
export async function storeEventBatch(db: Transaction<Database> | Kysely<Database>, batch: EventBatch, now: string, network?: NetworkIndex): Promise<BatchResult> {
  return (await storeEventBatches(db, [batch], now, network))[0]!;
}

export interface BatchResult { stored: number; duplicates: number; deployments: string[] }

/**
 * Several batches (the bus consumer's fetch: one batch per node) stored as storeEventBatch
 * stores each in turn, with the per-event work done once for all: one resolution of the
 * alerts' deployments per cluster, then one insert that keeps the ids not stored yet
 * (insertNewEvents). An id seen in an earlier batch of the call is a duplicate in the later one.
 */
export async function storeEventBatches(db: Transaction<Database> | Kysely<Database>, batches: readonly EventBatch[], now: string, network?: NetworkIndex): Promise<BatchResult[]> {
  const index = network ?? new NetworkIndex();
  const results: BatchResult[] = [];
  // The first event of a key wins, within a batch and across the batches of the call.
  const unique = new Map<string, { e: IngestEvent; batch: number }>();
  // The flows of all batches together: one claim of ids and one upsert of edges for the call.
  const flowBatches = batches.map((batch) => ({ source: batch.source, events: batch.events.filter((e) => e.type === 'flow').map((e) => ({ id: e.id, data: e.data as unknown as ObservedFlow })) }));
  const flowsStored = flowBatches.some((b) => b.events.length) ? await storeFlowBatches(db, flowBatches.filter((b) => b.events.length), now, index) : [];
  let withFlows = 0;
  for (const [b, batch] of batches.entries()) {
    results.push({ stored: flowBatches[b]!.events.length ? flowsStored[withFlows++]! : 0, duplicates: 0, deployments: [] });
    for (const e of batch.events) if (e.type !== 'flow' && !unique.has(e.id)) unique.set(e.id, { e, batch: b });
  }
  const candidates = [...unique.values()].map((x) => ({ ...x, source: batches[x.batch]!.source, finding: x.e.finding ? withFingerprint(x.e.finding) : undefined }));
  const owners = await alertDeployments(db, candidates.filter((x) => x.e.type === 'alert'), index.ownerNames());
  const rows: EventsTable[] = [];
  for (const { e, source, finding } of candidates) {
    const deployment = e.type === 'alert' ? owners.get(finding) : undefined;
    rows.push({
      id: e.id,
      type: e.type,
      source_kind: source.kind,
      cluster: source.cluster ?? null,
      host: source.host ?? null,
      time: new Date(e.time).toISOString(),
      rule: finding?.policy?.id ?? finding?.id ?? String(e.data?.rule ?? e.data?.action ?? e.type),
      severity: finding?.severity ?? 'UNKNOWN',
      body: toJson({ finding, data: e.data, source }),
      received_at: now,
      deployment_id: deployment ?? null,
    });
  }
  const inserted = await insertNewEvents(db, rows);
  const deployments = batches.map(() => new Set<string>());
  rows.forEach((row, i) => {
    if (!inserted.has(row.id)) return;
    const batch = candidates[i]!.batch;
    results[batch]!.stored++;
    if (row.deployment_id) deployments[batch]!.add(row.deployment_id);
  });
  await openReviewViolations(db, rows.flatMap((row, i) => (inserted.has(row.id) ? [{ row, finding: candidates[i]!.finding, data: candidates[i]!.e.data }] : [])), now);
  return results.map((r, b) => ({ stored: r.stored, duplicates: batches[b]!.events.length - r.stored, deployments: [...deployments[b]!] }));
}

const EVENT_COLUMNS = ['id', 'type', 'source_kind', 'cluster', 'host', 'time', 'rule', 'severity', 'body', 'received_at', 'deployment_id'] as const satisfies readonly (keyof EventsTable)[];

/**
 * Inserts the rows whose id is not stored yet and returns their ids: the insert itself
 * drops the stored ones (ON CONFLICT DO NOTHING, which also waits for a concurrent
 * transaction's row instead of failing on it), so no look-up of known ids comes first.
 * PostgreSQL takes all the rows as one JSON parameter (jsonRecordset); SQLite 1,000-row
 * VALUES (11,000 parameters, under its 32,766).
 */
async function insertNewEvents(db: Transaction<Database> | Kysely<Database>, rows: readonly EventsTable[]): Promise<Set<string>> {
  const inserted = new Set<string>();
  for (const insert of bulkInserts(db, 'events', rows, EVENT_COLUMNS.map((c) => [c, 'text'] as const), 1000)) {
    for (const r of await insert.onConflict((oc) => oc.column('id').doNothing()).returning('id').execute()) inserted.add(r.id);
  }
  return inserted;
}

/**
 * The deployment of each alert, as AlertOwners.deploymentOf finds it, with a few queries per
 * batch instead of up to four per alert: the pods of the batch's alerts in one query per
 * kind and hop (Pod → ReplicaSet → Deployment, at most three hops), then the deployments
 * that exist in one query. Alerts from plain hosts go to AlertOwners one by one.
 */
async function alertDeployments(db: Transaction<Database> | Kysely<Database>, alerts: readonly { source: EventBatch['source']; finding: Finding | undefined }[], names: OwnerNames): Promise<Map<Finding | undefined, string | undefined>> {
  const out = new Map<Finding | undefined, string | undefined>();
  const owners = new AlertOwners(db);
  const byCluster = new Map<string, { finding: Finding; kind: string; namespace: string; name: string }[]>();
  for (const { source, finding: f } of alerts) {
    if (!f) continue;
    const k8s = f.resource.k8s;
    if (source.host && f.resource.container?.name && !k8s) out.set(f, await owners.deploymentOf(source, f));
    else if (source.cluster && k8s?.name) {
      if (!byCluster.has(source.cluster)) byCluster.set(source.cluster, []);
      byCluster.get(source.cluster)!.push({ finding: f, kind: k8s.kind, namespace: k8s.namespace ?? 'default', name: k8s.name });
    }
  }
  for (const [cluster, inCluster] of byCluster) await clusterAlertDeployments(db, cluster, inCluster, out, names);
  return out;
}

async function clusterAlertDeployments(db: Transaction<Database> | Kysely<Database>, cluster: string, inCluster: readonly { finding: Finding; kind: string; namespace: string; name: string }[], out: Map<Finding | undefined, string | undefined>, names: OwnerNames): Promise<void> {
  const sourceRow = await db.selectFrom('sources').select('id').where('kind', '=', 'cluster').where('name', '=', cluster).executeTakeFirst();
  if (!sourceRow) return;
  const sourceId = sourceRow.id;
  // The names earlier fetches found and no change has touched since; only the others are read.
  const known = await names.begin(db, sourceId);
  // Follow controllers up to the top-level workload, all alerts of a hop together.
  let current = inCluster.map((x) => ({ kind: x.kind, name: x.name }));
  for (let hop = 0; hop < 3; hop++) {
    const byKind = new Map<string, Map<string, { namespace: string; name: string }>>();
    inCluster.forEach((x, i) => {
      const c = current[i]!;
      if (!byKind.has(c.kind)) byKind.set(c.kind, new Map());
      byKind.get(c.kind)!.set(`${x.namespace}\u001f${c.name}`, { namespace: x.namespace, name: c.name });
    });
    const ownerOf = new Map<string, { kind: string; name: string } | undefined>();
    for (const [kind, pairs] of byKind) {
      const missing: { namespace: string; name: string }[] = [];
      for (const p of pairs.values()) {
        const owner = known.get(kind, p.namespace, p.name);
        if (owner === UNKNOWN) missing.push(p);
        else ownerOf.set(`${kind}\u001f${p.namespace}\u001f${p.name}`, owner);
      }
      for (const part of chunks(missing, 500)) {
        const rows = await liveObjectsByName(db, sourceId, kind, part);
        await readOwners(db, sourceId, kind, rows);
        for (const r of rows) {
          const key = `${kind}\u001f${r.namespace ?? ''}\u001f${r.name}`;
          if (ownerOf.has(key)) continue; // the first row, as executeTakeFirst
          ownerOf.set(key, OWNERS.get(ownerKey(sourceId, kind, r))?.owner);
        }
        // No live object and one without a controller both leave the alert where it is.
        known.keep(kind, part.map((p) => ({ ...p, owner: ownerOf.get(`${kind}\u001f${p.namespace}\u001f${p.name}`) })));
      }
    }
    let moved = false;
    current = current.map((c, i) => {
      const next = ownerOf.get(`${c.kind}\u001f${inCluster[i]!.namespace}\u001f${c.name}`);
      if (next) moved = true;
      return next ?? c;
    });
    if (!moved) break;
  }
  const ids = inCluster.map((x, i) => deploymentId(sourceId, current[i]!.kind, x.namespace, current[i]!.name));
  const existing = new Set<string>();
  for (const part of chunks([...new Set(ids)], 500)) for (const r of await db.selectFrom('deployments').select('id').where('id', 'in', part).execute()) existing.add(r.id);
  inCluster.forEach((x, i) => out.set(x.finding, existing.has(ids[i]!) ? ids[i] : undefined));
}

/**
 * The live objects of a source and kind with these (namespace, name) pairs, each pair one probe
 * of objects_by_name (source_id, kind, namespace, name). By name alone the index cannot be
 * searched (namespace comes before it) and PostgreSQL read all the cluster's objects of the
 * kind per query: at 45,000 pods, the largest part of its CPU per event. On PostgreSQL the
 * pairs go as two arrays to a LATERAL look-up whose `offset 0` keeps it from being flattened
 * into a join, so it is one index probe per pair whatever the table's statistics say (a join
 * or `IN (VALUES …)` was planned as a scan of all the kind's rows — up to seconds per query —
 * on a table not analysed yet, as right after a cluster's first list); SQLite probes the
 * index for each row of `IN (VALUES …)`.
 */
async function liveObjectsByName(db: Transaction<Database> | Kysely<Database>, sourceId: string, kind: string, pairs: readonly { namespace: string; name: string }[]) {
  type Row = { namespace: string; name: string; uid: string; resource_version: string | null; last_seen: string };
  if (isPostgres(db)) {
    return (await sql<Row>`select o.namespace, o.name, o.uid, o.resource_version, o.last_seen
      from unnest(${pairs.map((p) => p.namespace)}::text[], ${pairs.map((p) => p.name)}::text[]) as k(namespace, name)
      cross join lateral (select namespace, name, uid, resource_version, last_seen from objects
        where source_id = ${sourceId} and kind = ${kind} and namespace = k.namespace and name = k.name and deleted_at is null offset 0) as o`.execute(db)).rows;
  }
  return db.selectFrom('objects').select(['namespace', 'name', 'uid', 'resource_version', 'last_seen']).where('source_id', '=', sourceId).where('kind', '=', kind)
    .where(sql<boolean>`(namespace, name) in (values ${sql.join(pairs.map((p) => sql`(${p.namespace}, ${p.name})`))})`).where('deleted_at', 'is', null).execute();
}

/**
 * The bodies of a source's objects of one kind by uid. On PostgreSQL one primary-key probe per
 * uid, for the reason liveObjectsByName gives: right after a cluster's first list the table is
 * not analysed yet, and `uid in (…)` was planned as a scan of the kind's rows — the largest
 * statement of PostgreSQL's time in bench:scale (pg_stat_statements: ~400 blocks read per row).
 */
async function objectBodies(db: Transaction<Database> | Kysely<Database>, sourceId: string, kind: string, uids: readonly string[]): Promise<{ uid: string; body: string }[]> {
  if (isPostgres(db)) {
    return (await sql<{ uid: string; body: string }>`select o.uid, o.body from unnest(${uids}::text[]) as k(uid)
      cross join lateral (select uid, body from objects where source_id = ${sourceId} and kind = ${kind} and uid = k.uid offset 0) as o`.execute(db)).rows;
  }
  return db.selectFrom('objects').select(['uid', 'body']).where('source_id', '=', sourceId).where('kind', '=', kind).where('uid', 'in', uids).execute();
}

/**
 * The controller of each object version (source, kind, uid, resourceVersion or last_seen)
 * seen by alert resolution: bodies are read and parsed once per version, not for every
 * fetch's alerts (parsing the pods' bodies was a third of the alerts' store cost). Bounded:
 * emptied when full.
 */
const OWNERS = new Map<string, { owner: OwnerRef }>();
const OWNERS_MAX = 200_000;
const ownerKey = (sourceId: string, kind: string, r: { uid: string; resource_version: string | null; last_seen: string }) => `${sourceId}\u001f${kind}\u001f${r.uid}\u001f${r.resource_version ?? r.last_seen}`;

async function readOwners(db: Transaction<Database> | Kysely<Database>, sourceId: string, kind: string, rows: readonly { uid: string; resource_version: string | null; last_seen: string }[]): Promise<void> {
  const missing = new Map(rows.filter((r) => !OWNERS.has(ownerKey(sourceId, kind, r))).map((r) => [r.uid, r]));
  if (!missing.size) return;
  if (OWNERS.size + missing.size > OWNERS_MAX) OWNERS.clear();
  for (const part of chunks([...missing.keys()], 500)) {
    for (const b of await objectBodies(db, sourceId, kind, part)) {
      const owner = (fromJson<{ metadata?: { ownerReferences?: { kind?: string; name?: string; controller?: boolean }[] } }>(b.body, {}).metadata?.ownerReferences ?? [])
        .find((o) => o.controller && o.kind && o.name && workloadKindOf(o.kind)?.runsPods);
      OWNERS.set(ownerKey(sourceId, kind, missing.get(b.uid)!), { owner: owner ? { kind: owner.kind!, name: owner.name! } : undefined });
    }
  }
}

/**
 * An event that says it needs review (a break-glass use at admission) opens a violation of
 * its own, active until someone resolves it: every use is reviewed once. Read from the
 * event's own finding and data, not by parsing the body just built from them (that parse of
 * every stored event was ~5% of the store path's main-thread time).
 */
async function openReviewViolations(db: Transaction<Database> | Kysely<Database>, stored: readonly { row: EventsTable; finding: Finding | undefined; data: IngestEvent['data'] }[], now: string): Promise<void> {
  for (const { row: r, finding, data } of stored) {
    if (data?.needsReview !== true || !finding) continue;
    await db.insertInto('violations').values({
      id: `review-${r.id}`.slice(0, 200), policy_id: finding.policy?.id ?? finding.id, stage: r.source_kind === 'admission' ? 'deploy' : 'runtime',
      subject_kind: 'event', subject_key: r.id, severity: finding.severity, title: finding.title, body: r.body,
      state: 'active', exception_id: null, first_seen: now, last_seen: now, resolved_at: null,
    }).execute();
  }
}
