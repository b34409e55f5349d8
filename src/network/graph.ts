/**
 * The network graph engine (pure: no store, no clock of its own): workloads and the peers
 * they talk to, with
 * - observed edges (what the sensors saw, already resolved to endpoints by Central),
 * - allowed edges from the NetworkPolicy analysis of the same workloads (`netpol analyze`'s
 *   engine, np-guard semantics), and
 * - flags: `observed-not-allowed` (a policy is missing or wrong) and `allowed-not-observed`
 *   (a policy grants more than is used: over-permissive).
 *
 * Allowed edges are listed only where a policy decides: the destination is isolated for
 * ingress or the source for egress (a NetworkPolicy or an admin policy selects it). Pairs
 * that are allowed only because nothing isolates either end are not listed one by one (with
 * no policy at all that would be every pair of workloads); an observed edge between such
 * workloads is simply `allowed: true`.
 *
 * mTLS per edge: from the manifests (Istio sidecars and PeerAuthentication /
 * DestinationRule modes, Linkerd inject and skip-ports annotations) and, where the
 * manifests cannot tell, from the flows (a mesh proxy at either end: `meshFlows`).
 *
 * Learning: a node is `learning` while its first observed flow is younger than the baseline
 * window (default 1 h); a workload never seen talking is learning while it is itself younger
 * than the window. Its observed edges are not yet the full picture, so a policy generated
 * from them (or an `allowed-not-observed` flag on it) is provisional.
 */
import type { Connection } from '../kube/netpol/analyze.js';
import { analyzeConnectivity, NetpolEngine, type Peer } from '../kube/netpol/analyze.js';
import type { ConnSet, Protocol } from '../kube/netpol/conns.js';
import { formatInterval, parseCidr, type Interval } from '../kube/netpol/ipset.js';
import { buildModel, type ClusterModel, type NetpolObject, type Workload } from '../kube/netpol/model.js';
import { workloadKindOf } from '../kube/workload-kinds.js';
import type { FlowProtocol } from './flow.js';
import type { EdgeFlag, GraphEdge, GraphNode, GraphNodeKind, NetworkGraph } from './graph-types.js';
import { meshProfiles, edgeMtls, type MeshProfiles } from './graph-mesh.js';

/** One end of an observed edge, as Central resolved it. */
export interface GraphEndpoint {
  id: string;
  kind: GraphNodeKind;
  label: string;
  cluster?: string;
  host?: string;
  namespace?: string;
  name?: string;
  workloadKind?: string;
  /** External ends: the CIDR (`10.1.2.3/32`). */
  cidr?: string;
  dns?: string;
}

export interface ObservedEdgeInput {
  src: GraphEndpoint;
  dst: GraphEndpoint;
  protocol: FlowProtocol;
  /** The destination (server) port. */
  port: number;
  firstSeen: string;
  lastSeen: string;
  connections: number;
  bytes?: number;
  /** Flows of the edge that went through a mesh proxy (mTLS evidence). */
  meshFlows: number;
}

/** One cluster (or plain host) of the graph. */
export interface GraphScope {
  cluster?: string;
  host?: string;
  /**
   * The Kubernetes objects the allowed edges and the mesh coverage come from: Namespaces,
   * top-level workloads, NetworkPolicies, Services, and PeerAuthentications and
   * DestinationRules when known. Undefined for a plain host (no policy applies: every
   * observed edge is allowed, none is listed as allowed-not-observed).
   */
  objects?: NetpolObject[];
  /** The analysis of `objects`, when the caller keeps one (analyzePolicies; it depends on the objects only). */
  analysis?: PolicyAnalysis;
  /** The graph node id of a workload of the model (Central: its deployment id). */
  nodeIdOf(kind: string, namespace: string, name: string): string;
  /** Workload nodes of the scope (the deployments). */
  nodes: GraphNode[];
  observed: ObservedEdgeInput[];
  /** First observed flow of each node (over all time, not only the query window). */
  firstFlow: ReadonlyMap<string, string>;
  /** When each workload node was first seen (learning without any flow). */
  created?: ReadonlyMap<string, string>;
  /** Which allowed-not-observed edges to list (a namespace or deployment focus); default all. */
  include?(nodeId: string): boolean;
}

export interface GraphOptions {
  now: Date;
  /** Baseline observation window in ms (default 1 h). */
  learningWindowMs?: number;
}

export const DEFAULT_LEARNING_WINDOW_MS = 3_600_000;

