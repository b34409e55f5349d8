/**
 * Least-privilege NetworkPolicies from declared intent: a default deny (ingress and egress)
 * per namespace that holds workloads, and per workload that takes part in an intent one
 * policy selecting exactly that workload, allowing only its intended peers and ports in
 * each direction. So that the application keeps working, every namespace also gets DNS
 * egress to kube-dns, and pods behind LoadBalancer/NodePort Services get ingress from
 * anywhere on their target ports (`assumed.ts`; each assumption is reported).
 * `verifyGenerated` re-analyses the cluster with those policies and reports every pair
 * whose allowed connections differ from the intent and those assumptions.
 */
import { stringify } from 'yaml';
import { ConnSet, PROTOCOLS } from './conns.js';
import { elementaryIntervals, containsInterval, formatInterval } from './ipset.js';
import { buildModel, NS_NAME_LABEL, type ClusterModel, type Workload } from './model.js';
import { analyzeConnectivity } from './analyze.js';
import { endpointId, type Endpoint, type IntentConnection } from './intent.js';
import { ANYWHERE, ANYWHERE_PEERS, DNS_CONNS, DNS_LABELS, DNS_NAMESPACE, DNS_PEER, DNS_POLICY_NAME, DNS_PORTS, DNS_SERVER_POLICY_NAME, dnsServers, externalIntents } from './assumed.js';

export interface GenerateResult {
  policies: Record<string, any>[];
  notes: string[];
  /** What was allowed beyond the intent so the application keeps working (DNS, external ingress). */
  assumptions: string[];
}

export const DEFAULT_DENY_NAME = 'gatehouse-default-deny';

function policyName(w: Workload): string {
  const base = `gatehouse-allow-${w.name}-${w.kind.toLowerCase()}`.replace(/[^a-z0-9.-]/g, '-');
  return base.length <= 253 ? base : base.slice(0, 253).replace(/[-.]+$/, '');
}

function peerOf(e: Endpoint): Record<string, any> | Record<string, any>[] {
  if (e === ANYWHERE) return ANYWHERE_PEERS.map((p) => structuredClone(p));
  if (e.type === 'cidr') return { ipBlock: { cidr: e.cidr } };
  return {
    namespaceSelector: { matchLabels: { [NS_NAME_LABEL]: e.w.namespace } },
    podSelector: { matchLabels: { ...e.w.labels } },
  };
}

function portsOf(c: ConnSet): Record<string, any>[] | undefined {
  if (c.isAll()) return undefined;
  const out: Record<string, any>[] = [];
  for (const proto of PROTOCOLS) {
    const ranges = c.ports(proto);
    if (ranges.length === 1 && ranges[0]![0] === 1 && ranges[0]![1] === 65535) {
      out.push({ protocol: proto });
      continue;
    }
    for (const [s, e] of ranges) out.push(s === e ? { protocol: proto, port: s } : { protocol: proto, port: s, endPort: e });
  }
  return out;
}

/** Workloads in the same namespace that a selector on `w`'s labels would also select. */
function alsoSelected(model: ClusterModel, w: Workload): Workload[] {
  return model.workloads.filter(
    (o) => o !== w && !o.synthetic && o.namespace === w.namespace && Object.entries(w.labels).every(([k, v]) => o.labels[k] === v),
  );
}

