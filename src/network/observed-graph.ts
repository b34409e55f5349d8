/**
 * Observed edges from Central's network graph (`NetworkGraph`, what `GET /api/v1/network/graph`
 * returns): every edge with an `observed` record, its ends resolved from the graph's nodes —
 * deployment nodes by namespace / name / workload kind, external nodes by the CIDR or
 * address in their id or label. Service and namespace nodes are not single workloads: a
 * Service node is resolved to the workloads its selector picks in the model (with the
 * Service port mapped to the target port); a namespace node is left out with a note.
 */
import type { ClusterModel } from '../kube/netpol/model.js';
import type { GraphNode, NetworkGraph } from './graph-types.js';
import type { ObservedEdge, ObservedInput, ObservedPeer } from './observed-policy.js';

const ADDRESS = /^(?:\d{1,3}(?:\.\d{1,3}){3}(?:\/\d{1,2})?|[0-9a-f]*:[0-9a-f:.]*(?:\/\d{1,3})?)$/i;

function externalOf(n: GraphNode): string | undefined {
  const candidates = [n.id.replace(/^external:/, ''), n.label];
  return candidates.find((c) => ADDRESS.test(c));
}

/** The Service node's backends and its target port (undefined: unchanged). */
function serviceEnds(model: ClusterModel, n: GraphNode, port: number | undefined): { peers: ObservedPeer[]; port: number | undefined }[] {
  const svc = model.services.find((s) => s.namespace === n.namespace && s.name === n.name);
  if (!svc?.selector) return [];
  const out: { peers: ObservedPeer[]; port: number | undefined }[] = [];
  for (const w of model.workloads) {
    if (w.synthetic || w.namespace !== svc.namespace || !Object.entries(svc.selector).every(([k, v]) => w.labels[k] === v)) continue;
    let target = port;
    const sp = port === undefined ? undefined : svc.ports.find((p) => p.port === port);
    if (sp) {
      const t = sp.targetPort ?? sp.port;
      target = typeof t === 'number' ? t : w.ports.find((c) => c.name === t)?.port;
    }
    out.push({ peers: [{ type: 'workload', namespace: w.namespace, name: w.name, kind: w.kind }], port: target });
  }
  return out;
}

export function observedFromGraph(graph: NetworkGraph, model: ClusterModel): ObservedInput & { notes: string[] } {
  const nodes = new Map(graph.nodes.map((n) => [n.id, n]));
  const notes: string[] = [];
  const edges: ObservedEdge[] = [];
  const learning = graph.nodes.filter((n) => n.kind === 'deployment' && n.learning && n.namespace && n.name).map((n) => `${n.namespace}/${n.name}${n.workloadKind ? `[${n.workloadKind}]` : ''}`);

  const ends = (n: GraphNode | undefined, port: number | undefined, isDst: boolean): { peers: ObservedPeer[]; port: number | undefined }[] | string => {
    if (!n) return 'an edge names a node the graph does not hold';
    if (n.kind === 'deployment') {
      if (!n.namespace || !n.name) return `${n.label}: not a Kubernetes workload (no namespace)`;
      if (n.workloadKind === 'Container') return `${n.label}: a plain-host container (NetworkPolicies do not apply)`;
      return [{ peers: [{ type: 'workload', namespace: n.namespace, name: n.name, kind: n.workloadKind }], port }];
    }
    if (n.kind === 'external') {
      const cidr = externalOf(n);
      return cidr ? [{ peers: [{ type: 'external', cidr }], port }] : `${n.label}: an external peer without an address or CIDR`;
    }
    if (n.kind === 'service' && isDst) {
      const list = serviceEnds(model, n, port);
      return list.length ? list : `${n.label}: a Service without backends in the manifests`;
    }
    return `${n.label}: a ${n.kind} node is not one workload`;
  };
  for (const e of graph.edges) {
    if (!e.observed) continue;
    const portEnd = (e as { portEnd?: number }).portEnd;
    const src = ends(nodes.get(e.source), e.port, false);
    const dst = ends(nodes.get(e.target), e.port, true);
    if (typeof src === 'string' || typeof dst === 'string') {
      notes.push(`observed edge ${e.source} -> ${e.target} skipped: ${typeof src === 'string' ? src : dst}`);
      continue;
    }
    for (const s of src) {
      for (const d of dst) {
        for (const sp of s.peers) {
          for (const dp of d.peers) edges.push({ src: sp, dst: dp, protocol: e.protocol, port: d.port, ...(portEnd !== undefined && d.port === e.port ? { portEnd } : {}), connections: e.observed.connections, lastSeen: e.observed.lastSeen });
        }
      }
    }
  }
  return { edges, learning, notes: [...new Set(notes)] };
}