export function buildGraph(scopes: readonly GraphScope[], options: GraphOptions): NetworkGraph {
  const nodes = new Map<string, GraphNode>();
  const edges: GraphEdge[] = [];
  for (const scope of scopes) scopeGraph(scope, nodes, edges);
  const window = options.learningWindowMs ?? DEFAULT_LEARNING_WINDOW_MS;
  const now = options.now.getTime();
  const young = (t: string | undefined) => t !== undefined && now - Date.parse(t) < window;
  for (const scope of scopes) {
    for (const n of nodes.values()) {
      if (n.cluster !== scope.cluster || n.host !== scope.host) continue;
      const first = scope.firstFlow.get(n.id);
      const learning = first !== undefined ? young(first) : n.kind === 'deployment' && young(scope.created?.get(n.id));
      if (learning) n.learning = true;
    }
  }
  const sorted = [...nodes.values()].sort((a, b) => a.id.localeCompare(b.id));
  edges.sort((a, b) => a.id.localeCompare(b.id));
  return {
    generatedAt: options.now.toISOString(),
    nodes: sorted,
    edges,
    counts: {
      nodes: sorted.length,
      edges: edges.length,
      observedNotAllowed: edges.filter((e) => e.flag === 'observed-not-allowed').length,
      allowedNotObserved: edges.filter((e) => e.flag === 'allowed-not-observed').length,
    },
  };
}

function nodeOf(e: GraphEndpoint, scope: GraphScope): GraphNode {
  const n: GraphNode = { id: e.id, kind: e.kind, label: e.label };
  if (scope.cluster) n.cluster = scope.cluster;
  if (scope.host) n.host = scope.host;
  if (e.namespace) n.namespace = e.namespace;
  if (e.name) n.name = e.name;
  if (e.workloadKind) n.workloadKind = e.workloadKind;
  if (e.dns) n.dns = e.dns;
  return n;
}

/**
 * The netpol and mesh analyses of a scope's objects, with lookups from graph nodes to its
 * peers. It depends on the objects only, so a caller may keep it while they do not change
 * (Central keys it by a hash of the objects): the connections a policy decides are computed
 * once, on first use.
 */
export class PolicyAnalysis {
  readonly model: ClusterModel;
  readonly engine: NetpolEngine;
  readonly mesh: MeshProfiles;
  private readonly byNode = new Map<string, Workload>();
  private readonly podLabels = new Map<string, Record<string, string>>();
  private governedConns: Connection[] | undefined;

  constructor(objects: NetpolObject[], readonly nodeIdOf: GraphScope['nodeIdOf']) {
    this.model = buildModel(withSelectedLabelsOnly(objects));
    // Service ends are matched against the full pod labels (the model's are cut to what policies read).
    for (const o of objects) {
      const wk = workloadKindOf(o.kind);
      if (!wk?.runsPods) continue;
      let tpl: any = o.raw;
      for (const k of wk.template) tpl = tpl?.[k];
      const labels = (wk.template.length ? tpl?.metadata?.labels : o.raw.metadata?.labels) ?? {};
      this.podLabels.set(nodeIdOf(o.kind, o.namespace || 'default', o.name), labels as Record<string, string>);
    }
    this.engine = new NetpolEngine(this.model);
    this.mesh = meshProfiles(objects, nodeIdOf);
    for (const w of this.model.workloads) if (!w.synthetic) this.byNode.set(nodeIdOf(w.kind, w.namespace, w.name), w);
  }

  /** The allowed connections between workloads (and IP ranges) where a policy decides: the source egress-isolated or the destination ingress-isolated. */
  governed(): Connection[] {
    this.governedConns ??= analyzeConnectivity(this.model).filter((c) => !c.secondary && (this.governs(c.src, false) || this.governs(c.dst, true)));
    return this.governedConns;
  }

  workload(id: string): Workload | undefined {
    return this.byNode.get(id);
  }

  /** The peers an endpoint stands for (a Service: the workloads it selects); an end the model does not know: an address no ipBlock holds. */
  peers(e: GraphEndpoint): Peer[] {
    if (e.kind === 'deployment') {
      const w = this.byNode.get(e.id);
      if (w) return [{ type: 'workload', w, id: w.id }];
    } else if (e.kind === 'external') {
      const iv = e.cidr ? parseCidr(e.cidr) : undefined;
      // Addresses outside IPv4 (the netpol engine's ipBlocks are IPv4) match no ipBlock.
      return [{ type: 'ip', iv: iv ?? NOWHERE, id: e.cidr ?? e.id }];
    } else if (e.kind === 'service' && e.namespace && e.name) {
      const svc = this.model.services.find((s) => s.namespace === e.namespace && s.name === e.name);
      const sel = svc?.selector;
      const selected = sel ? [...this.byNode].filter(([id, w]) => w.namespace === e.namespace && Object.entries(sel).every(([k, v]) => this.podLabels.get(id)?.[k] === v)).map(([, w]) => w) : [];
      if (selected.length) return selected.map((w) => ({ type: 'workload', w, id: w.id }));
    }
    return [{ type: 'ip', iv: NOWHERE, id: e.id }];
  }

