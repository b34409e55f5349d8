/**
 * Connectivity analysis with np-guard's semantics: for every ordered pair of peers
 * (workloads and the IP ranges policies mention), the connections both the source's egress
 * and the destination's ingress allow, where each direction is decided by
 * AdminNetworkPolicies (by priority, first matching rule wins per port), then
 * NetworkPolicies (for traffic the ANPs passed or left open), then the
 * BaselineAdminNetworkPolicy, then allow-all.
 */
import { ConnSet, type Protocol } from './conns.js';
import { containsInterval, elementaryIntervals, formatInterval, type Interval, type IpSet } from './ipset.js';
import type { AdminPolicyModel, AdminRule, ClusterModel, NetworkPolicyModel, PeerMatcher, PolicyRule, PortSpec, Workload } from './model.js';
import type { LabelMatcher, Labels } from './selectors.js';
import { ensureIngressControllerNamespace, ingressControllerWorkload, ingressTargets } from './ingress.js';

export type Peer = { type: 'workload'; w: Workload; id: string } | { type: 'ip'; iv: Interval; id: string };

export interface Connection {
  src: Peer;
  dst: Peer;
  conns: ConnSet;
  /** Set for connections over a secondary network (NetworkAttachmentDefinition name). */
  secondary?: string;
}

export interface FocusOptions {
  /** Workload names or ns/name; a pair is kept when one side matches (see direction). */
  workloads?: string[];
  /** With `workloads`: the other side must match one of these. */
  peers?: string[];
  /** ingress: the focus workload must be the destination; egress: the source. */
  direction?: 'ingress' | 'egress';
  /** Only pairs that allow this protocol and port (np-guard's focus-conn). */
  conn?: { protocol: Protocol; port: number };
}

interface Selection {
  ingressNps: NetworkPolicyModel[];
  egressNps: NetworkPolicyModel[];
  anps: AdminPolicyModel[];
  banp?: AdminPolicyModel;
  /** No (Baseline)AdminNetworkPolicy selects the workload: NetworkPolicies alone decide. */
  adminFree: boolean;
}

const ALL = ConnSet.all();
const NONE = ConnSet.none();

export class NetpolEngine {
  private readonly netpolsByNs = new Map<string, NetworkPolicyModel[]>();
  private readonly emptyLabels: Labels = {};

  private readonly selection = new Map<Workload, Selection>();
  private readonly staticPorts = new Map<PortSpec[], ConnSet | null>();

  constructor(readonly model: ClusterModel) {
    for (const np of model.netpols) {
      const list = this.netpolsByNs.get(np.namespace) ?? [];
      list.push(np);
      this.netpolsByNs.set(np.namespace, list);
    }
  }

  /** Which policies select a workload, computed once per workload. */
  selectionOf(w: Workload): Selection {
    let s = this.selection.get(w);
    if (s) return s;
    const nps = (this.netpolsByNs.get(w.namespace) ?? []).filter((np) => np.selects(w.labels));
    const nsLabels = this.nsLabels(w.namespace);
    const anps = w.synthetic ? [] : this.model.anps.filter((a) => a.subjectNs(nsLabels) && a.subjectPod(w.labels));
    const banp = !w.synthetic && this.model.banp && this.adminSelects(this.model.banp, w) ? this.model.banp : undefined;
    s = {
      ingressNps: nps.filter((np) => np.ingressIsolation),
      egressNps: nps.filter((np) => np.egressIsolation),
      anps,
      banp,
      adminFree: anps.length === 0 && !banp,
    };
    this.selection.set(w, s);
    return s;
  }

  private nsLabels(ns: string): Labels {
    return this.model.namespaces.get(ns)?.labels ?? this.emptyLabels;
  }

  private matches(m: PeerMatcher, peer: Peer): boolean {
    if (m.type === 'ip') {
      if (peer.type === 'ip') return containsInterval(m.set, peer.iv);
      return ipsMatch(m.set, peer.w.ips);
    }
    if (peer.type !== 'workload') return false;
    const w = peer.w;
    if (m.sameNamespace !== undefined ? w.namespace !== m.sameNamespace : !m.ns!(this.nsLabels(w.namespace))) return false;
    return m.pod(w.labels);
  }

  /** The connections a port list means toward `dst` (named ports resolve on the destination pod). */
  portsConns(ports: PortSpec[] | undefined, dst: Peer): ConnSet {
    if (!ports) return ALL;
    let fixed = this.staticPorts.get(ports);
    if (fixed === undefined) {
      fixed = ports.some((p) => p.named !== undefined) ? null : this.portsConnsUncached(ports, dst);
      this.staticPorts.set(ports, fixed);
    }
    return fixed ?? this.portsConnsUncached(ports, dst);
  }

