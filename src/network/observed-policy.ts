/**
 * Least-privilege NetworkPolicies from what was observed talking (issue 23, part 3).
 *
 * Input: observed edges (from Central's network graph, `observed-graph.ts`, or from the
 * sensor's flow file, `observed-flows.ts`) and the manifests' connectivity model. Each
 * observed edge becomes an IntentConnection (workload → workload, or workload ↔ an
 * external address as an ipBlock); manifest intent (an intent file, env / ConfigMap service
 * references) is merged in, and the existing generator (`generatePolicies`) writes the
 * policies with label selectors — a default deny per namespace, DNS egress to kube-dns,
 * ingress from anywhere to LoadBalancer/NodePort backends, and one policy per workload.
 *
 * Workloads still in their baseline window (`learning`) have not shown all their traffic
 * yet: a deny built from an incomplete observation would cut their legitimate but not yet
 * seen connections, which is exactly the breakage policy-from-observation must avoid. So by
 * default (`learning: 'open'`) each of them also gets a marked allow-all policy
 * (`gatehouse-learning-…`, ingress and egress `[{}]`): NetworkPolicies add up, so the
 * namespace's default deny does not isolate them, and deleting that one policy once the
 * window closes turns on what was observed. `learning: 'enforce'` treats them like the rest.
 */
import { stringify } from 'yaml';
import { ConnSet, type Protocol } from '../kube/netpol/conns.js';
import { parseCidr, isIpv6Cidr } from '../kube/netpol/ipset.js';
import { generatePolicies, DEFAULT_DENY_NAME } from '../kube/netpol/generate.js';
import type { Endpoint, IntentConnection } from '../kube/netpol/intent.js';
import type { ClusterModel, Workload } from '../kube/netpol/model.js';
import type { FlowProtocol } from './flow.js';
import { simulatePolicies, type Simulation } from './observed-simulate.js';

export type ObservedPeer =
  | { type: 'workload'; namespace: string; name: string; kind?: string }
  /** An address (`1.2.3.4`) or a CIDR (`10.0.0.0/8`, IPv6 too). */
  | { type: 'external'; cidr: string };

export interface ObservedEdge {
  src: ObservedPeer;
  dst: ObservedPeer;
  protocol: FlowProtocol;
  /** Destination port; undefined: every port of the protocol. */
  port?: number;
  /** With `port`: the last port of a range. */
  portEnd?: number;
  connections?: number;
  lastSeen?: string;
}

export interface ObservedInput {
  edges: ObservedEdge[];
  /** Workloads still in their baseline window, as `ns/name` or `ns/name[Kind]`. */
  learning?: string[];
}

export interface ObservedPolicyOptions {
  /** Manifest intent to merge (intent file, env / ConfigMap references). */
  intents?: IntentConnection[];
  /** open (default): learning workloads get a marked allow-all policy; enforce: no exception. */
  learning?: 'open' | 'enforce';
  /** Only policies for this namespace (peers elsewhere are still resolved). */
  namespace?: string;
  /** Observed edges touching these (`ns/name`, `ns/name[Kind]`, an address or CIDR) are left out. */
  exclude?: string[];
  /** The simulation's lists are cut at this many rows each (counts stay whole); default 1000. */
  limit?: number;
  /** Simulation: existing NetworkPolicies of the covered namespaces are replaced (default) or kept. */
  keepExisting?: boolean;
}

export interface LearningMark {
  workload: string;
  /** The allow-all policy that keeps it open (undefined with learning: 'enforce' or without pod labels). */
  openPolicy?: string;
}

export interface ObservedPolicyResult {
  policies: Record<string, any>[];
  yaml: string;
  learning: LearningMark[];
  /** Workloads with no observed connection at all (not learning): they get only the default deny and DNS. */
  unobserved: string[];
  /** The observed edges that became intent, resolved (`src`, `dst` as workload ids or CIDRs). */
  intents: { src: string; dst: string; connections: string; origin: string }[];
  simulation: Simulation;
  notes: string[];
  assumptions: string[];
}

export const LEARNING_ANNOTATION = 'gatehouse.dev/learning';
export const LEARNING_POLICY_PREFIX = 'gatehouse-learning-';

function connsOf(protocol: FlowProtocol, port: number | undefined, portEnd?: number): ConnSet {
  return port === undefined ? ConnSet.of(protocol as Protocol) : ConnSet.of(protocol as Protocol, [[port, portEnd !== undefined && portEnd > port ? portEnd : port]]);
}

const byName = new WeakMap<ClusterModel, Map<string, Workload[]>>();

/** Resolves `ns/name` or `ns/name[Kind]` (or a peer) to one model workload. */
export function findWorkload(model: ClusterModel, namespace: string, name: string, kind?: string): Workload | undefined {
  let index = byName.get(model);
  if (!index) {
    index = new Map();
    for (const w of model.workloads) {
      if (w.synthetic) continue;
      const k = `${w.namespace}/${w.name}`;
      index.set(k, [...(index.get(k) ?? []), w]);
    }
    byName.set(model, index);
  }
  const found = (index.get(`${namespace}/${name}`) ?? []).filter((w) => kind === undefined || w.kind === kind);
  return found.length === 1 ? found[0] : undefined;
}

