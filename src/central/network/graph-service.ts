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
import { hash128 } from '../../findings/fingerprint.js';
import { buildGraph, DEFAULT_LEARNING_WINDOW_MS, PolicyAnalysis, type GraphScope } from '../../network/graph.js';
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
/** Workload kinds read in bulk; ReplicaSets, Jobs and Pods are nearly always owned, so only those that are deployments themselves are read, one by one. */
const WORKLOAD_KINDS = ['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicationController', 'CronJob', 'DeploymentConfig', 'VirtualMachine'];
const OWNED_KINDS = ['Pod', 'ReplicaSet', 'Job'];

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
    const firstFlow = await learningCandidatesFirstFlow(ctx, observed, created, now, query.learningWindowMs ?? DEFAULT_LEARNING_WINDOW_MS);
    const nodeIdOf = (kind: string, namespace: string, name: string) => deploymentId(src.id, kind, namespace, name);
    scopes.push({
      ...where,
      analysis: src.kind === 'cluster' ? analysisOf(ctx, src.id, await clusterObjects(ctx, src.id, src.name), nodeIdOf) : undefined,
      nodeIdOf,
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
 * The first flow (over all time) of the nodes that may still be learning: those whose
 * earliest flow in the window is younger than the learning window, and workloads without
 * flows in the window that are young themselves. Every other node's first flow is older than
 * the window for sure, so it is not looked up.
 */
async function learningCandidatesFirstFlow(ctx: Ctx, observed: readonly StoredEdge[], created: ReadonlyMap<string, string>, now: Date, windowMs: number): Promise<Map<string, string>> {
  const cutoff = new Date(now.getTime() - windowMs).toISOString();
  const earliest = new Map<string, string>();
  for (const e of observed) {
    for (const id of [e.src.id, e.dst.id]) if (!earliest.has(id) || e.firstSeen < earliest.get(id)!) earliest.set(id, e.firstSeen);
  }
  const candidates = [...earliest].filter(([, t]) => t >= cutoff).map(([id]) => id);
  for (const [id, t] of created) if (!earliest.has(id) && t >= cutoff) candidates.push(id);
  const out = await firstFlows(ctx.db, candidates);
  // The others: their earliest flow in the window stands for "older than the learning window".
  for (const [id, t] of earliest) if (!out.has(id)) out.set(id, t);
  return out;
}

interface CachedAnalysis { key: string; analysis: PolicyAnalysis }
const ANALYSES = new WeakMap<object, Map<string, CachedAnalysis>>();

/**
 * The policy analysis of a cluster, kept per Central and source while what it reads does not
 * change (a hash of the fields the netpol and mesh analyses read: labels, selectors, ports,
 * policy specs, mesh annotations). Pod churn and image updates leave it in place.
 */
function analysisOf(ctx: Ctx, sourceId: string, objects: NetpolObject[], nodeIdOf: GraphScope['nodeIdOf']): PolicyAnalysis {
  const key = hash128(objects.map(analysisInput).sort().join('\n'));
  let bySource = ANALYSES.get(ctx);
  if (!bySource) {
    bySource = new Map();
    ANALYSES.set(ctx, bySource);
  }
  const hit = bySource.get(sourceId);
  if (hit?.key === key) return hit.analysis;
  const analysis = new PolicyAnalysis(objects, nodeIdOf);
  bySource.set(sourceId, { key, analysis });
  return analysis;
}

function analysisInput(o: NetpolObject): string {
  const raw = o.raw;
  const wk = workloadKindOf(o.kind);
  let content: unknown;
  if (wk?.runsPods) {
    let tpl: any = raw;
    for (const k of wk.template) tpl = tpl?.[k];
    const spec = tpl?.spec ?? {};
    content = [tpl?.metadata?.labels, tpl?.metadata?.annotations, raw.metadata?.ownerReferences, [...(spec.containers ?? []), ...(spec.initContainers ?? [])].map((c: any) => c?.ports ?? null), spec.hostNetwork];
  } else if (o.kind === 'Namespace') content = [raw.metadata?.labels, raw.metadata?.annotations];
  else if (o.kind === 'Service') content = [raw.spec?.selector, raw.spec?.ports, raw.spec?.type];
  else content = [raw.metadata?.creationTimestamp, raw.spec];
  return `${o.kind}\u001f${o.namespace ?? ''}\u001f${o.name}\u001f${JSON.stringify(o.labels)}\u001f${JSON.stringify(content)}`;
}

/**
 * A cluster's objects for the netpol and mesh analyses, read in pages: the policy kinds, the
 * top-level workloads (owned ones left out, as deployments are), and the bare Pods,
 * ReplicaSets and Jobs that are deployments themselves.
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
  // Bare Pods, ReplicaSets and Jobs (no controller) are deployments of their own; read only those.
  const bare = await ctx.db.selectFrom('deployments').select(['kind', 'namespace', 'name']).where('source_id', '=', sourceId).where('kind', 'in', OWNED_KINDS).where('deleted_at', 'is', null).execute();
  for (const b of bare) {
    const r = await ctx.db.selectFrom('objects').select(['kind', 'namespace', 'name', 'body']).where('source_id', '=', sourceId).where('kind', '=', b.kind)
      .where('namespace', '=', b.namespace).where('name', '=', b.name).where('deleted_at', 'is', null).executeTakeFirst();
    if (r) add(r.kind, r.namespace, r.name, r.body);
  }
  return out;
}
