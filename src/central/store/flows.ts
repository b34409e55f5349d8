/**
 * Observed flows, aggregated. A `flow` ingest event (its data an ObservedFlow) is resolved
 * to its two ends (src/central/network/endpoints.ts) and added to its edge's row of
 * `flow_edges` (both ends, first and last seen, connections, bytes, all time) and to the
 * edge's row of the hour in `flow_edge_hours` (for windows that start before the edge did);
 * the event itself is not kept.
 * Its id goes to `flow_ids` (id and arrival time only), so a retried batch adds nothing twice:
 * ids are claimed with INSERT … ON CONFLICT DO NOTHING RETURNING, which is also safe
 * between two concurrent transactions on PostgreSQL (the second waits for the first's row).
 *
 * Kept apart from `events` because flows are far more numerous than alerts and their bodies
 * are worthless once aggregated; `flow_ids` rows are pruned after FLOW_ID_RETENTION_MS (a
 * sender's spool retries well within it).
 */
import { sql, type Kysely, type Transaction } from 'kysely';
import { hash128 } from '../../findings/fingerprint.js';
import type { ObservedFlow } from '../../network/flow.js';
import type { GraphEndpoint, ObservedEdgeInput } from '../../network/graph.js';
import type { NetworkIndex } from '../network/endpoints.js';
import type { EventBatch } from '../client/ingest-types.js';
import { bulkInserts, chunks, type RecordsetColumn } from './json.js';
import type { Database, FlowEdgeHoursTable, FlowEdgesTable } from './schema.js';

type Db = Kysely<Database> | Transaction<Database>;

export const FLOW_ID_RETENTION_MS = 7 * 24 * 3_600_000;
/** Observed edges and edge-hours not seen for this long are forgotten. */
export const FLOW_RETENTION_MS = 30 * 24 * 3_600_000;

/** Processes that are a mesh's proxy, and the ports a sidecar intercepts on: a flow through them is mTLS evidence. */
const MESH_PROCESSES = new Set(['envoy', 'pilot-agent', 'linkerd2-proxy', 'linkerd-proxy', 'ztunnel']);
const MESH_PORTS = new Set([15001, 15006, 15008, 4140, 4143]);

export function throughMesh(flow: ObservedFlow): boolean {
  const proc = flow.local.process?.name ?? '';
  return MESH_PROCESSES.has(proc) || MESH_PORTS.has(flow.local.port) || MESH_PORTS.has(flow.remote.port);
}

/** One flow event of a batch. */
export interface FlowEvent {
  id: string;
  data: ObservedFlow;
}

/** Stores the flow events of one batch inside the caller's transaction; returns how many were new. */
export async function storeFlowEvents(db: Db, source: EventBatch['source'], events: readonly FlowEvent[], now: string, index: NetworkIndex): Promise<number> {
  return (await storeFlowBatches(db, [{ source, events }], now, index))[0]!;
}

/**
 * The flow events of several batches (a bus fetch: one batch per node) in the caller's
 * transaction, with one claim of ids and one upsert of edges and of edge-hours for them all
 * instead of three queries per batch (measured: 1,000 node batches per fetch made these
 * queries 40 % of Central's CPU per flow). Returns how many were new, per batch; an id seen
 * in an earlier batch of the call is a duplicate in the later one.
 */
