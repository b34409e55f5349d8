/**
 * The bulk analysis (workload classes, selector bitmaps, IP fast paths) against the plain
 * per-pair evaluation of the same semantics, on 150 generated clusters with random
 * NetworkPolicies (pod/namespace selectors with expressions, ipBlock + except, named ports,
 * endPort, SCTP/UDP, policyTypes), AdminNetworkPolicies and a BaselineAdminNetworkPolicy.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildModel, analyzeConnectivity } from '../../src/kube/netpol/index.js';
import { NetpolEngine, type Peer } from '../../src/kube/netpol/analyze.js';
import type { NetpolObject } from '../../src/kube/netpol/model.js';
import { rng } from '../helpers/random.js';


function obj(kind: string, name: string, namespace: string | undefined, raw: Record<string, any>): NetpolObject {
  return { kind, name, namespace, labels: raw.metadata?.labels ?? {}, raw: { kind, ...raw }, source: { file: 'gen', line: 1 } };
}

function cluster(seed: number): NetpolObject[] {
  const r = rng(seed);
  const pick = <T>(a: T[]): T => a[Math.floor(r() * a.length)]!;
  const out: NetpolObject[] = [];
  const nss = ['a', 'b', 'c'].slice(0, 1 + Math.floor(r() * 3));
  for (const ns of nss) out.push(obj('Namespace', ns, undefined, { metadata: { name: ns, labels: { zone: pick(['x', 'y']) } } }));
  const app = () => pick(['web', 'db', 'api', 'cache']);
  const tier = () => pick(['front', 'back']);
  for (let i = 0; i < 3 + Math.floor(r() * 6); i++) {
    const ns = pick(nss);
    const labels = r() < 0.9 ? { app: app(), tier: tier() } : {};
    const ports = [{ name: 'http', containerPort: pick([80, 8080]), protocol: pick(['TCP', 'UDP']) }, { name: 'm', containerPort: 9090 }];
    out.push(obj(pick(['Deployment', 'StatefulSet', 'DaemonSet']), `w${i}`, ns, { metadata: { name: `w${i}`, namespace: ns }, spec: { template: { metadata: { labels }, spec: { containers: [{ name: 'c', ports }] } } } }));
  }
  const selector = () =>
    r() < 0.3 ? {} : r() < 0.6 ? { matchLabels: { app: app() } } : { matchExpressions: [{ key: pick(['app', 'tier']), operator: pick(['In', 'NotIn', 'Exists', 'DoesNotExist']), ...(r() < 0.5 ? { values: [app(), tier()] } : {}) }] };
  const fixExpr = (s: any) => {
    for (const e of s.matchExpressions ?? []) {
      if (e.operator === 'In' || e.operator === 'NotIn') e.values ??= [app()];
      else delete e.values;
    }
    return s;
  };
  const peer = () => {
    const k = r();
    if (k < 0.25) return { ipBlock: { cidr: pick(['10.0.0.0/8', '0.0.0.0/0', '10.1.0.0/16']), ...(r() < 0.5 ? { except: ['10.1.2.0/24'] } : {}) } };
    if (k < 0.5) return { podSelector: fixExpr(selector()) };
    if (k < 0.75) return { namespaceSelector: r() < 0.5 ? {} : { matchLabels: { zone: pick(['x', 'y']) } } };
    return { namespaceSelector: { matchLabels: { zone: pick(['x', 'y']) } }, podSelector: fixExpr(selector()) };
  };
  const ports = () =>
    r() < 0.3
      ? undefined
      : Array.from({ length: 1 + Math.floor(r() * 2) }, () => {
          const k = r();
          if (k < 0.3) return { port: 'http', protocol: pick(['TCP', 'UDP']) };
          if (k < 0.6) return { port: pick([80, 8080, 53]), protocol: pick(['TCP', 'UDP', 'SCTP']) };
          if (k < 0.8) return { port: 8000, endPort: 8100 };
          return { protocol: 'UDP' };
        });
  const rules = (dir: 'from' | 'to') =>
    Array.from({ length: Math.floor(r() * 3) }, () => ({ ...(r() < 0.8 ? { [dir]: [peer(), ...(r() < 0.3 ? [peer()] : [])] } : {}), ...(ports() ? { ports: ports() } : {}) }));
  for (let i = 0; i < Math.floor(r() * 5); i++) {
    const ns = pick(nss);
    const spec: any = { podSelector: fixExpr(selector()), ingress: rules('from'), egress: rules('to') };
    if (r() < 0.6) spec.policyTypes = pick([['Ingress'], ['Egress'], ['Ingress', 'Egress']]);
    out.push(obj('NetworkPolicy', `np${i}`, ns, { metadata: { name: `np${i}`, namespace: ns }, spec }));
  }
  const adminPeer = () => (r() < 0.5 ? { namespaces: { matchLabels: { zone: pick(['x', 'y']) } } } : { pods: { namespaceSelector: {}, podSelector: fixExpr(selector()) } });
  const adminPorts = () => (r() < 0.5 ? undefined : [r() < 0.5 ? { portNumber: { protocol: pick(['TCP', 'UDP']), port: pick([80, 53]) } } : r() < 0.5 ? { namedPort: 'http' } : { portRange: { protocol: 'TCP', start: 8000, end: 9000 } }]);
  const adminRules = (dir: 'from' | 'to', actions: string[]) =>
    Array.from({ length: Math.floor(r() * 3) }, () => {
      const peers: any[] = [adminPeer()];
      if (dir === 'to' && r() < 0.3) peers.push({ networks: ['10.0.0.0/8'] });
      const p = adminPorts();
      return { action: pick(actions), [dir]: peers, ...(p ? { ports: p } : {}) };
    });
  for (let i = 0; i < Math.floor(r() * 3); i++) {
    out.push(obj('AdminNetworkPolicy', `anp${i}`, undefined, { metadata: { name: `anp${i}` }, spec: { priority: i * 10 + 1, subject: r() < 0.5 ? { namespaces: {} } : { pods: { namespaceSelector: {}, podSelector: fixExpr(selector()) } }, ingress: adminRules('from', ['Allow', 'Deny', 'Pass']), egress: adminRules('to', ['Allow', 'Deny', 'Pass']) } }));
  }
  if (r() < 0.4) {
    out.push(obj('BaselineAdminNetworkPolicy', 'default', undefined, { metadata: { name: 'default' }, spec: { subject: { namespaces: {} }, ingress: adminRules('from', ['Allow', 'Deny']), egress: adminRules('to', ['Allow', 'Deny']) } }));
  }
  return out;
}

test('bulk analysis equals per-pair evaluation on 150 generated clusters', () => {
  let nonEmpty = 0;
  const kinds = new Set<string>();
  for (let seed = 1; seed <= 150; seed++) {
    const model = buildModel(cluster(seed));
    const got = new Map(analyzeConnectivity(model).map((c) => [`${c.src.id} => ${c.dst.id}`, c.conns.toString()]));
    const engine = new NetpolEngine(model);
    const { src, dst } = engine.ipPeers();
    const wl: Peer[] = model.workloads.map((w) => ({ type: 'workload', w, id: w.id }));
    const want = new Map<string, string>();
    const add = (s: Peer, d: Peer) => {
      const c = engine.allowed(s, d);
      if (!c.isEmpty()) want.set(`${s.id} => ${d.id}`, c.toString());
    };
    for (const s of src) for (const d of wl) add(s, d);
    for (const s of wl) for (const d of dst) add(s, d);
    for (const s of wl) for (const d of wl) if (s.id !== d.id) add(s, d);
    assert.deepEqual(Object.fromEntries([...got].sort()), Object.fromEntries([...want].sort()), `seed ${seed}`);
    if (want.size > 0) nonEmpty++;
    for (const v of want.values()) kinds.add(v);
  }
  assert.ok(nonEmpty > 100, `only ${nonEmpty} clusters with connections`);
  // The generated policies must exercise more than all-or-nothing results.
  assert.ok(kinds.size > 20, `only ${kinds.size} distinct connection sets`);
});