  private portsConnsUncached(ports: PortSpec[], dst: Peer): ConnSet {
    let out = NONE;
    for (const p of ports) {
      if (p.named !== undefined) {
        if (dst.type !== 'workload') continue;
        const cp = dst.w.ports.find((c) => c.name === p.named);
        if (!cp || (p.protocol !== undefined && cp.protocol !== p.protocol)) continue;
        out = out.union(ConnSet.of(cp.protocol, [[cp.port, cp.port]]));
      } else {
        out = out.union(ConnSet.of(p.protocol as Protocol, p.range ? [p.range] : undefined));
      }
    }
    return out;
  }

  private adminSelects(a: AdminPolicyModel, w: Workload): boolean {
    return a.subjectNs(this.nsLabels(w.namespace)) && a.subjectPod(w.labels);
  }

  /** Allowed connections in one direction: subject is dst for ingress, src for egress. */
  xgress(src: Peer, dst: Peer, ingress: boolean): ConnSet {
    const subject = ingress ? dst : src;
    const other = ingress ? src : dst;
    if (subject.type !== 'workload' || subject.w.synthetic) return ALL;
    const w = subject.w;
    const sel = this.selectionOf(w);

    // 1. AdminNetworkPolicies, by priority; within one, rules in order; first match per port wins.
    let allow = NONE;
    let deny = NONE;
    let decided = NONE;
    let anpCaptured = false;
    for (const anp of sel.anps) {
      for (const rule of ingress ? anp.ingress : anp.egress) {
        if (!rule.peers.some((m) => this.matches(m, other))) continue;
        anpCaptured = true;
        const c = this.portsConns(rule.ports, dst).subtract(decided);
        if (rule.action === 'Allow') allow = allow.union(c);
        else if (rule.action === 'Deny') deny = deny.union(c);
        decided = decided.union(c);
      }
      if (allow.union(deny).isAll()) return allow;
    }

    // 2. NetworkPolicies selecting the subject in this direction.
    let npCaptured = false;
    let npAllowed = NONE;
    for (const np of ingress ? sel.ingressNps : sel.egressNps) {
      npCaptured = true;
      for (const rule of ingress ? np.ingress : np.egress) {
        if (rule.peers && !rule.peers.some((m) => this.matches(m, other))) continue;
        npAllowed = npAllowed.union(this.portsConns(rule.ports, dst));
        if (npAllowed.isAll()) break;
      }
    }
    let rest: ConnSet;
    if (npCaptured) rest = npAllowed;
    else rest = this.baselineAllowed(sel, other, dst, ingress);
    if (!anpCaptured) return rest;
    return allow.union(rest.subtract(deny));
  }

  private baselineAllowed(sel: Selection, other: Peer, dst: Peer, ingress: boolean): ConnSet {
    const banp = sel.banp;
    if (!banp) return ALL;
    let deny = NONE;
    let decided = NONE;
    for (const rule of (ingress ? banp.ingress : banp.egress) as AdminRule[]) {
      if (!rule.peers.some((m) => this.matches(m, other))) continue;
      const c = this.portsConns(rule.ports, dst).subtract(decided);
      if (rule.action === 'Deny') deny = deny.union(c);
      decided = decided.union(c);
    }
    return ALL.subtract(deny);
  }

  allowed(src: Peer, dst: Peer): ConnSet {
    const egress = this.xgress(src, dst, false);
    if (egress.isEmpty()) return egress;
    return egress.intersect(this.xgress(src, dst, true));
  }

  /** Whether any NetworkPolicy isolates the workload in the given direction. */
  isolated(w: Workload, ingress: boolean): boolean {
    const sel = this.selectionOf(w);
    return (ingress ? sel.ingressNps : sel.egressNps).length > 0;
  }

  nsLabelsOf(ns: string): Labels {
    return this.nsLabels(ns);
  }

