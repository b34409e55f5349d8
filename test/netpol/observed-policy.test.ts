/**
 * Policies from observed flows (src/network/observed-policy.ts): on many generated clusters
 * and generated observed-edge sets, the generated policies — written as YAML, loaded back
 * with the manifests and analysed by `netpol analyze`'s engine — allow EXACTLY the observed
 * connections plus the documented assumptions (DNS to kube-dns; learning workloads kept
 * open). The expected connection list is computed here, with its own port-set arithmetic,
 * independently of the generator and of the engine. The simulation's counts are checked
 * against the same independent computation, and on hand-made cases where existing
 * policies allow more (removed), less (added), or the user excludes an edge (cut).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { stringify } from 'yaml';
import { connlistFromPaths, loadCluster } from '../../src/kube/netpol/index.js';
import { generateFromObserved, type ObservedEdge } from '../../src/network/observed-policy.js';
import { loadManifests } from '../../src/kube/manifests.js';
import type { ObservedFlow } from '../../src/network/flow.js';
import { observedFromFlows, serviceIpsOf } from '../../src/network/observed-flows.js';
import { rng } from '../helpers/random.js';

// ---- an independent port-set representation: per protocol, sorted disjoint ranges ----
const PROTOS = ['SCTP', 'TCP', 'UDP'] as const;
type Proto = (typeof PROTOS)[number];
type PS = Record<Proto, [number, number][]>;
const none = (): PS => ({ SCTP: [], TCP: [], UDP: [] });
const all = (): PS => ({ SCTP: [[1, 65535]], TCP: [[1, 65535]], UDP: [[1, 65535]] });
function norm(r: [number, number][]): [number, number][] {
  const s = [...r].sort((a, b) => a[0] - b[0]);
  const out: [number, number][] = [];
  for (const [a, b] of s) {
    const last = out[out.length - 1];
    if (last && a <= last[1] + 1) last[1] = Math.max(last[1], b);
    else out.push([a, b]);
  }
  return out;
}
function union(x: PS, y: PS): PS {
  const o = none();
  for (const p of PROTOS) o[p] = norm([...x[p], ...y[p]]);
  return o;
}
function inter(x: PS, y: PS): PS {
  const o = none();
  for (const p of PROTOS) {
    for (const [a, b] of x[p]) for (const [c, d] of y[p]) if (Math.max(a, c) <= Math.min(b, d)) o[p].push([Math.max(a, c), Math.min(b, d)]);
    o[p] = norm(o[p]);
  }
  return o;
}
const isAll = (x: PS): boolean => PROTOS.every((p) => x[p].length === 1 && x[p][0]![0] === 1 && x[p][0]![1] === 65535);
const isNone = (x: PS): boolean => PROTOS.every((p) => x[p].length === 0);
function render(x: PS): string {
  if (isAll(x)) return 'All Connections';
  return PROTOS.filter((p) => x[p].length).map((p) => `${p} ${x[p].map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`)).join(',')}`).join(',');
}
const one = (proto: Proto, port?: number): PS => {
  const o = none();
  o[proto] = port === undefined ? [[1, 65535]] : [[port, port]];
  return o;
};
const DNS = union(one('UDP', 53), one('TCP', 53));

const ip = (n: number): string => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
const KINDS = ['Deployment', 'StatefulSet', 'DaemonSet', 'Job', 'CronJob', 'ReplicaSet', 'Pod'];

function workloadDoc(kind: string, ns: string, name: string, labels: Record<string, string>): Record<string, any> {
  const podSpec = { containers: [{ name: 'c', image: 'x', ports: [{ containerPort: 8080 }] }] };
  const template = { metadata: { labels }, spec: podSpec };
  const meta = { name, namespace: ns };
  switch (kind) {
    case 'Pod':
      return { apiVersion: 'v1', kind, metadata: { ...meta, labels }, spec: podSpec };
    case 'CronJob':
      return { apiVersion: 'batch/v1', kind, metadata: meta, spec: { schedule: '* * * * *', jobTemplate: { spec: { template } } } };
    case 'Job':
      return { apiVersion: 'batch/v1', kind, metadata: meta, spec: { template } };
    default:
      return { apiVersion: 'apps/v1', kind, metadata: meta, spec: { selector: { matchLabels: labels }, template } };
  }
}

interface W { id: string; ns: string; name: string; kind: string; dns: boolean }
interface Ext { lo: number; hi: number; text: string }

interface Case {
  manifests: string;
  edges: ObservedEdge[];
  learning: string[];
  workloads: W[];
  learningIds: Set<string>;
  /** Observed workload pairs and external sets, with their connections (independent bookkeeping). */
  pairs: Map<string, PS>;
  egressExt: { w: string; e: Ext; c: PS }[];
  ingressExt: { w: string; e: Ext; c: PS }[];
}