export async function storeFlowBatches(db: Db, batches: readonly { source: EventBatch['source']; events: readonly FlowEvent[] }[], now: string, index: NetworkIndex): Promise<number[]> {
  const counts = batches.map(() => 0);
  const fresh = new Set<string>();
  const ids = [...new Set(batches.flatMap((b) => b.events.map((e) => e.id)))].map((id) => ({ id, received_at: now }));
  for (const insert of bulkInserts(db, 'flow_ids', ids, [['id', 'text'], ['received_at', 'text']], 500)) {
    for (const r of await insert.onConflict((oc) => oc.column('id').doNothing()).returning('id').execute()) fresh.add(r.id);
  }
  if (fresh.size === 0) return counts;
  const edges = new Map<string, FlowEdgesTable & Counts>();
  const hours = new Map<string, FlowEdgeHoursTable & Counts>();
  // A flow that ended before the retention is counted (its id is kept, so a retry adds nothing)
  // but not aggregated: the next prune would drop its edge anyway, so whether an old flow left
  // an edge depended on when this process last pruned (seen as "SQLite drops flows" in bus.test.ts).
  const forgotten = new Date(Date.parse(now) - FLOW_RETENTION_MS).toISOString();
  for (const [b, { source, events }] of batches.entries()) {
    if (!events.some((e) => fresh.has(e.id))) continue;
    const origin = source.cluster ? { kind: 'cluster' as const, name: source.cluster } : source.host ? { kind: 'host' as const, name: source.host } : undefined;
    const idx = origin ? await index.source(db, origin.kind, origin.name) : undefined;
    for (const e of events) {
      if (!fresh.delete(e.id)) continue; // a duplicate, or the same id twice in this call (the first wins)
      counts[b]!++;
      const f = e.data;
      if (new Date(f.lastSeen).toISOString() < forgotten) continue;
      const { src, dst, port } = index.resolve(idx, { cluster: source.cluster, host: source.host }, f);
      const edgeKey = hash128([idx?.sourceId ?? '', source.cluster ?? '', source.host ?? '', src.id, dst.id, f.protocol, port].join('\u001f'));
      const c: Counts = {
        first_seen: new Date(f.firstSeen).toISOString(), last_seen: new Date(f.lastSeen).toISOString(),
        connections: f.connections, bytes: f.bytes ?? null, mesh_flows: throughMesh(f) ? 1 : 0,
      };
      const bucket = c.first_seen.slice(0, 13);
      const dns = dst.kind === 'external' ? dst.dns ?? null : null;
      const edge = edges.get(edgeKey);
      if (edge) {
        add(edge, c);
        edge.dst_dns ??= dns;
      } else {
        edges.set(edgeKey, {
          edge_key: edgeKey, source_id: idx?.sourceId ?? null, cluster: source.cluster ?? null, host: source.host ?? null,
          ...ends('src', src), ...ends('dst', dst), dst_dns: dns, protocol: f.protocol, port, ...c,
        });
      }
      const hk = `${edgeKey} ${bucket}`;
      const hour = hours.get(hk);
      if (hour) add(hour, c);
      else hours.set(hk, { edge_key: edgeKey, bucket, ...c });
    }
  }
  /** Adds an incoming row (`excluded`) to the stored one of `t`: portable SQL (no LEAST/GREATEST, no scalar MIN/MAX). */
  const on = (t: 'flow_edges' | 'flow_edge_hours') => ({
    first_seen: sql.raw<string>(`case when excluded.first_seen < ${t}.first_seen then excluded.first_seen else ${t}.first_seen end`),
    last_seen: sql.raw<string>(`case when excluded.last_seen > ${t}.last_seen then excluded.last_seen else ${t}.last_seen end`),
    connections: sql.raw<number>(`${t}.connections + excluded.connections`),
    bytes: sql.raw<number | null>(`case when excluded.bytes is null then ${t}.bytes when ${t}.bytes is null then excluded.bytes else ${t}.bytes + excluded.bytes end`),
    mesh_flows: sql.raw<number>(`${t}.mesh_flows + excluded.mesh_flows`),
  });
  // SQLite: ~22 columns, 500 rows stay well under its 32,766 parameters.
  for (const insert of bulkInserts(db, 'flow_edges', [...edges.values()], EDGE_COLUMNS, 500)) {
    await insert.onConflict((oc) => oc.column('edge_key').doUpdateSet({
      ...on('flow_edges'), dst_dns: sql<string | null>`coalesce(flow_edges.dst_dns, excluded.dst_dns)`,
    })).execute();
  }
  for (const insert of bulkInserts(db, 'flow_edge_hours', [...hours.values()], HOUR_COLUMNS, 1000)) {
    await insert.onConflict((oc) => oc.columns(['edge_key', 'bucket']).doUpdateSet(on('flow_edge_hours'))).execute();
  }
  await pruneFlowIds(db, now);
  return counts;
}

