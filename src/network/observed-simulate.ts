/**
 * What applying a set of generated NetworkPolicies would change, computed with the netpol
 * engine before anything is applied: the cluster analysed as it is (its NetworkPolicies,
 * AdminNetworkPolicies and BaselineAdminNetworkPolicy) and analysed with the generated set
 * in place, compared pair by pair.
 *
 * "In place" means: the existing NetworkPolicies of the namespaces the generated set covers
 * are replaced by it (that is how the set is meant to be applied: it is the whole policy of
 * those namespaces), unless `keepExisting` (then the generated policies are added: existing
 * allow rules keep what they allow, since NetworkPolicies only add up). Admin policies are
 * kept either way: Gatehouse does not generate them and they take precedence.
 *
 * Both analyses run over the same partition of IPv4 (every ipBlock of both policy sets and
 * every observed external address), so their external peers compare one to one.
 */
import { analyzeConnectivity, NetpolEngine, type Connection } from '../kube/netpol/analyze.js';
import { ConnSet } from '../kube/netpol/conns.js';
import { containsInterval, type IpSet } from '../kube/netpol/ipset.js';
import type { IntentConnection } from '../kube/netpol/intent.js';
import { buildModel, type ClusterModel, type NetworkPolicyModel } from '../kube/netpol/model.js';

export interface CutEdge {
  src: string;
  dst: string;
  /** The observed connections the generated set would deny. */
  connections: string;
  /** excluded: the user left it out (--exclude); otherwise the generated set fails to allow it. */
  reason: 'excluded' | 'denied';
}

export interface ChangedPair {
  src: string;
  dst: string;
  connections: string;
}

export interface Simulation {
  mode: 'replace' | 'add';
  /** Observed connections the generated set would deny (none unless something was excluded). */
  cutObserved: CutEdge[];
  /** Allowed today, never observed, denied after: the over-permissive connections the set removes. */
  removed: ChangedPair[];
  /** Denied today, allowed after (observed but not allowed today, or manifest intent). */
  added: ChangedPair[];
  counts: { cutObserved: number; removed: number; added: number; allowedBefore: number; allowedAfter: number };
  truncated: boolean;
}

export interface SimulateOptions {
  observed: IntentConnection[];
  excluded?: IntentConnection[];
  keepExisting?: boolean;
  limit?: number;
}

/** A policy that selects nothing, only there so both analyses split IPv4 the same way. */
function partitionPolicy(sets: IpSet[]): NetworkPolicyModel {
  const peers = sets.filter((s) => s.length > 0).map((set) => ({ type: 'ip' as const, set }));
  return {
    namespace: '\u0000partition',
    name: 'partition',
    selects: () => false,
    ingressIsolation: false,
    egressIsolation: false,
    ingress: [{ peers }],
    egress: [{ peers }],
  };
}

function ipSetsOf(netpols: NetworkPolicyModel[]): IpSet[] {
  const out: IpSet[] = [];
  for (const np of netpols) for (const r of [...np.ingress, ...np.egress]) for (const p of r.peers ?? []) if (p.type === 'ip') out.push(p.set);
  return out;
}

export function generatedModel(policies: Record<string, any>[]): ClusterModel {
  return buildModel(
    policies.map((p) => ({ kind: String(p.kind), name: String(p.metadata?.name ?? ''), namespace: p.metadata?.namespace, labels: {}, raw: p, source: { file: '<generated>', line: 1 } })),
  );
}

function keyed(conns: Connection[]): Map<string, { c: Connection; conns: ConnSet }> {
  const out = new Map<string, { c: Connection; conns: ConnSet }>();
  for (const c of conns) {
    if (c.secondary) continue;
    const k = `${c.src.id}\t${c.dst.id}`;
    const prev = out.get(k);
    out.set(k, { c, conns: prev ? prev.conns.union(c.conns) : c.conns });
  }
  return out;
}