  /** Whether a policy (not the default allow-all) decides traffic of this peer in this direction. */
  governs(p: Peer, ingress: boolean): boolean {
    if (p.type !== 'workload' || p.w.synthetic) return false;
    const sel = this.engine.selectionOf(p.w);
    return !sel.adminFree || (ingress ? sel.ingressNps : sel.egressNps).length > 0;
  }

  allows(src: GraphEndpoint, dst: GraphEndpoint, protocol: Protocol, port: number): boolean {
    for (const s of this.peers(src)) for (const d of this.peers(dst)) if (this.engine.allowed(s, d).contains(protocol, port)) return true;
    return false;
  }
}

/**
 * The objects with each workload's pod labels cut to the keys some selector reads (policies'
 * matchLabels / matchExpressions; Services' selectors when Ingresses or Routes route to them). Labels no selector reads cannot change
 * any verdict, and dropping them lets the analysis treat workloads that differ only there
 * (an `app` label unique per workload, say) as one class: far fewer pairs to evaluate.
 */
function withSelectedLabelsOnly(objects: NetpolObject[]): NetpolObject[] {
  const keys = new Set<string>();
  const walk = (v: unknown, depth: number): void => {
    if (depth > 12 || !v || typeof v !== 'object') return;
    if (Array.isArray(v)) {
      for (const x of v) walk(x, depth + 1);
      return;
    }
    for (const [k, x] of Object.entries(v)) {
      if (k === 'matchLabels' && x && typeof x === 'object') {
        for (const key of Object.keys(x)) keys.add(key);
      } else if (k === 'matchExpressions' && Array.isArray(x)) {
        for (const e of x) if (typeof e?.key === 'string') keys.add(e.key);
      } else {
        walk(x, depth + 1);
      }
    }
  };
  const routed = objects.some((x) => x.kind === 'Ingress' || x.kind === 'Route');
  for (const o of objects) {
    // Services matter to the analysis only through Ingresses and Routes (the ingress controller's reach).
    if (o.kind === 'Service') {
      if (routed) for (const key of Object.keys(o.raw.spec?.selector ?? {})) keys.add(key);
    } else if (!workloadKindOf(o.kind)?.runsPods && o.kind !== 'Namespace') walk(o.raw.spec, 0);
  }
  const cut = (labels: unknown): Record<string, string> | undefined =>
    labels && typeof labels === 'object' ? Object.fromEntries(Object.entries(labels).filter(([k]) => keys.has(k))) : undefined;
  return objects.map((o) => {
    const wk = workloadKindOf(o.kind);
    if (!wk?.runsPods) return o;
    if (wk.template.length === 0) return { ...o, labels: cut(o.labels) ?? {}, raw: { ...o.raw, metadata: { ...o.raw.metadata, labels: cut(o.raw.metadata?.labels) } } };
    // Copy the path down to the template's metadata, the rest shared.
    const raw = { ...o.raw };
    let from: any = o.raw;
    let to: any = raw;
    for (const k of wk.template) {
      from = from?.[k];
      if (!from || typeof from !== 'object') return o;
      to[k] = { ...from };
      to = to[k];
    }
    to.metadata = { ...to.metadata, labels: cut(to.metadata?.labels) };
    return { ...o, raw };
  });
}

/** An interval no ipBlock holds (IPv4 addresses are 0 … 2^32-1). */
const NOWHERE: Interval = [-1, -1];

