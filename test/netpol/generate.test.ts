/**
 * `netpol generate`: on many generated clusters with random intent (workload pairs, IP
 * ranges, ports, protocols, port ranges), the generated policies, written as YAML, loaded
 * back and re-analysed, allow exactly the intended connections and nothing else. The
 * expected connection list is computed here independently of the generator's own check.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import {
  analyzeConnectivity,
  connlistFromPaths,
  generatePolicies,
  inferIntentFromEnv,
  loadCluster,
  parseIntentFile,
  policiesToYaml,
  verifyGenerated,
} from '../../src/kube/netpol/index.js';
import { rng } from '../helpers/random.js';


const PROTOS = ['TCP', 'UDP', 'SCTP'];
const KINDS = ['Deployment', 'StatefulSet', 'DaemonSet', 'Job', 'CronJob', 'ReplicaSet', 'Pod'];

function workloadManifest(kind: string, ns: string, name: string, labels: Record<string, string>): Record<string, any> {
  const podSpec = { containers: [{ name: 'c', image: 'x', ports: [{ containerPort: 8080 }] }] };
  const template = { metadata: { labels }, spec: podSpec };
  const meta = { name, namespace: ns };
  switch (kind) {
    case 'Pod':
      return { apiVersion: 'v1', kind, metadata: { ...meta, labels }, spec: podSpec, status: { hostIP: '10.0.0.1', podIPs: [{ ip: '10.1.0.1' }] } };
    case 'CronJob':
      return { apiVersion: 'batch/v1', kind, metadata: meta, spec: { schedule: '* * * * *', jobTemplate: { spec: { template } } } };
    case 'Job':
      return { apiVersion: 'batch/v1', kind, metadata: meta, spec: { template } };
    default:
      return { apiVersion: 'apps/v1', kind, metadata: meta, spec: { selector: { matchLabels: labels }, template } };
  }
}

interface Generated {
  manifests: string;
  intent: string;
  /** Expected connlist lines, computed here. */
  expected: string[];
}

function ipOf(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

function generateCase(seed: number): Generated {
  const r = rng(seed);
  const pick = <T>(a: T[]): T => a[Math.floor(r() * a.length)]!;
  const nsCount = 1 + Math.floor(r() * 3);
  const docs: Record<string, any>[] = [];
  const workloads: { id: string; ref: string }[] = [];
  for (let n = 0; n < nsCount; n++) {
    const ns = `ns${n}`;
    docs.push({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels: { team: `t${n % 2}` } } });
    const count = 2 + Math.floor(r() * 4);
    for (let i = 0; i < count; i++) {
      const kind = pick(KINDS);
      const name = `w${n}-${i}`;
      docs.push(workloadManifest(kind, ns, name, { app: name, tier: pick(['a', 'b']) }));
      workloads.push({ id: `${ns}/${name}[${kind}]`, ref: `${ns}/${name}` });
    }
  }
  // Random intent; expected lines keyed by "src\tdst" with sets of "PROTO port".
  const conns: { from: string; to: string; ports?: string[] }[] = [];
  const expected = new Map<string, Map<string, Set<number>> | 'all'>();
  const cidrs: { cidr: string; start: number; end: number }[] = [];
  const intentCount = 1 + Math.floor(r() * 8);
  for (let k = 0; k < intentCount; k++) {
    const a = pick(workloads);
    const b = pick(workloads);
    if (a === b) continue;
    let from = a.ref;
    let to = b.ref;
    let fromId = a.id;
    let toId = b.id;
    if (r() < 0.2) {
      const octet = 10 + Math.floor(r() * 4);
      const start = octet * 2 ** 24;
      const cidr = `${octet}.0.0.0/8`;
      cidrs.push({ cidr, start, end: start + 2 ** 24 - 1 });
      if (r() < 0.5) {
        from = cidr;
        fromId = `${ipOf(start)}-${ipOf(start + 2 ** 24 - 1)}[External]`;
      } else {
        to = cidr;
        toId = `${ipOf(start)}-${ipOf(start + 2 ** 24 - 1)}[External]`;
      }
    }
    const key = `${fromId}\t${toId}`;
    if (r() < 0.2) {
      conns.push({ from, to });
      expected.set(key, 'all');
      continue;
    }
    const ports: string[] = [];
    const cur = expected.get(key);
    const set = cur === 'all' ? undefined : (cur ?? new Map<string, Set<number>>());
    for (let p = 0; p < 1 + Math.floor(r() * 3); p++) {
      const proto = pick(PROTOS);
      const lo = 1 + Math.floor(r() * 9000);
      const hi = r() < 0.3 ? lo + Math.floor(r() * 20) : lo;
      ports.push(hi > lo ? `${proto} ${lo}-${hi}` : `${proto} ${lo}`);
      if (set) {
        const s = set.get(proto) ?? new Set<number>();
        for (let x = lo; x <= hi; x++) s.add(x);
        set.set(proto, s);
      }
    }
    conns.push({ from, to, ports });
    if (set) expected.set(key, set);
  }
  const lines = [...expected.entries()].map(([key, v]) => {
    const [s, d] = key.split('\t');
    return `${s} => ${d} : ${v === 'all' ? 'All Connections' : render(v)}`;
  });
  return { manifests: docs.map((d) => stringify(d)).join('---\n'), intent: stringify({ connections: conns }), expected: lines.sort() };
}