const COUNT_COLUMNS = [['first_seen', 'text'], ['last_seen', 'text'], ['connections', 'bigint'], ['bytes', 'bigint'], ['mesh_flows', 'bigint']] as const;
const EDGE_COLUMNS: readonly RecordsetColumn<FlowEdgesTable>[] = [
  ...(['edge_key', 'source_id', 'cluster', 'host', 'src_id', 'src_kind', 'src_label', 'src_namespace', 'src_name', 'src_workload_kind',
    'dst_id', 'dst_kind', 'dst_label', 'dst_namespace', 'dst_name', 'dst_workload_kind', 'dst_dns', 'protocol'] as const).map((c) => [c, 'text'] as const),
  ['port', 'integer'], ...COUNT_COLUMNS,
];
const HOUR_COLUMNS: readonly RecordsetColumn<FlowEdgeHoursTable>[] = [['edge_key', 'text'], ['bucket', 'text'], ...COUNT_COLUMNS];

interface Counts {
  first_seen: string;
  last_seen: string;
  connections: number;
  bytes: number | null;
  mesh_flows: number;
}

function add(into: Counts, c: Counts): void {
  if (c.first_seen < into.first_seen) into.first_seen = c.first_seen;
  if (c.last_seen > into.last_seen) into.last_seen = c.last_seen;
  into.connections += c.connections;
  if (c.bytes !== null) into.bytes = (into.bytes ?? 0) + c.bytes;
  into.mesh_flows += c.mesh_flows;
}

function ends<P extends 'src' | 'dst'>(p: P, e: GraphEndpoint) {
  return {
    [`${p}_id`]: e.id, [`${p}_kind`]: e.kind, [`${p}_label`]: e.label, [`${p}_namespace`]: e.namespace ?? null,
    [`${p}_name`]: e.name ?? null, [`${p}_workload_kind`]: e.workloadKind ?? null,
  } as Record<`${P}_id` | `${P}_kind` | `${P}_label`, string> & Record<`${P}_namespace` | `${P}_name` | `${P}_workload_kind`, string | null>;
}

let lastPrune = 0;

/** Forgets flow ids, edge-hours and edges older than their retention, at most once a minute per process. */
async function pruneFlowIds(db: Db, now: string): Promise<void> {
  const t = Date.parse(now);
  if (Math.abs(t - lastPrune) < 60_000) return;
  lastPrune = t;
  await db.deleteFrom('flow_ids').where('received_at', '<', new Date(t - FLOW_ID_RETENTION_MS).toISOString()).execute();
  const cutoff = new Date(t - FLOW_RETENTION_MS).toISOString();
  await db.deleteFrom('flow_edge_hours').where('bucket', '<', cutoff.slice(0, 13)).execute();
  await db.deleteFrom('flow_edges').where('last_seen', '<', cutoff).execute();
}

export interface EdgeQuery {
  since?: string;
  /** Cluster names. */
  clusters?: string[];
  hosts?: string[];
  /** Either end in this namespace. */
  namespace?: string;
  /** Either end is this node. */
  node?: string;
}

/** An observed edge over the query's window, all its hours summed, with both ends. */
export interface StoredEdge extends ObservedEdgeInput {
  key: string;
  cluster?: string;
  host?: string;
}

const num = (v: number | string | null | undefined): number => (v === null || v === undefined ? 0 : Number(v));

function edgeQuery(db: Db, q: EdgeQuery & { after?: string }) {
  let s = db.selectFrom('flow_edges').selectAll();
  if (q.after) s = s.where('edge_key', '>', q.after);
  if (q.since) s = s.where('last_seen', '>=', q.since);
  if (q.clusters || q.hosts) {
    const clusters = q.clusters ?? [];
    const hosts = q.hosts ?? [];
    s = s.where((eb) => {
      const parts = [];
      if (clusters.length) parts.push(eb('cluster', 'in', clusters));
      if (hosts.length) parts.push(eb('host', 'in', hosts));
      return parts.length ? eb.or(parts) : eb('edge_key', '=', '\u0000none');
    });
  }
  if (q.namespace) s = s.where((eb) => eb.or([eb('src_namespace', '=', q.namespace!), eb('dst_namespace', '=', q.namespace!)]));
  if (q.node) s = s.where((eb) => eb.or([eb('src_id', '=', q.node!), eb('dst_id', '=', q.node!)]));
  return s.orderBy('edge_key');
}