function scopeGraph(scope: GraphScope, nodes: Map<string, GraphNode>, edges: GraphEdge[]): void {
  for (const n of scope.nodes) nodes.set(n.id, { ...n });
  const policies = scope.analysis ?? (scope.objects ? new PolicyAnalysis(scope.objects, scope.nodeIdOf) : undefined);
  const mesh: MeshProfiles | undefined = policies?.mesh;
  const observedFrom = new Map<string, ObservedEdgeInput[]>();
  const observedTo = new Map<string, ObservedEdgeInput[]>();

  for (const o of scope.observed) {
    if (!nodes.has(o.src.id)) nodes.set(o.src.id, nodeOf(o.src, scope));
    if (!nodes.has(o.dst.id)) nodes.set(o.dst.id, nodeOf(o.dst, scope));
    const allowed = policies ? policies.allows(o.src, o.dst, o.protocol, o.port) : true;
    const edge: GraphEdge = {
      id: `${o.src.id}>${o.dst.id}:${o.protocol}/${o.port}`,
      source: o.src.id,
      target: o.dst.id,
      protocol: o.protocol,
      port: o.port,
      allowed,
      observed: { firstSeen: o.firstSeen, lastSeen: o.lastSeen, connections: o.connections, ...(o.bytes !== undefined ? { bytes: o.bytes } : {}) },
      mtls: edgeMtls(mesh, o.src, o.dst, o.port, o.meshFlows),
    };
    if (!allowed) edge.flag = 'observed-not-allowed';
    edges.push(edge);
    for (const [m, k] of [[observedFrom, o.src.id], [observedTo, o.dst.id]] as const) {
      const list = m.get(k);
      if (list) list.push(o);
      else m.set(k, [o]);
    }
  }

  if (!policies) return;
  for (const n of nodes.values()) {
    if (n.kind !== 'deployment' || n.cluster !== scope.cluster || n.host !== scope.host) continue;
    const w = policies.workload(n.id);
    if (w) n.isolated = { ingress: policies.governs({ type: 'workload', w, id: w.id }, true), egress: policies.governs({ type: 'workload', w, id: w.id }, false) };
  }
  for (const c of policies.governed()) {
    const src = peerNode(c.src, scope, nodes);
    const dst = peerNode(c.dst, scope, nodes);
    if (!src || !dst) continue;
    if (scope.include && !scope.include(src.id) && !scope.include(dst.id)) continue;
    const seen = observedMatching(c, src.id, dst.id, observedFrom, observedTo);
    for (const [protocol, from, to] of rangesOf(c.conns)) {
      if (seen.some((o) => o.protocol === protocol && o.port >= from && o.port <= to)) continue;
      const edge: GraphEdge = {
        id: `${src.id}>${dst.id}:${protocol}/${from === 1 && to === 65535 ? '*' : from === to ? from : `${from}-${to}`}`,
        source: src.id,
        target: dst.id,
        protocol,
        allowed: true,
        flag: 'allowed-not-observed' satisfies EdgeFlag,
        mtls: edgeMtls(mesh, endpointOfNode(src), endpointOfNode(dst), from === to ? from : undefined, 0),
      };
      if (!(from === 1 && to === 65535)) {
        edge.port = from;
        if (to !== from) edge.portEnd = to;
      }
      if (!nodes.has(src.id)) nodes.set(src.id, src);
      if (!nodes.has(dst.id)) nodes.set(dst.id, dst);
      edges.push(edge);
    }
  }
}

function endpointOfNode(n: GraphNode): GraphEndpoint {
  return { id: n.id, kind: n.kind, label: n.label, namespace: n.namespace, name: n.name, workloadKind: n.workloadKind };
}

/** Observed edges a connection of the analysis covers: same workloads, or external addresses inside its IP range. */
function observedMatching(c: Connection, srcId: string, dstId: string, from: Map<string, ObservedEdgeInput[]>, to: Map<string, ObservedEdgeInput[]>): ObservedEdgeInput[] {
  const out: ObservedEdgeInput[] = [];
  const within = (e: GraphEndpoint, iv: Interval) => {
    const own = e.kind === 'external' && e.cidr ? parseCidr(e.cidr) : undefined;
    return !!own && own[0] >= iv[0] && own[1] <= iv[1];
  };
  const lists = c.src.type === 'workload' ? [from.get(srcId) ?? []] : c.dst.type === 'workload' ? [to.get(dstId) ?? []] : from.values();
  for (const list of lists) {
    for (const o of list) {
      const srcOk = c.src.type === 'ip' ? within(o.src, c.src.iv) : o.src.id === srcId;
      const dstOk = c.dst.type === 'ip' ? within(o.dst, c.dst.iv) : o.dst.id === dstId;
      if (srcOk && dstOk) out.push(o);
    }
  }
  return out;
}

/** The graph node of an analysis peer: the workload's node, or an `external:` range node. */
function peerNode(p: Peer, scope: GraphScope, nodes: Map<string, GraphNode>): GraphNode | undefined {
  if (p.type === 'workload') {
    if (p.w.synthetic) return undefined;
    const id = scope.nodeIdOf(p.w.kind, p.w.namespace, p.w.name);
    return nodes.get(id) ?? { id, kind: 'deployment', label: `${p.w.namespace}/${p.w.name}`, namespace: p.w.namespace, name: p.w.name, workloadKind: p.w.kind, ...(scope.cluster ? { cluster: scope.cluster } : {}) };
  }
  const text = formatInterval(p.iv);
  const id = `external:${text}`;
  return nodes.get(id) ?? { id, kind: 'external', label: text, ...(scope.cluster ? { cluster: scope.cluster } : {}) };
}

function rangesOf(conns: ConnSet): [Protocol, number, number][] {
  const out: [Protocol, number, number][] = [];
  for (const proto of ['TCP', 'UDP', 'SCTP'] as const) for (const [s, e] of conns.ports(proto)) out.push([proto, s, e]);
  return out;
}