/** np-guard's rendering of port sets, written independently of src/kube/netpol/conns.ts. */
function render(set: Map<string, Set<number>>): string {
  const parts: string[] = [];
  for (const proto of ['SCTP', 'TCP', 'UDP']) {
    const ports = [...(set.get(proto) ?? [])].sort((a, b) => a - b);
    if (ports.length === 0) continue;
    const ranges: string[] = [];
    for (let i = 0; i < ports.length; ) {
      let j = i;
      while (j + 1 < ports.length && ports[j + 1] === ports[j]! + 1) j++;
      ranges.push(i === j ? `${ports[i]}` : `${ports[i]}-${ports[j]}`);
      i = j + 1;
    }
    parts.push(`${proto} ${ranges.join(',')}`);
  }
  return parts.join(',');
}

test('generated policies, re-analysed from YAML, allow exactly the declared intent (200 random clusters)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-netpol-gen-'));
  try {
    for (let seed = 1; seed <= 200; seed++) {
      const g = generateCase(seed);
      const manifests = join(dir, `m${seed}.yaml`);
      writeFileSync(manifests, g.manifests);
      const { model } = await loadCluster([manifests]);
      const intents = parseIntentFile(g.intent, 'intent.yaml', model);
      const { policies, notes } = generatePolicies(model, intents);
      assert.deepEqual(notes, [], `seed ${seed}`);
      assert.deepEqual(verifyGenerated(model, intents, policies), [], `seed ${seed}: self-check`);
      writeFileSync(join(dir, `p${seed}.yaml`), policiesToYaml(policies));
      const got = await connlistFromPaths([manifests, join(dir, `p${seed}.yaml`)], 'txt');
      const gotLines = got.split('\n').filter(Boolean).sort();
      assert.deepEqual(gotLines, g.expected, `seed ${seed}\nintent:\n${g.intent}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const ref = join(fileURLToPath(new URL('../..', import.meta.url)), '..', 'shared', 'reference', 'netpol-analyzer');

test('intent inferred from env and ConfigMaps reproduces the hand-written online-boutique policies', { skip: !existsSync(ref) && process.env.CI !== 'true' ? 'reference data not present' : false }, async () => {
  const manifests = join(ref, 'tests', 'onlineboutique_workloads', 'kubernetes-manifests.yaml');
  const { model } = await loadCluster([manifests]);
  const intents = inferIntentFromEnv(model);
  const { policies } = generatePolicies(model, intents);
  assert.deepEqual(verifyGenerated(model, intents, policies), []);
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-netpol-ob-'));
  try {
    writeFileSync(join(dir, 'policies.yaml'), policiesToYaml(policies));
    const got = (await connlistFromPaths([manifests, join(dir, 'policies.yaml')], 'txt')).split('\n').filter(Boolean);
    const upstream = readFileSync(join(ref, 'test_outputs', 'connlist', 'onlineboutique_workloads_connlist_output.txt'), 'utf8').split('\n').filter(Boolean);
    // The upstream policies leave redis-cart open to everything; its env (REDIS_ADDR) says only cartservice needs it.
    // They also shut the LoadBalancer Service frontend-external off from outside; generate keeps it reachable.
    const external = '0.0.0.0-255.255.255.255[External] => default/frontend[Deployment] : TCP 8080';
    assert.ok(got.includes(external));
    assert.deepEqual(got.filter((l) => !l.includes('redis-cart') && l !== external), upstream.filter((l) => !l.includes('redis-cart')));
    assert.deepEqual(got.filter((l) => l.includes('redis-cart')), ['default/cartservice[Deployment] => default/redis-cart[Deployment] : TCP 6379']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('ConfigMap-referenced services (ADDR + PORT keys) become intent', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-netpol-cm-'));
  try {
    const docs = [
      workloadManifest('Deployment', 'front', 'web', { app: 'web' }),
      workloadManifest('Deployment', 'back', 'api', { app: 'api' }),
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'api-svc', namespace: 'back' }, spec: { selector: { app: 'api' }, ports: [{ port: 80, targetPort: 8080 }, { port: 81, targetPort: 9090 }] } },
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cfg', namespace: 'front' }, data: { API_ADDR: 'api-svc.back', API_PORT: '80' } },
    ];
    docs[0]!.spec.template.spec.containers[0].envFrom = [{ configMapRef: { name: 'cfg' } }];
    writeFileSync(join(dir, 'm.yaml'), docs.map((d) => stringify(d)).join('---\n'));
    const { model } = await loadCluster([join(dir, 'm.yaml')]);
    const intents = inferIntentFromEnv(model);
    assert.equal(intents.length, 1);
    const { policies } = generatePolicies(model, intents);
    writeFileSync(join(dir, 'p.yaml'), policiesToYaml(policies));
    assert.equal(await connlistFromPaths([dir], 'txt'), 'front/web[Deployment] => back/api[Deployment] : TCP 8080\n');
    assert.ok(analyzeConnectivity(model).length > 1, 'without the generated policies everything is open');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const fixtures = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');
/** GoogleCloudPlatform/microservices-demo release/kubernetes-manifests.yaml (source and commit in its header). */
const BOUTIQUE = join(fixtures, 'microservices-demo-kubernetes-manifests.yaml');
/** kubernetes/kubernetes cluster/addons/dns/coredns/coredns.yaml.base: the cluster's kube-dns. */
const COREDNS = join(fixtures, 'kubernetes-coredns-addon.yaml');
const DNS_LINE = / => kube-system\/coredns\[Deployment\] : TCP 53,UDP 53$/;

async function generateAndAnalyze(manifests: string, dir: string, analyzeWith: string[]) {
  const { model } = await loadCluster([manifests]);
  const intents = inferIntentFromEnv(model);
  const result = generatePolicies(model, intents);
  assert.deepEqual(verifyGenerated(model, intents, result.policies), [], 'self-check');
  writeFileSync(join(dir, 'policies.yaml'), policiesToYaml(result.policies));
  const lines = (await connlistFromPaths([manifests, ...analyzeWith, join(dir, 'policies.yaml')], 'txt')).split('\n').filter(Boolean);
  return { model, intents, result, lines };
}

test('microservices-demo: the generated policies keep DNS to kube-dns and the LoadBalancer frontend reachable', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-netpol-msd-'));
  try {
    const { model, result, lines } = await generateAndAnalyze(BOUTIQUE, dir, [COREDNS]);
    const apps = model.workloads.filter((w) => !w.synthetic).map((w) => w.id).sort();
    assert.equal(apps.length, 12);
    // Every workload of the app still resolves names through kube-dns, on UDP and TCP 53 only.
    assert.deepEqual(lines.filter((l) => DNS_LINE.test(l)).map((l) => l.split(' => ')[0]).sort(), apps);
    // kube-system is not in the generated input, so coredns stays open; of the app, the frontend-external LoadBalancer (port 80 -> targetPort 8080) is reachable from outside, and nothing else is.
    assert.deepEqual(lines.filter((l) => l.includes('[External]') && !l.includes('kube-system/')), ['0.0.0.0-255.255.255.255[External] => default/frontend[Deployment] : TCP 8080']);
    assert.ok(lines.includes('default/loadgenerator[Deployment] => default/frontend[Deployment] : TCP 8080'));
    const yaml = policiesToYaml(result.policies);
    assert.match(yaml, /cidr: ::\/0/);
    assert.match(yaml, /k8s-app: kube-dns/);
    assert.deepEqual(result.assumptions, [
      'allowed DNS egress (UDP and TCP 53) to kube-system/k8s-app=kube-dns for 12 workload(s) in 1 namespace(s) (policy gatehouse-allow-dns-egress)',
      'allowed ingress from anywhere (0.0.0.0/0, ::/0) to default/frontend[Deployment] on TCP 8080: it is behind LoadBalancer Service default/frontend-external',
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('microservices-demo with kube-dns in the input: its namespace gets a default deny but DNS still answers everybody', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-netpol-msd-dns-'));
  try {
    const both = join(dir, 'both.yaml');
    writeFileSync(both, `${readFileSync(BOUTIQUE, 'utf8')}\n---\n${readFileSync(COREDNS, 'utf8')}`);
    const { model, result, lines } = await generateAndAnalyze(both, dir, []);
    const apps = model.workloads.filter((w) => !w.synthetic && w.namespace === 'default').map((w) => w.id).sort();
    assert.deepEqual(lines.filter((l) => DNS_LINE.test(l)).map((l) => l.split(' => ')[0]).sort(), apps);
    assert.ok(!lines.some((l) => l.includes('kube-system/coredns[Deployment] : All') || l.startsWith('0.0.0.0-255.255.255.255[External] => kube-system')));
    assert.ok(result.assumptions.some((a) => a.includes('allowed DNS ingress (UDP and TCP 53) from every namespace to kube-system/coredns[Deployment]')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('microservices-demo with frontend-external as a NodePort Service: the same external ingress; as ClusterIP: none', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-netpol-msd-np-'));
  try {
    const text = readFileSync(BOUTIQUE, 'utf8');
    assert.equal(text.split('type: LoadBalancer').length, 2);
    writeFileSync(join(dir, 'nodeport.yaml'), text.replace('type: LoadBalancer', 'type: NodePort'));
    const np = await generateAndAnalyze(join(dir, 'nodeport.yaml'), dir, [COREDNS]);
    assert.deepEqual(np.lines.filter((l) => l.includes('[External]') && !l.includes('kube-system/')), ['0.0.0.0-255.255.255.255[External] => default/frontend[Deployment] : TCP 8080']);
    assert.match(np.result.assumptions[1] ?? '', /behind NodePort Service default\/frontend-external$/);
    writeFileSync(join(dir, 'clusterip.yaml'), text.replace('type: LoadBalancer', 'type: ClusterIP'));
    const cip = await generateAndAnalyze(join(dir, 'clusterip.yaml'), dir, [COREDNS]);
    assert.deepEqual(cip.lines.filter((l) => l.includes('[External]') && !l.includes('kube-system/')), []);
    assert.equal(cip.result.assumptions.length, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