function generateCase(seed: number): Case {
  const r = rng(seed);
  const pick = <T>(a: T[]): T => a[Math.floor(r() * a.length)]!;
  const docs: Record<string, any>[] = [];
  const workloads: W[] = [];
  const nsCount = 1 + Math.floor(r() * 3);
  for (let n = 0; n < nsCount; n++) {
    const ns = `ns${n}`;
    docs.push({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels: { team: `t${n % 2}` } } });
    for (let i = 0, count = 2 + Math.floor(r() * 4); i < count; i++) {
      const kind = pick(KINDS);
      const name = `w${n}-${i}`;
      docs.push(workloadDoc(kind, ns, name, { app: name, tier: pick(['a', 'b']) }));
      workloads.push({ id: `${ns}/${name}[${kind}]`, ns, name, kind, dns: false });
    }
  }
  if (r() < 0.4) {
    docs.push(workloadDoc('Deployment', 'kube-system', 'coredns', { 'k8s-app': 'kube-dns' }));
    workloads.push({ id: 'kube-system/coredns[Deployment]', ns: 'kube-system', name: 'coredns', kind: 'Deployment', dns: true });
  }
  const learningIds = new Set<string>();
  for (const w of workloads) if (r() < 0.15) learningIds.add(w.id);
  const ref = (w: W) => ({ type: 'workload' as const, namespace: w.ns, name: w.name, ...(r() < 0.5 ? { kind: w.kind } : {}) });
  const edges: ObservedEdge[] = [];
  const pairs = new Map<string, PS>();
  const egressExt: Case['egressExt'] = [];
  const ingressExt: Case['ingressExt'] = [];
  const externals: Ext[] = [];
  for (let k = 0, count = Math.floor(r() * 14); k < count; k++) {
    const a = pick(workloads);
    const proto = pick([...PROTOS]);
    const port = r() < 0.15 ? undefined : 1 + Math.floor(r() * 9000);
    const c = one(proto, port);
    const roll = r();
    if (roll < 0.2) {
      // An external end: reuse one, or a new address or /24.
      let e: Ext;
      if (externals.length && r() < 0.3) e = pick(externals);
      else {
        const base = (20 + Math.floor(r() * 200)) * 2 ** 24 + Math.floor(r() * 2 ** 16) * 256;
        e = r() < 0.7 ? { lo: base + 7, hi: base + 7, text: ip(base + 7) } : { lo: base, hi: base + 255, text: `${ip(base)}/24` };
        externals.push(e);
      }
      if (r() < 0.5) {
        edges.push({ src: ref(a), dst: { type: 'external', cidr: e.text }, protocol: proto, port });
        egressExt.push({ w: a.id, e, c });
      } else {
        edges.push({ src: { type: 'external', cidr: e.text }, dst: ref(a), protocol: proto, port });
        ingressExt.push({ w: a.id, e, c });
      }
      continue;
    }
    const b = pick(workloads);
    if (a === b) continue;
    edges.push({ src: ref(a), dst: ref(b), protocol: proto, port });
    const key = `${a.id}\t${b.id}`;
    pairs.set(key, union(pairs.get(key) ?? none(), c));
  }
  const learning = workloads.filter((w) => learningIds.has(w.id)).map((w) => `${w.ns}/${w.name}`);
  return { manifests: docs.map((d) => stringify(d)).join('---\n'), edges, learning, workloads, learningIds, pairs, egressExt, ingressExt };
}