export function generatePolicies(model: ClusterModel, intents: IntentConnection[]): GenerateResult {
  const notes: string[] = [];
  const namespaces = [...new Set(model.workloads.filter((w) => !w.synthetic).map((w) => w.namespace))].sort();
  const policies: Record<string, any>[] = namespaces.map((ns) => ({
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: DEFAULT_DENY_NAME, namespace: ns },
    spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] },
  }));
  const assumptions: string[] = [];
  // The default deny covers every pod's egress in these namespaces: let them all resolve names.
  for (const ns of namespaces) {
    policies.push({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: DNS_POLICY_NAME, namespace: ns },
      spec: { podSelector: {}, policyTypes: ['Egress'], egress: [{ to: [structuredClone(DNS_PEER)], ports: DNS_PORTS.map((p) => ({ ...p })) }] },
    });
  }
  const denied = model.workloads.filter((w) => !w.synthetic).length;
  if (namespaces.length > 0) {
    assumptions.push(`allowed DNS egress (UDP and TCP 53) to ${DNS_NAMESPACE}/${Object.entries(DNS_LABELS).map(([k, v]) => `${k}=${v}`).join(',')} for ${denied} workload(s) in ${namespaces.length} namespace(s) (policy ${DNS_POLICY_NAME})`);
  }
  // kube-dns itself in the input: its namespace now has a default deny, so let every pod reach it.
  const servers = dnsServers(model);
  if (servers.length > 0) {
    policies.push({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: DNS_SERVER_POLICY_NAME, namespace: DNS_NAMESPACE },
      spec: {
        podSelector: { matchLabels: { ...DNS_LABELS } },
        policyTypes: ['Ingress'],
        ingress: [{ from: [{ namespaceSelector: {} }], ports: DNS_PORTS.map((p) => ({ ...p })) }],
      },
    });
    assumptions.push(`allowed DNS ingress (UDP and TCP 53) from every namespace to ${servers.map((w) => w.id).join(', ')} (policy ${DNS_SERVER_POLICY_NAME})`);
  }
  const external = externalIntents(model);
  assumptions.push(...external.notes);

  // Per workload and direction: peer -> merged connections (insertion order kept for stable output).
  const byWorkload = new Map<string, { w: Workload; ingress: Map<string, { peer: Endpoint; conns: ConnSet }>; egress: Map<string, { peer: Endpoint; conns: ConnSet }> }>();
  const slot = (w: Workload) => {
    let s = byWorkload.get(w.id);
    if (!s) byWorkload.set(w.id, (s = { w, ingress: new Map(), egress: new Map() }));
    return s;
  };
  const add = (m: Map<string, { peer: Endpoint; conns: ConnSet }>, peer: Endpoint, conns: ConnSet) => {
    const prev = m.get(endpointId(peer));
    m.set(endpointId(peer), { peer, conns: prev ? prev.conns.union(conns) : conns });
  };
  for (const i of [...external.intents, ...intents]) {
    if (i.from.type === 'workload' && i.to.type === 'workload' && i.from.w.id === i.to.w.id) continue;
    if (i.from.type === 'workload') add(slot(i.from.w).egress, i.to, i.conns);
    if (i.to.type === 'workload') add(slot(i.to.w).ingress, i.from, i.conns);
  }

  const ordered = [...byWorkload.values()].sort((a, b) => (a.w.id < b.w.id ? -1 : 1));
  for (const { w, ingress, egress } of ordered) {
    if (Object.keys(w.labels).length === 0) {
      notes.push(`${w.id} has no pod labels: no policy can select it alone, so its intended connections are not generated`);
      continue;
    }
    const overlap = alsoSelected(model, w);
    if (overlap.length > 0) notes.push(`a selector on the labels of ${w.id} also selects ${overlap.map((o) => o.id).join(', ')}`);
    for (const { peer } of [...ingress.values(), ...egress.values()]) {
      if (peer.type === 'workload' && alsoSelected(model, peer.w).length > 0) {
        notes.push(`a selector on the labels of ${peer.w.id} also selects ${alsoSelected(model, peer.w).map((o) => o.id).join(', ')}`);
      }
    }
    const rule = (peer: Endpoint, conns: ConnSet, dir: 'from' | 'to') => {
      const ports = portsOf(conns);
      const peers = [peerOf(peer)].flat();
      return ports ? { [dir]: peers, ports } : { [dir]: peers };
    };
    const spec: Record<string, any> = { podSelector: { matchLabels: { ...w.labels } }, policyTypes: [] as string[] };
    if (ingress.size > 0) {
      spec.policyTypes.push('Ingress');
      spec.ingress = [...ingress.values()].map((x) => rule(x.peer, x.conns, 'from'));
    }
    if (egress.size > 0) {
      spec.policyTypes.push('Egress');
      spec.egress = [...egress.values()].map((x) => rule(x.peer, x.conns, 'to'));
    }
    policies.push({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: policyName(w), namespace: w.namespace, annotations: { 'gatehouse.dev/generated-for': w.id } },
      spec,
    });
  }
  return { policies, notes: [...new Set(notes)], assumptions };
}