function parseRef(ref: string): { namespace: string; name: string; kind?: string } | undefined {
  const m = /^([^/]+)\/([^/[\]]+)(?:\[(\w+)\])?$/.exec(ref.trim());
  return m ? { namespace: m[1]!, name: m[2]!, kind: m[3] } : undefined;
}

/** An external end as an ipBlock endpoint: an address becomes a /32 (/128), IPv6 kept for the YAML only. */
export function externalEndpoint(cidrOrIp: string): Endpoint | undefined {
  const text = cidrOrIp.trim();
  if (isIpv6Cidr(text)) {
    if (!/^[0-9a-f:.]+(\/\d{1,3})?$/i.test(text)) return undefined;
    return { type: 'cidr', cidr: text.includes('/') ? text : `${text}/128`, set: [] };
  }
  const iv = parseCidr(text);
  if (!iv) return undefined;
  return { type: 'cidr', cidr: text.includes('/') ? text : `${text}/32`, set: [iv] };
}

function matchesExclude(model: ClusterModel, peer: Endpoint, exclude: string[]): boolean {
  for (const x of exclude) {
    if (peer.type === 'workload') {
      const r = parseRef(x);
      if (r && r.namespace === peer.w.namespace && r.name === peer.w.name && (r.kind === undefined || r.kind === peer.w.kind)) return true;
    } else {
      const ex = externalEndpoint(x);
      if (ex && ex.type === 'cidr') {
        if (ex.cidr === peer.cidr) return true;
        const a = ex.set[0];
        const b = peer.set[0];
        if (a && b && a[0] <= b[0] && b[1] <= a[1]) return true;
      }
    }
  }
  void model;
  return false;
}

/** Turns observed edges into intent; edges that cannot be resolved are noted and skipped. */
export function observedIntents(model: ClusterModel, edges: ObservedEdge[], exclude: string[] = []): { intents: IntentConnection[]; excluded: IntentConnection[]; notes: string[] } {
  const notes: string[] = [];
  const merged = new Map<string, IntentConnection>();
  const excluded = new Map<string, IntentConnection>();
  const resolve = (p: ObservedPeer): Endpoint | string => {
    if (p.type === 'external') return externalEndpoint(p.cidr) ?? `cannot read external address ${JSON.stringify(p.cidr)}`;
    const w = findWorkload(model, p.namespace, p.name, p.kind);
    return w ? { type: 'workload', w } : `no workload ${p.namespace}/${p.name}${p.kind ? `[${p.kind}]` : ''} in the manifests`;
  };
  for (const e of edges) {
    const src = resolve(e.src);
    const dst = resolve(e.dst);
    if (typeof src === 'string' || typeof dst === 'string') {
      notes.push(`observed edge skipped: ${typeof src === 'string' ? src : dst}`);
      continue;
    }
    if (src.type === 'cidr' && dst.type === 'cidr') continue;
    if (src.type === 'workload' && dst.type === 'workload' && src.w.id === dst.w.id) continue;
    const conns = connsOf(e.protocol, e.port, e.portEnd);
    // Port 0 (or a range outside 1-65535) names no connection; an empty port list in a
    // NetworkPolicy would mean every port, so such an edge is left out.
    if (conns.isEmpty()) {
      notes.push(`observed edge skipped: ${e.protocol} port ${e.port} is not a port a policy can name`);
      continue;
    }
    const key = `${src.type === 'workload' ? src.w.id : src.cidr}\t${dst.type === 'workload' ? dst.w.id : dst.cidr}`;
    const intent: IntentConnection = { from: src, to: dst, conns, origin: 'observed' };
    if (exclude.length > 0 && (matchesExclude(model, src, exclude) || matchesExclude(model, dst, exclude))) {
      const prevEx = excluded.get(key);
      excluded.set(key, prevEx ? { ...prevEx, conns: prevEx.conns.union(conns) } : intent);
      continue;
    }
    const prev = merged.get(key);
    merged.set(key, prev ? { ...prev, conns: prev.conns.union(conns) } : intent);
  }
  return { intents: [...merged.values()], excluded: [...excluded.values()], notes: [...new Set(notes)] };
}

function learningPolicyName(w: Workload): string {
  const base = `${LEARNING_POLICY_PREFIX}${w.name}-${w.kind.toLowerCase()}`.replace(/[^a-z0-9.-]/g, '-');
  return base.length <= 253 ? base : base.slice(0, 253).replace(/[-.]+$/, '');
}

const id = (e: Endpoint): string => (e.type === 'workload' ? e.w.id : e.cidr);

/**
 * Policies from observed edges merged with manifest intent, with the simulation of what
 * they would cut off (see `observed-simulate.ts`).
 */
