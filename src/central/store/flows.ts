/**
 * Observed flows, aggregated. A `flow` ingest event (its data an ObservedFlow) is resolved
 * to its two ends (src/central/network/endpoints.ts) and added to one row per edge and hour
 * of `flow_edges` (first and last seen, connections, bytes); the event itself is not kept.
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
import { chunks } from './json.js';
import type { Database, FlowEdgesTable } from './schema.js';

type Db = Kysely<Database> | Transaction<Database>;

export const FLOW_ID_RETENTION_MS = 7 * 24 * 3_600_000;

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
  if (events.length === 0) return 0;
  const fresh = new Set<string>();
  for (const part of chunks([...new Set(events.map((e) => e.id))], 500)) {
    const rows = await db.insertInto('flow_ids').values(part.map((id) => ({ id, received_at: now })))
      .onConflict((oc) => oc.column('id').doNothing()).returning('id').execute();
    for (const r of rows) fresh.add(r.id);
  }
  if (fresh.size === 0) return 0;
  const origin = source.cluster ? { kind: 'cluster' as const, name: source.cluster } : source.host ? { kind: 'host' as const, name: source.host } : undefined;
  const idx = origin ? await index.source(db, origin.kind, origin.name) : undefined;
  const rows = new Map<string, FlowEdgesTable & { connections: number; mesh_flows: number }>();
  let stored = 0;
  for (const e of events) {
    if (!fresh.delete(e.id)) continue; // a duplicate, or the same id twice in this batch (the first wins)
    stored++;
    const f = e.data;
    const { src, dst, port } = index.resolve(idx, { cluster: source.cluster, host: source.host }, f);
    const edgeKey = hash128([idx?.sourceId ?? '', source.cluster ?? '', source.host ?? '', src.id, dst.id, f.protocol, port].join('\u001f'));
    const firstSeen = new Date(f.firstSeen).toISOString();
    const lastSeen = new Date(f.lastSeen).toISOString();
    const bucket = firstSeen.slice(0, 13);
    const id = hash128(`${edgeKey}\u001f${bucket}`);
    const mesh = throughMesh(f) ? 1 : 0;
    const row = rows.get(id);
    if (row) {
      if (firstSeen < row.first_seen) row.first_seen = firstSeen;
      if (lastSeen > row.last_seen) row.last_seen = lastSeen;
      row.connections += f.connections;
      if (f.bytes !== undefined) row.bytes = Number(row.bytes ?? 0) + f.bytes;
      row.mesh_flows += mesh;
      if (!row.dst_dns && f.remote.dns && dst.kind === 'external') row.dst_dns = f.remote.dns;
      continue;
    }
    rows.set(id, {
      id, edge_key: edgeKey, bucket, source_id: idx?.sourceId ?? null, cluster: source.cluster ?? null, host: source.host ?? null,
      ...ends('src', src), ...ends('dst', dst),
      dst_dns: dst.kind === 'external' ? dst.dns ?? null : null,
      protocol: f.protocol, port, first_seen: firstSeen, last_seen: lastSeen, connections: f.connections, bytes: f.bytes ?? null, mesh_flows: mesh,
    });
  }
  for (const part of chunks([...rows.values()], 100)) {
    await db.insertInto('flow_edges').values(part).onConflict((oc) => oc.column('id').doUpdateSet({
      first_seen: sql`case when excluded.first_seen < flow_edges.first_seen then excluded.first_seen else flow_edges.first_seen end`,
      last_seen: sql`case when excluded.last_seen > flow_edges.last_seen then excluded.last_seen else flow_edges.last_seen end`,
      connections: sql`flow_edges.connections + excluded.connections`,
      bytes: sql`case when excluded.bytes is null then flow_edges.bytes when flow_edges.bytes is null then excluded.bytes else flow_edges.bytes + excluded.bytes end`,
      mesh_flows: sql`flow_edges.mesh_flows + excluded.mesh_flows`,
      dst_dns: sql`coalesce(flow_edges.dst_dns, excluded.dst_dns)`,
    })).execute();
  }
  await pruneFlowIds(db, now);
  return stored;
}

function ends<P extends 'src' | 'dst'>(p: P, e: GraphEndpoint) {
  return {
    [`${p}_id`]: e.id, [`${p}_kind`]: e.kind, [`${p}_label`]: e.label, [`${p}_namespace`]: e.namespace ?? null,
    [`${p}_name`]: e.name ?? null, [`${p}_workload_kind`]: e.workloadKind ?? null,
  } as Record<`${P}_id` | `${P}_kind` | `${P}_label`, string> & Record<`${P}_namespace` | `${P}_name` | `${P}_workload_kind`, string | null>;
}

let lastPrune = 0;

/** Forgets flow ids older than the retention, at most once a minute per process. */
async function pruneFlowIds(db: Db, now: string): Promise<void> {
  const t = Date.parse(now);
  if (Math.abs(t - lastPrune) < 60_000) return;
  lastPrune = t;
  await db.deleteFrom('flow_ids').where('received_at', '<', new Date(t - FLOW_ID_RETENTION_MS).toISOString()).execute();
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
  let s = db.selectFrom('flow_edges');
  if (q.after) s = s.where('edge_key', '>', q.after);
  if (q.since) s = s.where('last_seen', '>=', q.since);
  if (q.clusters || q.hosts) {
    const clusters = q.clusters ?? [];
    const hosts = q.hosts ?? [];
    s = s.where((eb) => {
      const parts = [];
      if (clusters.length) parts.push(eb('cluster', 'in', clusters));
      if (hosts.length) parts.push(eb('host', 'in', hosts));
      return parts.length ? eb.or(parts) : eb('id', '=', '\u0000none');
    });
  }
  if (q.namespace) s = s.where((eb) => eb.or([eb('src_namespace', '=', q.namespace!), eb('dst_namespace', '=', q.namespace!)]));
  if (q.node) s = s.where((eb) => eb.or([eb('src_id', '=', q.node!), eb('dst_id', '=', q.node!)]));
  return s.select((eb) => [
    'edge_key', 'cluster', 'host',
    'src_id', 'src_kind', 'src_label', 'src_namespace', 'src_name', 'src_workload_kind',
    'dst_id', 'dst_kind', 'dst_label', 'dst_namespace', 'dst_name', 'dst_workload_kind', 'protocol', 'port',
    eb.fn.max('dst_dns').as('dst_dns'),
    eb.fn.min('first_seen').as('first_seen'),
    eb.fn.max('last_seen').as('last_seen'),
    eb.fn.sum<number | string>('connections').as('connections'),
    eb.fn.sum<number | string | null>('bytes').as('bytes'),
    eb.fn.sum<number | string>('mesh_flows').as('mesh_flows'),
  ]).groupBy([
    'edge_key', 'cluster', 'host',
    'src_id', 'src_kind', 'src_label', 'src_namespace', 'src_name', 'src_workload_kind',
    'dst_id', 'dst_kind', 'dst_label', 'dst_namespace', 'dst_name', 'dst_workload_kind', 'protocol', 'port',
  ]);
}