export function policiesToYaml(policies: Record<string, any>[]): string {
  return policies.map((p) => stringify(p, { lineWidth: 0 })).join('---\n');
}

export interface Mismatch {
  src: string;
  dst: string;
  intended: string;
  allowed: string;
}

/**
 * Re-analyses the cluster's workloads with only the generated policies (existing
 * NetworkPolicies and admin policies left out) and compares every allowed connection with
 * the intent plus what generation assumes (DNS to kube-dns, ingress from anywhere to pods
 * behind LoadBalancer/NodePort Services).
 */
export function verifyGenerated(model: ClusterModel, intents: IntentConnection[], policies: Record<string, any>[]): Mismatch[] {
  const objects = policies.map((p) => ({
    kind: 'NetworkPolicy',
    name: p.metadata.name,
    namespace: p.metadata.namespace,
    labels: {},
    raw: p,
    source: { file: '<generated>', line: 1 },
  }));
  const generated = buildModel(objects);
  const checkModel: ClusterModel = {
    ...model,
    workloads: model.workloads.filter((w) => !w.synthetic),
    netpols: generated.netpols,
    anps: [],
    banp: undefined,
    services: [],
    ingressRoutes: [],
    nads: new Map(),
  };
  const servers = dnsServers(checkModel);
  const all = [...intents, ...externalIntents(model).intents];
  for (const w of checkModel.workloads) {
    for (const d of servers) all.push({ from: { type: 'workload', w }, to: { type: 'workload', w: d }, conns: DNS_CONNS, origin: 'DNS' });
  }
  const actual = new Map<string, string>();
  for (const c of analyzeConnectivity(checkModel)) actual.set(`${c.src.id}\t${c.dst.id}`, c.conns.toString());

  // Expected lines, with CIDRs split the way the analysis splits them.
  const srcCidrs = all.flatMap((i) => (i.from.type === 'cidr' ? [i.from.set] : []));
  const dstCidrs = all.flatMap((i) => (i.to.type === 'cidr' ? [i.to.set] : []));
  const srcIntervals = elementaryIntervals(srcCidrs);
  const dstIntervals = elementaryIntervals(dstCidrs);
  const expected = new Map<string, ConnSet>();
  const put = (s: string, d: string, c: ConnSet) => {
    if (s === d) return;
    const k = `${s}\t${d}`;
    expected.set(k, (expected.get(k) ?? ConnSet.none()).union(c));
  };
  for (const i of all) {
    if (i.from.type === 'workload' && i.to.type === 'workload') put(i.from.w.id, i.to.w.id, i.conns);
    else if (i.from.type === 'cidr' && i.to.type === 'workload') {
      for (const iv of srcIntervals) if (containsInterval(i.from.set, iv)) put(`${formatInterval(iv)}[External]`, i.to.w.id, i.conns);
    } else if (i.from.type === 'workload' && i.to.type === 'cidr') {
      for (const iv of dstIntervals) if (containsInterval(i.to.set, iv)) put(i.from.w.id, `${formatInterval(iv)}[External]`, i.conns);
    }
  }
  const out: Mismatch[] = [];
  for (const k of new Set([...actual.keys(), ...expected.keys()])) {
    const want = expected.get(k)?.toString() ?? 'No Connections';
    const got = actual.get(k) ?? 'No Connections';
    if (want !== got) {
      const [src, dst] = k.split('\t') as [string, string];
      out.push({ src, dst, intended: want, allowed: got });
    }
  }
  return out.sort((a, b) => (a.src + a.dst < b.src + b.dst ? -1 : 1));
}