function endpoint(r: FlowEdgesTable, p: 'src' | 'dst'): GraphEndpoint {
  const kind = r[`${p}_kind`] as GraphEndpoint['kind'];
  const e: GraphEndpoint = { id: r[`${p}_id`], kind, label: r[`${p}_label`] };
  if (r.cluster) e.cluster = r.cluster;
  if (r.host) e.host = r.host;
  if (r[`${p}_namespace`]) e.namespace = r[`${p}_namespace`]!;
  if (r[`${p}_name`]) e.name = r[`${p}_name`]!;
  if (r[`${p}_workload_kind`]) e.workloadKind = r[`${p}_workload_kind`]!;
  if (kind === 'external') e.cidr = e.id.slice('external:'.length);
  if (p === 'dst' && r.dst_dns) e.dns = r.dst_dns;
  return e;
}

function toEdge(r: FlowEdgesTable): StoredEdge {
  return {
    key: r.edge_key, ...(r.cluster ? { cluster: r.cluster } : {}), ...(r.host ? { host: r.host } : {}),
    src: endpoint(r, 'src'), dst: endpoint(r, 'dst'), protocol: r.protocol as StoredEdge['protocol'], port: Number(r.port),
    firstSeen: r.first_seen, lastSeen: r.last_seen, connections: num(r.connections),
    ...(r.bytes !== null && r.bytes !== undefined ? { bytes: num(r.bytes) } : {}), meshFlows: num(r.mesh_flows),
  };
}

/**
 * Edges of one page as seen over the window: an edge that began inside the window has its
 * all-time counts; one that began before it gets the sums of its hours whose flows reach into
 * the window (so counts are exact to the hour of the window's start).
 */
async function windowed(db: Db, rows: FlowEdgesTable[], since: string | undefined): Promise<StoredEdge[]> {
  const out = rows.map(toEdge);
  if (!since) return out;
  const partial = new Map(out.filter((e) => e.firstSeen < since).map((e) => [e.key, e]));
  if (!partial.size) return out;
  const keys = [...partial.keys()];
  const hours = await db.selectFrom('flow_edge_hours')
    .select((eb) => ['edge_key', eb.fn.min('first_seen').as('first_seen'), eb.fn.sum<number | string>('connections').as('connections'),
      eb.fn.sum<number | string | null>('bytes').as('bytes'), eb.fn.sum<number | string>('mesh_flows').as('mesh_flows')])
    .where('edge_key', '>=', keys[0]!).where('edge_key', '<=', keys[keys.length - 1]!).where('last_seen', '>=', since)
    .groupBy('edge_key').execute();
  for (const h of hours) {
    const e = partial.get(h.edge_key);
    if (!e) continue;
    e.firstSeen = String(h.first_seen);
    e.connections = num(h.connections);
    if (h.bytes === null || h.bytes === undefined) delete e.bytes;
    else e.bytes = num(h.bytes);
    e.meshFlows = num(h.mesh_flows);
  }
  return out;
}

/** Every observed edge matching the query, in pages of edge keys. */
export async function* observedEdges(db: Db, q: EdgeQuery, page = 5000): AsyncGenerator<StoredEdge[]> {
  let after = '';
  for (;;) {
    const rows = await edgeQuery(db, { ...q, after }).limit(page).execute();
    if (rows.length) yield await windowed(db, rows, q.since);
    if (rows.length < page) return;
    after = rows[rows.length - 1]!.edge_key;
  }
}

/** One page of observed edges (GET /api/v1/network/flows), ordered by edge key. */
export async function observedEdgePage(db: Db, q: EdgeQuery, limit: number, after?: string): Promise<{ items: StoredEdge[]; more: boolean }> {
  const rows = await edgeQuery(db, { ...q, after }).limit(limit + 1).execute();
  return { items: await windowed(db, rows.slice(0, limit), q.since), more: rows.length > limit };
}

/** The first observed flow (over all time) of each of these nodes, as source or destination. */
export async function firstFlows(db: Db, nodes: readonly string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const keep = (id: string, t: string | null) => {
    if (t && (!out.has(id) || t < out.get(id)!)) out.set(id, t);
  };
  for (const part of chunks([...new Set(nodes)], 500)) {
    for (const r of await db.selectFrom('flow_edges').select((eb) => ['src_id', eb.fn.min('first_seen').as('t')]).where('src_id', 'in', part).groupBy('src_id').execute()) keep(r.src_id, r.t);
    for (const r of await db.selectFrom('flow_edges').select((eb) => ['dst_id', eb.fn.min('first_seen').as('t')]).where('dst_id', 'in', part).groupBy('dst_id').execute()) keep(r.dst_id, r.t);
  }
  return out;
}