/** Elementary intervals of IPv4 cut at every set's bounds (as np-guard prints external peers). */
function partition(sets: Ext[]): [number, number][] {
  const cuts = new Set<number>([0, 2 ** 32]);
  for (const s of sets) {
    cuts.add(s.lo);
    cuts.add(s.hi + 1);
  }
  const sorted = [...cuts].sort((a, b) => a - b);
  const out: [number, number][] = [];
  for (let i = 0; i + 1 < sorted.length; i++) out.push([sorted[i]!, sorted[i + 1]! - 1]);
  return out;
}
const ivId = ([a, b]: [number, number]): string => `${ip(a)}-${ip(b)}[External]`;

/** The connections the generated set must allow, by "src\tdst" (no empty entries). */
function expectedAfter(g: Case, srcPart: [number, number][], dstPart: [number, number][]): Map<string, PS> {
  const out = new Map<string, PS>();
  const learning = (id: string) => g.learningIds.has(id);
  const dnsServer = (w: W) => w.dns;
  for (const a of g.workloads) {
    for (const b of g.workloads) {
      if (a === b) continue;
      const obs = g.pairs.get(`${a.id}\t${b.id}`) ?? none();
      const assumed = dnsServer(b) ? DNS : none();
      const egress = learning(a.id) ? all() : union(obs, assumed);
      const ingress = learning(b.id) ? all() : union(obs, assumed);
      const c = inter(egress, ingress);
      if (!isNone(c)) out.set(`${a.id}\t${b.id}`, c);
    }
    for (const iv of dstPart) {
      let c = none();
      if (learning(a.id)) c = all();
      else for (const x of g.egressExt) if (x.w === a.id && x.e.lo <= iv[0] && iv[1] <= x.e.hi) c = union(c, x.c);
      if (!isNone(c)) out.set(`${a.id}\t${ivId(iv)}`, c);
    }
    for (const iv of srcPart) {
      let c = none();
      if (learning(a.id)) c = all();
      else for (const x of g.ingressExt) if (x.w === a.id && x.e.lo <= iv[0] && iv[1] <= x.e.hi) c = union(c, x.c);
      if (!isNone(c)) out.set(`${ivId(iv)}\t${a.id}`, c);
    }
  }
  return out;
}

test('policies from observed flows allow exactly the observed connections, DNS and learning workloads (300 random clusters)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-observed-'));
  let withLearning = 0;
  let withExternal = 0;
  let withDns = 0;
  try {
    for (let seed = 1; seed <= 300; seed++) {
      const g = generateCase(seed);
      const manifests = join(dir, `m${seed}.yaml`);
      writeFileSync(manifests, g.manifests);
      const { model } = await loadCluster([manifests]);
      const res = generateFromObserved(model, { edges: g.edges, learning: g.learning });
      assert.deepEqual(res.notes.filter((n) => !n.includes('no connection observed')), [], `seed ${seed}`);
      assert.deepEqual(res.learning.map((l) => l.workload).sort(), [...g.learningIds].sort(), `seed ${seed}: learning marks`);
      writeFileSync(join(dir, `p${seed}.yaml`), res.yaml);
      const got = (await connlistFromPaths([manifests, join(dir, `p${seed}.yaml`)], 'txt')).split('\n').filter(Boolean).sort();
      const srcPart = g.ingressExt.length ? partition(g.ingressExt.map((x) => x.e)) : [];
      const dstPart = g.egressExt.length ? partition(g.egressExt.map((x) => x.e)) : [];
      // Without any ipBlock on a side the analysis shows one peer for all of IPv4.
      const full: [number, number][] = [[0, 2 ** 32 - 1]];
      const exp = expectedAfter(g, srcPart.length ? srcPart : full, dstPart.length ? dstPart : full);
      const want = [...exp.entries()].map(([k, c]) => `${k.replace('\t', ' => ')} : ${render(c)}`).sort();
      assert.deepEqual(got, want, `seed ${seed}\nedges: ${JSON.stringify(g.edges)}\nlearning: ${g.learning}`);

      // The simulation (no existing policies: everything is allowed today): nothing observed
      // is cut; removed = every pair whose expected set is not everything, over the shared
      // partition of all observed external ends.
      assert.equal(res.simulation.counts.cutObserved, 0, `seed ${seed}: cut`);
      const shared = partition([...g.ingressExt, ...g.egressExt].map((x) => x.e));
      const expShared = expectedAfter(g, shared, shared);
      const n = g.workloads.length;
      const pairCount = n * (n - 1) + 2 * n * shared.length;
      const allCount = [...expShared.values()].filter(isAll).length;
      assert.equal(res.simulation.counts.removed, pairCount - allCount, `seed ${seed}: removed`);
      assert.equal(res.simulation.counts.added, 0, `seed ${seed}: added`);
      if (g.learningIds.size) withLearning++;
      if (g.egressExt.length + g.ingressExt.length) withExternal++;
      if (g.workloads.some((w) => w.dns)) withDns++;
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  // The generator exercised each feature on many cases.
  assert.ok(withLearning > 50 && withExternal > 100 && withDns > 50, `${withLearning} ${withExternal} ${withDns}`);
});