  /** The IP-range peers: the partition of IPv4 by every ipBlock/network on that side. */
  ipPeers(): { src: Peer[]; dst: Peer[] } {
    const srcSets: IpSet[] = [];
    const dstSets: IpSet[] = [];
    const collect = (peers: PeerMatcher[] | undefined, into: IpSet[]): void => {
      for (const m of peers ?? []) if (m.type === 'ip') into.push(m.set);
    };
    for (const np of this.model.netpols) {
      for (const r of np.ingress) collect(r.peers, srcSets);
      for (const r of np.egress) collect(r.peers, dstSets);
    }
    for (const a of [...this.model.anps, ...(this.model.banp ? [this.model.banp] : [])]) {
      for (const r of a.egress) collect(r.peers, dstSets);
    }
    const toPeers = (sets: IpSet[]): Peer[] =>
      elementaryIntervals(sets).map((iv) => ({ type: 'ip', iv, id: `${formatInterval(iv)}[External]` }));
    return { src: toPeers(srcSets), dst: toPeers(dstSets) };
  }
}

/** Workloads with addresses (on a secondary network) are selected by ipBlocks holding one. */
function ipsMatch(set: IpSet, ips: number[] | undefined): boolean {
  return !!ips && ips.some((ip) => containsInterval(set, [ip, ip]));
}

/** How np-guard prints a workload: UDN members as `ns[udn]/name[Kind]`. */
export function displayId(w: Workload): string {
  return w.network?.kind === 'UDN' ? `${w.namespace}[udn]/${w.name}[${w.kind}]` : w.id;
}

function networkKey(w: Workload): string {
  return w.network ? `${w.network.kind}:${w.network.name}` : '';
}

function labelsKey(l: Labels): string {
  return Object.keys(l)
    .sort()
    .map((k) => `${k}=${l[k]}`)
    .join(',');
}

/**
 * Every allowed connection between distinct peers (no IP-to-IP pairs): on the pod network
 * and each primary network, then on each secondary network. Workloads with the same
 * namespace, labels, ports and networks behave identically, so each such class pair is
 * evaluated once.
 */
export function analyzeConnectivity(model: ClusterModel, focus: FocusOptions = {}): Connection[] {
  const all = analyzeAll(model, focus);
  const conn = focus.conn;
  return conn ? all.filter((c) => c.conns.contains(conn.protocol, conn.port)) : all;
}

function analyzeAll(model: ClusterModel, focus: FocusOptions): Connection[] {
  const out = analyzeNetwork(model, focus, true);
  if (out.length === 0 && model.workloads.filter((w) => !w.synthetic).length === 0) return out;
  // Secondary networks: only the attached workloads, only MultiNetworkPolicies, no IP ranges.
  for (const key of [...model.nads.keys()].sort()) {
    const nad = model.nads.get(key)!;
    const attached = model.workloads
      .filter((w) => w.secondary?.includes(key))
      .map((w) => ({ ...w, network: undefined, secondary: undefined, ips: w.secondaryIps?.[key] }));
    if (attached.length < 2) continue;
    const sub: ClusterModel = { ...model, workloads: attached, netpols: nad.policies, anps: [], banp: undefined, services: [], ingressRoutes: [], nads: new Map() };
    for (const c of analyzeNetwork(sub, focus, false)) out.push({ ...c, secondary: nad.name });
  }
  return out;
}

function analyzeNetwork(model: ClusterModel, focus: FocusOptions, withIps: boolean): Connection[] {
  const engine = new NetpolEngine(model);
  const out: Connection[] = [];
  if (model.workloads.filter((w) => !w.synthetic).length === 0) return out;
  const { src: srcIps, dst: dstIps } = withIps ? engine.ipPeers() : { src: [], dst: [] };
  const wpeers: Peer[] = model.workloads.map((w) => ({ type: 'workload', w, id: displayId(w) }));
  const keep = focusFilter(focus);

  const classes = new Map<string, Peer[]>();
  for (const p of wpeers) {
    const w = (p as { w: Workload }).w;
    const key = `${w.synthetic ? `!${w.id}` : w.namespace}|${labelsKey(w.labels)}|${JSON.stringify(w.ports)}|${networkKey(w)}|${w.ips?.join(',') ?? ''}`;
    const list = classes.get(key);
    if (list) list.push(p);
    else classes.set(key, [p]);
  }
  const classList = [...classes.values()];
  const pairs = new ClassPairs(engine, classList.map((c) => (c[0] as { w: Workload }).w));
  const emit = (src: Peer, members: Peer[], conns: ConnSet, srcIsIp: boolean): void => {
    if (conns.isEmpty()) return;
    for (const m of members) {
      if (srcIsIp ? keep(src, m) : keep(m, src)) out.push(srcIsIp ? { src, dst: m, conns } : { src: m, dst: src, conns });
    }
  };
  for (const ip of srcIps) {
    for (let j = 0; j < classList.length; j++) emit(ip, classList[j]!, pairs.fromIp(ip, j), true);
  }
  for (let i = 0; i < classList.length; i++) {
    for (const ip of dstIps) emit(ip, classList[i]!, pairs.toIp(i, ip), false);
  }
  for (let i = 0; i < classList.length; i++) {
    const from = classList[i]!;
    const egress = pairs.egressFrom(i);
    for (let j = 0; j < classList.length; j++) {
      const to = classList[j]!;
      if (!pairs.sameNetwork(i, j)) continue;
      const e = egress[j];
      if (!e || e.isEmpty()) continue;
      let c: ConnSet | undefined;
      for (const s of from) {
        for (const d of to) {
          if (s.id === d.id || !keep(s, d)) continue;
          c ??= pairs.withIngress(i, j, e);
          if (c.isEmpty()) break;
          out.push({ src: s, dst: d, conns: c });
        }
        if (c?.isEmpty()) break;
      }
    }
  }

  const targets = withIps ? ingressTargets(model) : new Map();
  if (targets.size > 0) {
    ensureIngressControllerNamespace(model);
    const ic: Peer = { type: 'workload', w: ingressControllerWorkload, id: ingressControllerWorkload.id };
    for (const { w, conns } of targets.values()) {
      const d: Peer = { type: 'workload', w, id: displayId(w) };
      if (!keep(ic, d)) continue;
      const c = conns.intersect(engine.allowed(ic, d));
      if (!c.isEmpty()) out.push({ src: ic, dst: d, conns: c });
    }
  }
  return out;
}