export function generateFromObserved(model: ClusterModel, input: ObservedInput, opts: ObservedPolicyOptions = {}): ObservedPolicyResult {
  const { intents: observed, excluded, notes } = observedIntents(model, input.edges, opts.exclude ?? []);
  const intents = [...observed, ...(opts.intents ?? [])];
  const gen = generatePolicies(model, intents);
  notes.push(...gen.notes);

  const learning: LearningMark[] = [];
  const learningIds = new Set<string>();
  for (const ref of input.learning ?? []) {
    const r = parseRef(ref);
    const w = r && findWorkload(model, r.namespace, r.name, r.kind);
    if (!w) {
      notes.push(`learning workload ${ref} is not in the manifests`);
      continue;
    }
    if (learningIds.has(w.id)) continue;
    learningIds.add(w.id);
    const mark: LearningMark = { workload: w.id };
    if ((opts.learning ?? 'open') === 'open') {
      if (Object.keys(w.labels).length === 0) {
        notes.push(`${w.id} is learning but has no pod labels: no policy can keep it open alone, so the default deny applies to it`);
      } else {
        mark.openPolicy = learningPolicyName(w);
        gen.policies.push({
          apiVersion: 'networking.k8s.io/v1',
          kind: 'NetworkPolicy',
          metadata: { name: mark.openPolicy, namespace: w.namespace, annotations: { 'gatehouse.dev/generated-for': w.id, [LEARNING_ANNOTATION]: 'true' } },
          spec: { podSelector: { matchLabels: { ...w.labels } }, policyTypes: ['Ingress', 'Egress'], ingress: [{}], egress: [{}] },
        });
      }
    }
    learning.push(mark);
  }
  for (const p of gen.policies) {
    const forId = p.metadata?.annotations?.['gatehouse.dev/generated-for'];
    if (forId && learningIds.has(forId)) p.metadata.annotations[LEARNING_ANNOTATION] = 'true';
  }

  let policies = gen.policies;
  let marks = learning;
  if (opts.namespace !== undefined) {
    marks = learning.filter((l) => l.workload.startsWith(`${opts.namespace}/`));
    policies = policies.filter((p) => p.metadata.namespace === opts.namespace);
    if (!model.workloads.some((w) => !w.synthetic && w.namespace === opts.namespace)) notes.push(`no workload in namespace ${opts.namespace}`);
  }

  const talking = new Set<string>();
  for (const i of observed) for (const e of [i.from, i.to]) if (e.type === 'workload') talking.add(e.w.id);
  const unobserved = model.workloads
    .filter((w) => !w.synthetic && !talking.has(w.id) && !learningIds.has(w.id) && (opts.namespace === undefined || w.namespace === opts.namespace))
    .map((w) => w.id)
    .sort();
  if (unobserved.length) {
    const shown = unobserved.slice(0, 10).join(', ');
    notes.push(`no connection observed for ${shown}${unobserved.length > 10 ? ` (+${unobserved.length - 10} more)` : ''}: only the default deny (and DNS) applies to them; check that a sensor watches their nodes`);
  }

  const simulation = simulatePolicies(model, policies, {
    observed: observed.filter((i) => opts.namespace === undefined || touches(i, opts.namespace)),
    excluded,
    keepExisting: opts.keepExisting,
    limit: opts.limit,
  });
  return {
    policies,
    yaml: observedPoliciesYaml(policies, marks),
    learning: marks,
    unobserved,
    intents: observed.map((i) => ({ src: id(i.from), dst: id(i.to), connections: i.conns.toString(), origin: i.origin })),
    simulation,
    notes: [...new Set(notes)],
    assumptions: gen.assumptions,
  };
}

function touches(i: IntentConnection, ns: string): boolean {
  return (i.from.type === 'workload' && i.from.w.namespace === ns) || (i.to.type === 'workload' && i.to.w.namespace === ns);
}

/** YAML documents; a policy for a learning workload carries a comment saying so. */
export function observedPoliciesYaml(policies: Record<string, any>[], learning: LearningMark[]): string {
  const marks = new Set(learning.map((l) => l.workload));
  const header = '# Generated by gatehouse from observed flows (netpol generate --observed).\n';
  return (
    header +
    policies
      .map((p) => {
        const forId: string | undefined = p.metadata?.annotations?.['gatehouse.dev/generated-for'];
        let comment = '';
        if (forId && marks.has(forId)) {
          comment = p.metadata.name.startsWith(LEARNING_POLICY_PREFIX)
            ? `# LEARNING: ${forId} is still in its baseline window: this allow-all keeps it open; delete it once the window closes.\n`
            : `# LEARNING: ${forId} is still in its baseline window: the connections below may be incomplete.\n`;
        } else if (p.metadata?.name === DEFAULT_DENY_NAME && learning.some((l) => l.workload.startsWith(`${p.metadata.namespace}/`))) {
          comment = `# LEARNING: workloads of ${p.metadata.namespace} still in their baseline window: ${learning.filter((l) => l.workload.startsWith(`${p.metadata.namespace}/`)).map((l) => l.workload).join(', ')}\n`;
        }
        return comment + stringify(p, { lineWidth: 0 });
      })
      .join('---\n')
  );
}