type EdgeRow = Awaited<ReturnType<ReturnType<typeof edgeQuery>['execute']>>[number];

function endpoint(r: EdgeRow, p: 'src' | 'dst'): GraphEndpoint {
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

function toEdge(r: EdgeRow): StoredEdge {
  const bytes = r.bytes === null || r.bytes === undefined ? undefined : num(r.bytes);
  return {
    key: r.edge_key, ...(r.cluster ? { cluster: r.cluster } : {}), ...(r.host ? { host: r.host } : {}),
    src: endpoint(r, 'src'), dst: endpoint(r, 'dst'), protocol: r.protocol as StoredEdge['protocol'], port: Number(r.port),
    firstSeen: String(r.first_seen), lastSeen: String(r.last_seen), connections: num(r.connections), ...(bytes !== undefined ? { bytes } : {}), meshFlows: num(r.mesh_flows),
  };
}

/** Every observed edge matching the query, aggregated in SQL and read in pages of edge keys. */
export async function* observedEdges(db: Db, q: EdgeQuery, page = 5000): AsyncGenerator<StoredEdge[]> {
  let after = '';
  for (;;) {
    const rows = await edgeQuery(db, { ...q, after }).orderBy('edge_key').limit(page).execute();
    if (rows.length) yield rows.map(toEdge);
    if (rows.length < page) return;
    after = rows[rows.length - 1]!.edge_key;
  }
}

/** One page of observed edges (GET /api/v1/network/flows), ordered by edge key. */
export async function observedEdgePage(db: Db, q: EdgeQuery, limit: number, after?: string): Promise<{ items: StoredEdge[]; more: boolean }> {
  const rows = await edgeQuery(db, { ...q, after }).orderBy('edge_key').limit(limit + 1).execute();
  return { items: rows.slice(0, limit).map(toEdge), more: rows.length > limit };
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
