/**
 * `buildNetworkGraph(ctx, query)`: Central's network graph (GET /api/v1/network/graph, the
 * console's /network page, policy from observation) over what Central stores:
 * - per cluster source, the live objects the netpol analysis needs (Namespaces, top-level
 *   workloads, NetworkPolicies, Services; PeerAuthentications and DestinationRules when
 *   stored), read in pages;
 * - the deployments (nodes) of each cluster or plain host;
 * - the observed edges aggregated in SQL over the window (store/flows.ts), never the events.
 * The graph itself is src/network/graph.ts (pure).
 */
import { ApiError } from '../api/errors.js';
import type { CentralContext } from '../context.js';
import type { NetpolObject } from '../../kube/netpol/model.js';
import { workloadKindOf } from '../../kube/workload-kinds.js';
import { buildGraph, DEFAULT_LEARNING_WINDOW_MS, type GraphScope } from '../../network/graph.js';
import type { GraphNode, NetworkGraph } from '../../network/graph-types.js';
import { deploymentId, isDeployment } from '../live/deployments.js';
import { firstFlows, observedEdges, type StoredEdge } from '../store/flows.js';
import { fromJson } from '../store/json.js';

export interface NetworkGraphQuery {
  /** A cluster (or plain host) source, by name or id; default: every source. */
  cluster?: string;
  /** Only this namespace's workloads and their peers. */
  namespace?: string;
  /** Only this deployment (its id) and its peers. */
  deployment?: string;
  /** Observed edges seen since: RFC 3339, or a duration back from now (`30m`, `24h`, `7d`). Default 24h. */
  since?: string;
  /** Baseline observation window (default 1 h). */
  learningWindowMs?: number;
}