export function simulatePolicies(model: ClusterModel, policies: Record<string, any>[], opts: SimulateOptions): Simulation {
  const generated = generatedModel(policies).netpols;
  const covered = new Set(policies.map((p) => String(p.metadata?.namespace ?? 'default')));
  const kept = opts.keepExisting ? model.netpols : model.netpols.filter((np) => !covered.has(np.namespace));
  const observedSets: IpSet[] = [...opts.observed, ...(opts.excluded ?? [])].flatMap((i) => [i.from, i.to]).flatMap((e) => (e.type === 'cidr' && e.set.length ? [e.set] : []));
  const partition = partitionPolicy([...ipSetsOf(model.netpols), ...ipSetsOf(generated), ...observedSets]);
  const before: ClusterModel = { ...model, netpols: [...model.netpols, partition] };
  const after: ClusterModel = { ...model, netpols: [...kept, ...generated, partition] };
  // The analysis of today lists every allowed pair (millions on a large open cluster): it is
  // walked once, never indexed; the generated set's (small, least privilege) is indexed.
  const beforeConns = analyzeConnectivity(before);
  const afterMap = keyed(analyzeConnectivity(after));
  const { dst: dstIps, src: srcIps } = new NetpolEngine(after).ipPeers();

  const limit = opts.limit ?? 1000;
  let truncated = false;
  const push = <T>(list: T[], v: T): void => {
    if (list.length < limit) list.push(v);
    else truncated = true;
  };

  // Observed (and excluded) connections the generated set would deny.
  const cut: CutEdge[] = [];
  let cutCount = 0;
  const check = (i: IntentConnection, reason: CutEdge['reason']): void => {
    const pairs: { src: string; dst: string }[] = [];
    if (i.from.type === 'workload' && i.to.type === 'workload') pairs.push({ src: i.from.w.id, dst: i.to.w.id });
    else if (i.from.type === 'workload' && i.to.type === 'cidr') {
      for (const p of dstIps) if (p.type === 'ip' && i.to.set.length && containsInterval(i.to.set, p.iv)) pairs.push({ src: i.from.w.id, dst: p.id });
    } else if (i.from.type === 'cidr' && i.to.type === 'workload') {
      for (const p of srcIps) if (p.type === 'ip' && i.from.set.length && containsInterval(i.from.set, p.iv)) pairs.push({ src: p.id, dst: i.to.w.id });
    }
    for (const { src, dst } of pairs) {
      const allowed = afterMap.get(`${src}\t${dst}`)?.conns ?? ConnSet.none();
      const missing = i.conns.subtract(allowed);
      if (missing.isEmpty()) continue;
      cutCount++;
      push(cut, { src, dst, connections: missing.toString(), reason });
    }
  };
  for (const i of opts.observed) check(i, 'denied');
  for (const i of opts.excluded ?? []) check(i, 'excluded');

  const removed: ChangedPair[] = [];
  const added: ChangedPair[] = [];
  let removedCount = 0;
  let addedCount = 0;
  let allowedBefore = 0;
  const beforeOf = new Map<string, ConnSet>();
  const afterBySrc = new Map<string, Map<string, ConnSet>>();
  for (const { c, conns } of afterMap.values()) {
    let m = afterBySrc.get(c.src.id);
    if (!m) afterBySrc.set(c.src.id, (m = new Map()));
    m.set(c.dst.id, conns);
  }
  for (const c of beforeConns) {
    if (c.secondary) continue;
    allowedBefore++;
    const a = afterBySrc.get(c.src.id)?.get(c.dst.id);
    if (a) {
      const k = `${c.src.id}\t${c.dst.id}`;
      beforeOf.set(k, (beforeOf.get(k) ?? ConnSet.none()).union(c.conns));
    }
    const gone = a ? c.conns.subtract(a) : c.conns;
    if (gone.isEmpty()) continue;
    removedCount++;
    if (removed.length < limit) removed.push({ src: c.src.id, dst: c.dst.id, connections: gone.toString() });
    else truncated = true;
  }
  for (const [k, { c, conns }] of afterMap) {
    const gained = conns.subtract(beforeOf.get(k) ?? ConnSet.none());
    if (gained.isEmpty()) continue;
    addedCount++;
    push(added, { src: c.src.id, dst: c.dst.id, connections: gained.toString() });
  }
  const order = (x: ChangedPair, y: ChangedPair) => (x.src < y.src ? -1 : x.src > y.src ? 1 : x.dst < y.dst ? -1 : x.dst > y.dst ? 1 : 0);
  removed.sort(order);
  added.sort(order);
  return {
    mode: opts.keepExisting ? 'add' : 'replace',
    cutObserved: cut,
    removed,
    added,
    counts: { cutObserved: cutCount, removed: removedCount, added: addedCount, allowedBefore, allowedAfter: afterMap.size },
    truncated,
  };
}

/** A plain-text account of a simulation (what the CLI prints for --simulate). */
export function formatSimulation(s: Simulation): string {
  const lines: string[] = [];
  lines.push(`simulation (${s.mode === 'replace' ? 'generated policies replace the existing NetworkPolicies of their namespaces' : 'generated policies added to the existing ones'}):`);
  lines.push(`  observed connections that would be cut off: ${s.counts.cutObserved}`);
  for (const c of s.cutObserved) lines.push(`    ${c.src} => ${c.dst} : ${c.connections}${c.reason === 'excluded' ? ' (excluded)' : ' (NOT ALLOWED BY THE GENERATED SET)'}`);
  lines.push(`  allowed today but never observed, removed: ${s.counts.removed}`);
  for (const c of s.removed) lines.push(`    ${c.src} => ${c.dst} : ${c.connections}`);
  lines.push(`  denied today, allowed after: ${s.counts.added}`);
  for (const c of s.added) lines.push(`    ${c.src} => ${c.dst} : ${c.connections}`);
  if (s.truncated) lines.push('  (lists truncated; counts are complete)');
  return `${lines.join('\n')}\n`;
}