function focusFilter(focus: FocusOptions): (s: Peer, d: Peer) => boolean {
  const names = focus.workloads?.filter(Boolean) ?? [];
  if (names.length === 0) return () => true;
  const peers = focus.peers?.filter(Boolean) ?? [];
  const is = (p: Peer, list: string[]): boolean =>
    p.type === 'workload' && list.some((n) => n === p.w.name || n === `${p.w.namespace}/${p.w.name}`);
  return (s, d) => {
    const srcSide = focus.direction !== 'ingress' && is(s, names) && (peers.length === 0 || is(d, peers));
    const dstSide = focus.direction !== 'egress' && is(d, names) && (peers.length === 0 || is(s, peers));
    return srcSide || dstSide;
  };
}

/**
 * Workload-class pairs evaluated in bulk: for sources and destinations that no admin policy
 * selects, each NetworkPolicy rule's peer selector is matched once against every class
 * (a bitmap), so a pair costs a few bitmap lookups instead of selector evaluations.
 * Pairs involving admin-policy subjects go through the general NetpolEngine path.
 */
class ClassPairs {
  private readonly matched = new Map<PolicyRule, Uint8Array>();
  private readonly podMasks = new Map<LabelMatcher, Uint8Array>();
  private readonly nsMatches = new Map<LabelMatcher, Map<string, boolean>>();
  private readonly byNs = new Map<string, number[]>();

  constructor(
    private readonly engine: NetpolEngine,
    private readonly reps: Workload[],
  ) {
    this.peers = reps.map((w) => ({ type: 'workload', w, id: displayId(w) }));
    reps.forEach((w, i) => {
      const list = this.byNs.get(w.namespace);
      if (list) list.push(i);
      else this.byNs.set(w.namespace, [i]);
    });
  }

  private readonly peers: Peer[];
  /** Per class and direction: the NetworkPolicy rules that can select IP ranges. */
  private readonly ipRuleCache = new Map<string, PolicyRule[]>();

  private peer(i: number): Peer {
    return this.peers[i]!;
  }

  /** Classes a rule's peers select (rules without peers select every class). */
  private matchedBy(rule: PolicyRule): Uint8Array {
    let m = this.matched.get(rule);
    if (m) return m;
    m = new Uint8Array(this.reps.length);
    if (!rule.peers) m.fill(1);
    else {
      for (const pm of rule.peers) {
        if (pm.type !== 'pods') {
          this.reps.forEach((w, i) => {
            if (ipsMatch(pm.set, w.ips)) m![i] = 1;
          });
          continue;
        }
        const pods = this.podMask(pm.pod);
        if (pm.sameNamespace !== undefined) {
          for (const i of this.byNs.get(pm.sameNamespace) ?? []) if (pods[i]) m[i] = 1;
          continue;
        }
        for (const [ns, idx] of this.byNs) {
          if (!this.nsMatch(pm.ns!, ns)) continue;
          for (const i of idx) if (pods[i]) m[i] = 1;
        }
      }
    }
    this.matched.set(rule, m);
    return m;
  }