export const DEFAULT_SINCE = '24h';
const PAGE = 2000;
/** Kinds the analyses read besides the workloads. */
const POLICY_KINDS = ['Namespace', 'NetworkPolicy', 'Service', 'PeerAuthentication', 'DestinationRule'];
const WORKLOAD_KINDS = ['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'ReplicationController', 'Job', 'CronJob', 'DeploymentConfig', 'VirtualMachine'];

type Ctx = Pick<CentralContext, 'db' | 'now'>;

/** `since` as an RFC 3339 time: a duration (`90s`, `30m`, `24h`, `7d`) back from now, or a time. */
export function sinceTime(since: string | undefined, now: Date): string {
  const text = since ?? DEFAULT_SINCE;
  const m = /^(\d{1,6})([smhd])$/.exec(text);
  if (m) return new Date(now.getTime() - Number(m[1]) * { s: 1e3, m: 6e4, h: 36e5, d: 864e5 }[m[2] as 's']).toISOString();
  const t = Date.parse(text);
  if (Number.isNaN(t) || !/^\d{4}-\d\d-\d\dT/.test(text)) throw new ApiError(400, 'bad-request', `since "${text}": use a duration (30m, 24h, 7d) or an RFC 3339 time`);
  return new Date(t).toISOString();
}

export async function buildNetworkGraph(ctx: Ctx, query: NetworkGraphQuery = {}): Promise<NetworkGraph> {
  const now = ctx.now();
  const since = sinceTime(query.since, now);
  let sources = await ctx.db.selectFrom('sources').select(['id', 'kind', 'name']).orderBy('kind').orderBy('name').execute();
  if (query.cluster !== undefined) {
    sources = sources.filter((s) => s.name === query.cluster || s.id === query.cluster);
    if (!sources.length) throw new ApiError(404, 'not-found', `no cluster or host ${query.cluster} (GET /api/v1/clusters and /api/v1/hosts list them)`);
  }
  let focus: { id: string; sourceId: string } | undefined;
  if (query.deployment !== undefined) {
    const d = await ctx.db.selectFrom('deployments').select(['id', 'source_id']).where('id', '=', query.deployment).executeTakeFirst();
    if (!d) throw new ApiError(404, 'not-found', `no deployment ${query.deployment}`);
    focus = { id: d.id, sourceId: d.source_id };
    sources = sources.filter((s) => s.id === d.source_id);
  }

  const scopes: GraphScope[] = [];
  for (const src of sources) {
    const where = src.kind === 'cluster' ? { cluster: src.name } : { host: src.name };
    let dq = ctx.db.selectFrom('deployments').select(['id', 'kind', 'namespace', 'name', 'labels', 'first_seen']).where('source_id', '=', src.id).where('deleted_at', 'is', null);
    if (query.namespace !== undefined) dq = dq.where('namespace', '=', query.namespace);
    if (focus) dq = dq.where('id', '=', focus.id);
    const nodes: GraphNode[] = [];
    const created = new Map<string, string>();
    for (const d of await dq.execute()) {
      nodes.push({
        id: d.id, kind: 'deployment', label: src.kind === 'host' ? `${src.name}/${d.name}` : `${d.namespace}/${d.name}`, ...where,
        ...(d.namespace ? { namespace: d.namespace } : {}), name: d.name, workloadKind: d.kind, labels: fromJson<Record<string, string>>(d.labels, {}),
      });
      created.set(d.id, d.first_seen);
    }
    const observed: StoredEdge[] = [];
    for await (const page of observedEdges(ctx.db, { since, ...(src.kind === 'cluster' ? { clusters: [src.name] } : { hosts: [src.name] }), namespace: query.namespace, node: focus?.id })) {
      for (const e of page) observed.push(e);
    }
    const focusIds = new Set(nodes.map((n) => n.id));
    const firstFlow = await firstFlows(ctx.db, [...focusIds, ...observed.flatMap((e) => [e.src.id, e.dst.id])]);
    scopes.push({
      ...where,
      objects: src.kind === 'cluster' ? await clusterObjects(ctx, src.id, src.name) : undefined,
      nodeIdOf: (kind, namespace, name) => deploymentId(src.id, kind, namespace, name),
      nodes,
      observed,
      firstFlow,
      created,
      include: query.namespace !== undefined || focus ? (id) => focusIds.has(id) : undefined,
    });
  }
  return buildGraph(scopes, { now, learningWindowMs: query.learningWindowMs ?? DEFAULT_LEARNING_WINDOW_MS });
}

/**
 * A cluster's objects for the netpol and mesh analyses, read in pages: the policy kinds, the
 * top-level workloads (owned ReplicaSets and Jobs left out, as deployments are), and the bare
 * Pods that are deployments themselves.
 */
async function clusterObjects(ctx: Ctx, sourceId: string, name: string): Promise<NetpolObject[]> {
  const out: NetpolObject[] = [];
  const add = (kind: string, namespace: string, objName: string, text: string) => {
    const raw = fromJson<Record<string, any>>(text, {});
    if (workloadKindOf(kind)?.runsPods && !isDeployment({ kind, namespace, name: objName, body: raw })) return;
    out.push({ kind, name: objName, namespace: namespace || undefined, labels: (raw.metadata?.labels ?? {}) as Record<string, string>, raw, source: { file: `cluster ${name}`, line: 0 } });
  };
  let after = { kind: '', namespace: '', name: '' };
  for (;;) {
    const rows = await ctx.db.selectFrom('objects').select(['kind', 'namespace', 'name', 'body']).where('source_id', '=', sourceId).where('deleted_at', 'is', null)
      .where('kind', 'in', [...POLICY_KINDS, ...WORKLOAD_KINDS])
      .where((eb) => eb.or([
        eb('kind', '>', after.kind),
        eb.and([eb('kind', '=', after.kind), eb('namespace', '>', after.namespace)]),
        eb.and([eb('kind', '=', after.kind), eb('namespace', '=', after.namespace), eb('name', '>', after.name)]),
      ]))
      .orderBy('kind').orderBy('namespace').orderBy('name').limit(PAGE).execute();
    for (const r of rows) add(r.kind, r.namespace, r.name, r.body);
    if (rows.length < PAGE) break;
    const last = rows[rows.length - 1]!;
    after = { kind: last.kind, namespace: last.namespace, name: last.name };
  }
  // Bare Pods (no controller) are deployments of their own; read only those.
  const bare = await ctx.db.selectFrom('deployments').select(['namespace', 'name']).where('source_id', '=', sourceId).where('kind', '=', 'Pod').where('deleted_at', 'is', null).execute();
  for (const b of bare) {
    const r = await ctx.db.selectFrom('objects').select(['kind', 'namespace', 'name', 'body']).where('source_id', '=', sourceId).where('kind', '=', 'Pod')
      .where('namespace', '=', b.namespace).where('name', '=', b.name).where('deleted_at', 'is', null).executeTakeFirst();
    if (r) add(r.kind, r.namespace, r.name, r.body);
  }
  return out;
}