/**
 * The same property from generated sensor flows (ObservedFlow lines, as `sensor --flows`
 * writes them): pods named as their controllers name them, pod IPs, Services with
 * clusterIPs; egress flows to pod IPs and to Services, the server's ingress flow sometimes
 * beside it, external ends both ways. The ground truth is what the generator made talk; a
 * pod address counts as that pod only when some flow of the pod itself carries it (else it
 * is external: documented). No learning in a flow file.
 */
const POD_KINDS = ['Deployment', 'StatefulSet', 'DaemonSet'];
const podName = (kind: string, name: string) => (kind === 'Deployment' ? `${name}-5d8f7c9b4-x7k2p` : kind === 'StatefulSet' ? `${name}-0` : `${name}-q8w2e`);

function generateFlowCase(seed: number): { c: Case; flows: ObservedFlow[] } {
  const r = rng(seed * 7919);
  const pick = <T>(a: T[]): T => a[Math.floor(r() * a.length)]!;
  const docs: Record<string, any>[] = [];
  const workloads: (W & { ip: string; svc?: string })[] = [];
  for (let k = 0, nsCount = 1 + Math.floor(r() * 2); k < nsCount; k++) {
    const ns = `ns${k}`;
    docs.push({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    for (let i = 0, count = 2 + Math.floor(r() * 4); i < count; i++) {
      const kind = pick(POD_KINDS);
      const name = `w${k}-${i}`;
      docs.push(workloadDoc(kind, ns, name, { app: name }));
      const w: W & { ip: string; svc?: string } = { id: `${ns}/${name}[${kind}]`, ns, name, kind, dns: false, ip: `10.1.${k}.${10 + i}` };
      if (r() < 0.4) {
        w.svc = `10.96.${k}.${10 + i}`;
        docs.push({ apiVersion: 'v1', kind: 'Service', metadata: { name: `${name}-svc`, namespace: ns }, spec: { clusterIP: w.svc, selector: { app: name }, ports: [{ port: 80, targetPort: 8080 }] } });
      }
      workloads.push(w);
    }
  }
  const t = '2026-12-07T09:00:00Z';
  const flow = (w: W & { ip: string }, direction: 'egress' | 'ingress', proto: Proto, localPort: number, rip: string, rport: number): ObservedFlow => ({
    protocol: proto, direction, local: { ip: w.ip, port: localPort, pod: { namespace: w.ns, name: podName(w.kind, w.name) } }, remote: { ip: rip, port: rport },
    firstSeen: t, lastSeen: t, connections: 1, observedBy: 'ebpf',
  });
  const flows: ObservedFlow[] = [];
  // Ground truth, resolved below once every flow is known.
  const talks: { a: (typeof workloads)[number]; b?: (typeof workloads)[number]; ext?: Ext; dir: 'out' | 'in'; c: PS; viaService?: boolean }[] = [];
  for (let k = 0, count = Math.floor(r() * 12); k < count; k++) {
    const a = pick(workloads);
    const proto = pick([...PROTOS]);
    const port = 1 + Math.floor(r() * 9000);
    const roll = r();
    if (roll < 0.15) {
      const base = (20 + Math.floor(r() * 200)) * 2 ** 24 + Math.floor(r() * 2 ** 16) * 256 + 9;
      const e: Ext = { lo: base, hi: base, text: ip(base) };
      if (r() < 0.5) {
        flows.push(flow(a, 'egress', proto, 0, e.text, port));
        talks.push({ a, ext: e, dir: 'out', c: one(proto, port) });
      } else {
        flows.push(flow(a, 'ingress', proto, port, e.text, 40000));
        talks.push({ a, ext: e, dir: 'in', c: one(proto, port) });
      }
      continue;
    }
    const b = pick(workloads);
    if (a === b) continue;
    if (b.svc && roll < 0.35) {
      // Through the Service: clusterIP port 80 is the pods' TCP 8080.
      flows.push(flow(a, 'egress', 'TCP', 0, b.svc, 80));
      talks.push({ a, b, dir: 'out', c: one('TCP', 8080), viaService: true });
      continue;
    }
    flows.push(flow(a, 'egress', proto, 0, b.ip, port));
    talks.push({ a, b, dir: 'out', c: one(proto, port) });
    if (r() < 0.5) {
      flows.push(flow(b, 'ingress', proto, port, a.ip, 40000 + k));
      talks.push({ a: b, b: a, dir: 'in', c: one(proto, port) });
    }
  }
  const known = new Set(flows.map((f) => f.local.ip));
  const pairs = new Map<string, PS>();
  const egressExt: Case['egressExt'] = [];
  const ingressExt: Case['ingressExt'] = [];
  const addPair = (src: W, dst: W, c: PS) => pairs.set(`${src.id}\t${dst.id}`, union(pairs.get(`${src.id}\t${dst.id}`) ?? none(), c));
  for (const x of talks) {
    if (x.ext) (x.dir === 'out' ? egressExt : ingressExt).push({ w: x.a.id, e: x.ext, c: x.c });
    else if (x.dir === 'out') {
      // To a Service: always its backends; to a pod address: that pod only when its own flows carry the address.
      if (x.viaService || known.has(x.b!.ip)) addPair(x.a, x.b!, x.c);
      else egressExt.push({ w: x.a.id, e: { lo: ipNum(x.b!.ip), hi: ipNum(x.b!.ip), text: x.b!.ip }, c: x.c });
    } else {
      // x.a accepted from x.b: known because x.b's egress flow is in the file.
      addPair(x.b!, x.a, x.c);
    }
  }
  return { c: { manifests: docs.map((d) => stringify(d)).join('---\n'), edges: [], learning: [], workloads, learningIds: new Set(), pairs, egressExt, ingressExt }, flows };
}

const ipNum = (s: string): number => s.split('.').reduce((a, o) => a * 256 + Number(o), 0);

test('policies from generated sensor flows allow exactly what talked (150 random clusters)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-observed-flows-'));
  let viaServices = 0;
  let unknownPeers = 0;
  try {
    for (let seed = 1; seed <= 150; seed++) {
      const { c: g, flows } = generateFlowCase(seed);
      const manifests = join(dir, `m${seed}.yaml`);
      writeFileSync(manifests, g.manifests);
      const { model } = await loadCluster([manifests]);
      const { objects } = await loadManifests([manifests]);
      const { edges, unresolved } = observedFromFlows(flows, model, { serviceIps: serviceIpsOf(objects) });
      assert.equal(unresolved, 0, `seed ${seed}`);
      const res = generateFromObserved(model, { edges });
      writeFileSync(join(dir, `p${seed}.yaml`), res.yaml);
      const got = (await connlistFromPaths([manifests, join(dir, `p${seed}.yaml`)], 'txt')).split('\n').filter(Boolean).sort();
      const srcPart = g.ingressExt.length ? partition(g.ingressExt.map((x) => x.e)) : [[0, 2 ** 32 - 1] as [number, number]];
      const dstPart = g.egressExt.length ? partition(g.egressExt.map((x) => x.e)) : [[0, 2 ** 32 - 1] as [number, number]];
      const want = [...expectedAfter(g, srcPart, dstPart).entries()].map(([k, c]) => `${k.replace('\t', ' => ')} : ${render(c)}`).sort();
      assert.deepEqual(got, want, `seed ${seed}\nflows: ${flows.map((f) => JSON.stringify(f)).join('\n')}`);
      assert.equal(res.simulation.counts.cutObserved, 0, `seed ${seed}`);
      if (flows.some((f) => f.remote.ip.startsWith('10.96.'))) viaServices++;
      if (g.egressExt.some((x) => x.e.text.startsWith('10.1.'))) unknownPeers++;
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.ok(viaServices > 20 && unknownPeers > 10, `${viaServices} ${unknownPeers}`);
});