  /** Workloads on different primary networks cannot reach each other. */
  sameNetwork(i: number, j: number): boolean {
    return networkKey(this.reps[i]!) === networkKey(this.reps[j]!);
  }

  /** Classes whose pod labels a selector matches (the ingress controller never). */
  private podMask(pod: LabelMatcher): Uint8Array {
    let m = this.podMasks.get(pod);
    if (!m) {
      m = new Uint8Array(this.reps.length);
      this.reps.forEach((w, i) => {
        if (!w.synthetic && pod(w.labels)) m![i] = 1;
      });
      this.podMasks.set(pod, m);
    }
    return m;
  }

  private nsMatch(sel: LabelMatcher, ns: string): boolean {
    let byNs = this.nsMatches.get(sel);
    if (!byNs) this.nsMatches.set(sel, (byNs = new Map()));
    let ok = byNs.get(ns);
    if (ok === undefined) byNs.set(ns, (ok = sel(this.engine.nsLabelsOf(ns))));
    return ok;
  }

  /** Egress-allowed connections from class i to every class (undefined: none). */
  egressFrom(i: number): (ConnSet | undefined)[] {
    const n = this.reps.length;
    const src = this.reps[i]!;
    const sel = this.engine.selectionOf(src);
    if (src.synthetic || (sel.adminFree && sel.egressNps.length === 0)) return new Array<ConnSet>(n).fill(ALL);
    const out = new Array<ConnSet | undefined>(n);
    if (!sel.adminFree) {
      for (let j = 0; j < n; j++) out[j] = this.engine.xgress(this.peer(i), this.peer(j), false);
      return out;
    }
    for (const np of sel.egressNps) {
      for (const rule of np.egress) {
        const m = this.matchedBy(rule);
        for (let j = 0; j < n; j++) {
          if (!m[j]) continue;
          const c = this.engine.portsConns(rule.ports, this.peer(j));
          out[j] = out[j] ? out[j]!.union(c) : c;
        }
      }
    }
    return out;
  }

  /** Connections from an IP range to class j (only j's ingress side applies). */
  fromIp(ip: Peer, j: number): ConnSet {
    const dst = this.reps[j]!;
    const sel = this.engine.selectionOf(dst);
    if (!sel.adminFree || dst.synthetic) return this.engine.allowed(ip, this.peer(j));
    if (sel.ingressNps.length === 0) return ALL;
    return this.ipRules(j, true, ip, this.peer(j));
  }

  /** Connections from class i to an IP range (only i's egress side applies). */
  toIp(i: number, ip: Peer): ConnSet {
    const src = this.reps[i]!;
    const sel = this.engine.selectionOf(src);
    if (!sel.adminFree || src.synthetic) return this.engine.allowed(this.peer(i), ip);
    if (sel.egressNps.length === 0) return ALL;
    return this.ipRules(i, false, ip, ip);
  }

  private ipRules(k: number, ingress: boolean, ip: Peer, dst: Peer): ConnSet {
    const key = `${k}${ingress ? 'i' : 'e'}`;
    let rules = this.ipRuleCache.get(key);
    if (!rules) {
      const sel = this.engine.selectionOf(this.reps[k]!);
      rules = (ingress ? sel.ingressNps : sel.egressNps)
        .flatMap((np) => (ingress ? np.ingress : np.egress))
        .filter((r) => !r.peers || r.peers.some((m) => m.type === 'ip'));
      this.ipRuleCache.set(key, rules);
    }
    if (rules.length === 0) return NONE;
    const iv = (ip as { iv: Interval }).iv;
    let out = NONE;
    for (const rule of rules) {
      if (rule.peers && !rule.peers.some((m) => m.type === 'ip' && containsInterval(m.set, iv))) continue;
      out = out.union(this.engine.portsConns(rule.ports, dst));
    }
    return out;
  }

  /** `egress` (from i to j) narrowed by what j's ingress allows from i. */
  withIngress(i: number, j: number, egress: ConnSet): ConnSet {
    const dst = this.reps[j]!;
    const sel = this.engine.selectionOf(dst);
    if (!sel.adminFree || dst.synthetic) return egress.intersect(this.engine.xgress(this.peer(i), this.peer(j), true));
    if (sel.ingressNps.length === 0) return egress;
    let ing = NONE;
    for (const np of sel.ingressNps) {
      for (const rule of np.ingress) {
        if (this.matchedBy(rule)[i]) ing = ing.union(this.engine.portsConns(rule.ports, this.peer(j)));
      }
    }
    return egress.intersect(ing);
  }
}
