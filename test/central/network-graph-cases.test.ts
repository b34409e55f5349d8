/**
 * The graph's edges against an independent computation, on generated clusters (seeded):
 * workloads (Deployments and StatefulSets with running Pods), random NetworkPolicies
 * (ingress and egress; pod, namespace and ipBlock peers; ports, UDP, endPort ranges; default
 * deny) and random flows between them and to the internet, ingested through Central's HTTP
 * API and resolved through its stored inventory, on SQLite and PostgreSQL.
 *
 * Expected, computed here without src/network/graph.ts: `netpol analyze` (the library's
 * connlist JSON over the same manifests written as YAML) says which connections are
 * allowed; which workloads a policy isolates is read off the generated policies directly.
 * - every flow is one observed edge, `allowed` exactly when the connlist row for the pair
 *   holds its protocol and port, flagged `observed-not-allowed` otherwise;
 * - every allowed range of a pair a policy decides (source egress-isolated or destination
 *   ingress-isolated) that no flow falls in is one `allowed-not-observed` edge;
 * - nothing else.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { stringify } from 'yaml';
import { deploymentId } from '../../src/central/live/deployments.js';
import { LiveEvaluator } from '../../src/central/live/evaluator.js';
import { StoreInventorySink } from '../../src/central/live/sink.js';
import { connlistFromPaths } from '../../src/kube/netpol/index.js';
import type { ObservedFlow } from '../../src/network/flow.js';
import type { NetworkGraph } from '../../src/network/graph-types.js';
import { DIALECTS, dialectSkip, startTestCentral, type TestCentral } from '../helpers/central.js';
import { rng } from '../helpers/random.js';

const CASES = 30;
const NOW = new Date('2026-12-07T10:00:00.000Z');
const T0 = '2026-12-07T09:30:00.000Z';

interface W { ns: string; name: string; kind: 'Deployment' | 'StatefulSet'; labels: Record<string, string>; ip: string }
interface Port { protocol: 'TCP' | 'UDP'; port: number; endPort?: number }
interface Policy { ns: string; name: string; select: Record<string, string>; types: ('Ingress' | 'Egress')[]; raw: Record<string, any> }
interface Flow { src: W; dst: W | { ip: string }; protocol: 'TCP' | 'UDP'; port: number }

const PORTS: Port[] = [{ protocol: 'TCP', port: 80 }, { protocol: 'TCP', port: 443 }, { protocol: 'TCP', port: 5432 }, { protocol: 'UDP', port: 53 }, { protocol: 'TCP', port: 8000, endPort: 8100 }];
const FLOW_PORTS: Omit<Flow, 'src' | 'dst'>[] = [{ protocol: 'TCP', port: 80 }, { protocol: 'TCP', port: 443 }, { protocol: 'TCP', port: 5432 }, { protocol: 'UDP', port: 53 }, { protocol: 'TCP', port: 8050 }, { protocol: 'TCP', port: 9999 }];
const EXTERNAL = ['8.8.8.8', '1.1.1.1'];

function generate(seed: number) {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const namespaces = ['alpha', 'beta'].slice(0, 1 + Math.floor(r() * 2));
  const tiers = ['web', 'api', 'data'];
  const workloads: W[] = [];
  const n = 3 + Math.floor(r() * 4);
  for (let i = 0; i < n; i++) {
    workloads.push({ ns: pick(namespaces), name: `w${i}`, kind: r() < 0.7 ? 'Deployment' : 'StatefulSet', labels: { app: `w${i}`, tier: pick(tiers) }, ip: `10.244.${seed % 250}.${10 + i}` });
  }
  const selector = (): Record<string, string> => {
    const x = r();
    if (x < 0.15) return {};
    if (x < 0.55) return { tier: pick(tiers) };
    return { app: pick(workloads).labels.app! };
  };
  const peer = (egress: boolean): Record<string, any> => {
    const x = r();
    if (egress && x < 0.2) return { ipBlock: { cidr: '8.8.8.0/24' } };
    if (x < 0.45) return { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': pick(namespaces) } }, podSelector: { matchLabels: selector() } };
    return { podSelector: { matchLabels: selector() } };
  };
  const ports = () => {
    if (r() < 0.3) return undefined;
    const out = new Map<string, Port>();
    for (let k = 0, m = 1 + Math.floor(r() * 2); k < m; k++) { const p = pick(PORTS); out.set(`${p.protocol}${p.port}`, p); }
    return [...out.values()].map((p) => ({ protocol: p.protocol, port: p.port, ...(p.endPort ? { endPort: p.endPort } : {}) }));
  };
  const policies: Policy[] = [];
  for (let i = 0, m = Math.floor(r() * 5); i < m; i++) {
    const ns = pick(namespaces);
    const select = selector();
    const types: Policy['types'] = r() < 0.6 ? ['Ingress'] : r() < 0.6 ? ['Egress'] : ['Ingress', 'Egress'];
    const rules = (egress: boolean) => Array.from({ length: Math.floor(r() * 3) }, () => {
      const rule: Record<string, any> = {};
      if (r() < 0.8) rule[egress ? 'to' : 'from'] = [peer(egress)];
      const p = ports();
      if (p) rule.ports = p;
      return rule;
    });
    const spec: Record<string, any> = { podSelector: { matchLabels: select }, policyTypes: types };
    if (types.includes('Ingress')) spec.ingress = rules(false);
    if (types.includes('Egress')) spec.egress = rules(true);
    policies.push({ ns, name: `p${i}`, select, types, raw: { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: `p${i}`, namespace: ns }, spec } });
  }
  const flows: Flow[] = [];
  for (let i = 0, m = 4 + Math.floor(r() * 8); i < m; i++) {
    const src = pick(workloads);
    const dst = r() < 0.2 ? { ip: pick(EXTERNAL) } : pick(workloads.filter((w) => w !== src));
    flows.push({ src, dst, ...pick(FLOW_PORTS) });
  }
  return { namespaces, workloads, policies, flows };
}

type Case = ReturnType<typeof generate>;

function manifests(c: Case): Record<string, any>[] {
  const out: Record<string, any>[] = c.namespaces.map((ns) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels: { 'kubernetes.io/metadata.name': ns } } }));
  for (const w of c.workloads) {
    out.push({ apiVersion: 'apps/v1', kind: w.kind, metadata: { name: w.name, namespace: w.ns }, spec: { selector: { matchLabels: { app: w.labels.app } }, template: { metadata: { labels: w.labels }, spec: { containers: [{ name: 'c', image: `registry.example/${w.name}:1` }] } } } });
  }
  for (const p of c.policies) out.push(p.raw);
  return out;
}

/** The stored inventory: the manifests plus what runs them (ReplicaSets, Pods with their addresses). */
function inventory(c: Case, seed: number): Record<string, any>[] {
  let uid = 0;
  const withUid = (o: Record<string, any>) => ({ ...o, metadata: { ...o.metadata, uid: `c${seed}-${++uid}` } });
  const out = manifests(c).map(withUid);
  for (const w of c.workloads) {
    let owner: { kind: string; name: string; apiVersion: string; controller: boolean } = { kind: w.kind, name: w.name, apiVersion: 'apps/v1', controller: true };
    if (w.kind === 'Deployment') {
      out.push(withUid({ apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: { name: `${w.name}-5c6d7`, namespace: w.ns, ownerReferences: [owner] }, spec: {} }));
      owner = { kind: 'ReplicaSet', name: `${w.name}-5c6d7`, apiVersion: 'apps/v1', controller: true };
    }
    const podName = w.kind === 'Deployment' ? `${w.name}-5c6d7-abcde` : `${w.name}-0`;
    out.push(withUid({ apiVersion: 'v1', kind: 'Pod', metadata: { name: podName, namespace: w.ns, labels: w.labels, ownerReferences: [owner] }, spec: { containers: [{ name: 'c', image: 'x' }] }, status: { phase: 'Running', podIP: w.ip } }));
  }
  return out;
}

/** `All Connections` / `TCP 80,8000-8100,UDP 53` → [protocol, from, to][]. */
function parseConn(text: string): [string, number, number][] {
  if (text === 'All Connections') return ['TCP', 'UDP', 'SCTP'].map((p) => [p, 1, 65535]);
  const out: [string, number, number][] = [];
  let proto = '';
  for (const part of text.split(',')) {
    const m = /^(?:(TCP|UDP|SCTP) )?(\d+)(?:-(\d+))?$/.exec(part.trim());
    assert.ok(m, `connlist conn ${text}`);
    if (m[1]) proto = m[1];
    out.push([proto, Number(m[2]), Number(m[3] ?? m[2])]);
  }
  return out;
}

const external = (d: Flow['dst']): d is { ip: string } => !('kind' in d);
const subset = (sel: Record<string, string>, labels: Record<string, string>) => Object.entries(sel).every(([k, v]) => labels[k] === v);
const ipNum = (ip: string) => ip.split('.').reduce((a, b) => a * 256 + Number(b), 0);

async function expected(c: Case, sourceId: string, dir: string) {
  const file = join(dir, 'cluster.yaml');
  writeFileSync(file, manifests(c).map((o) => stringify(o)).join('---\n'));
  const rows = JSON.parse(await connlistFromPaths([file], 'json')) as { src: string; dst: string; conn: string }[];
  const wid = (w: W) => `${w.ns}/${w.name}[${w.kind}]`;
  const node = (id: string): string => {
    const w = c.workloads.find((x) => wid(x) === id);
    if (w) return deploymentId(sourceId, w.kind, w.ns, w.name);
    const m = /^(.+)\[External\]$/.exec(id);
    assert.ok(m, id);
    return `external:${m[1]}`;
  };
  const isolated = (w: W, type: 'Ingress' | 'Egress') => c.policies.some((p) => p.ns === w.ns && p.types.includes(type) && subset(p.select, w.labels));
  const byId = new Map(c.workloads.map((w) => [wid(w), w]));
  const conns = new Map(rows.map((row) => [`${row.src}>${row.dst}`, parseConn(row.conn)]));
  const observed = new Map<string, boolean>();
  for (const f of c.flows) {
    const dstId = external(f.dst) ? undefined : wid(f.dst);
    // An external address: the connlist row of the IP range that holds it.
    const row = dstId ? conns.get(`${wid(f.src)}>${dstId}`) : rows.filter((x) => x.src === wid(f.src) && x.dst.endsWith('[External]')).map((x) => {
      const [a, b] = x.dst.replace('[External]', '').split('-').map(ipNum) as [number, number];
      return a <= ipNum((f.dst as { ip: string }).ip) && ipNum((f.dst as { ip: string }).ip) <= b ? parseConn(x.conn) : [];
    }).flat();
    const allowed = (row ?? []).some(([p, a, b]) => p === f.protocol && a <= f.port && f.port <= b);
    const target = dstId ? node(dstId) : `external:${(f.dst as { ip: string }).ip}/32`;
    observed.set(`${node(wid(f.src))}>${target}:${f.protocol}/${f.port}`, allowed);
  }
  const unused = new Set<string>();
  for (const row of rows) {
    const s = byId.get(row.src);
    const d = byId.get(row.dst);
    if (!(s && isolated(s, 'Egress')) && !(d && isolated(d, 'Ingress'))) continue;
    for (const [p, a, b] of parseConn(row.conn)) {
      const used = c.flows.some((f) => {
        if (wid(f.src) !== row.src && !(row.src.endsWith('[External]'))) return false;
        if (row.src.endsWith('[External]')) return false; // flows here all start at workloads
        const dstOk = external(f.dst) ? row.dst.endsWith('[External]') && (() => {
          const [x, y] = row.dst.replace('[External]', '').split('-').map(ipNum) as [number, number];
          return x <= ipNum((f.dst as { ip: string }).ip) && ipNum((f.dst as { ip: string }).ip) <= y;
        })() : wid(f.dst as W) === row.dst;
        return dstOk && f.protocol === p && a <= f.port && f.port <= b;
      });
      if (!used) unused.add(`${node(row.src)}>${node(row.dst)}:${p}/${a === 1 && b === 65535 ? '*' : a === b ? a : `${a}-${b}`}`);
    }
  }
  return { observed, unused };
}

async function feed(central: TestCentral, sourceId: string, name: string, objects: Record<string, any>[]): Promise<void> {
  await central.db().insertInto('sources').values({ id: sourceId, kind: 'cluster', name, config: '{}', state: 'up', message: null, first_seen: T0, last_seen: T0 }).execute();
  const evaluator = new LiveEvaluator(central.db(), central.ctx.policies, () => NOW);
  const sink = new StoreInventorySink(central.db(), evaluator, () => NOW);
  evaluator.track(sourceId);
  for (const o of objects) await sink.upsert({ sourceId, kind: o.kind, uid: o.metadata.uid, namespace: o.metadata.namespace, name: o.metadata.name, body: o });
  await evaluator.settle();
  evaluator.stop();
}

function flowOf(f: Flow): ObservedFlow {
  return {
    protocol: f.protocol, direction: 'egress', firstSeen: T0, lastSeen: T0, connections: 1, observedBy: 'ebpf',
    local: { ip: f.src.ip, port: 40000, pod: { namespace: f.src.ns, name: f.src.kind === 'Deployment' ? `${f.src.name}-5c6d7-abcde` : `${f.src.name}-0` } },
    remote: { ip: f.dst.ip, port: f.port },
  };
}

for (const dialect of DIALECTS) {
  describe(`network graph on generated clusters [${dialect}]`, { skip: await dialectSkip(dialect) }, () => {
    test(`${CASES} clusters: observed, allowed and flagged edges equal netpol analyze's`, async () => {
      const central = await startTestCentral({ dialect, now: () => NOW });
      const dir = mkdtempSync(join(tmpdir(), 'gatehouse-netgraph-'));
      const analyst = await central.token('analyst');
      const sensor = await central.token('sensor');
      let flagged = 0;
      let unusedTotal = 0;
      try {
        for (let seed = 1; seed <= CASES; seed++) {
          const c = generate(seed * 7919);
          const sourceId = `cluster-case${seed}`;
          await feed(central, sourceId, `case${seed}`, inventory(c, seed));
          const events = c.flows.map((f, i) => ({ id: `case${seed}-${i}`, type: 'flow', time: T0, data: flowOf(f) }));
          const r = await central.api('POST', '/api/v1/ingest/events', { source: { kind: 'sensor', cluster: `case${seed}` }, events }, sensor);
          assert.equal(r.status, 200, JSON.stringify(r.body));
          const g = (await central.api('GET', `/api/v1/network/graph?cluster=case${seed}`, undefined, analyst)).body as NetworkGraph;
          const want = await expected(c, sourceId, dir);
          const gotObserved = new Map(g.edges.filter((e) => e.observed).map((e) => [`${e.source}>${e.target}:${e.protocol}/${e.port}`, e]));
          assert.deepEqual([...gotObserved.keys()].sort(), [...want.observed.keys()].sort(), `case ${seed}: observed edges`);
          for (const [key, allowed] of want.observed) {
            const e = gotObserved.get(key)!;
            assert.equal(e.allowed, allowed, `case ${seed}: ${key} allowed`);
            assert.equal(e.flag, allowed ? undefined : 'observed-not-allowed', `case ${seed}: ${key} flag`);
            if (!allowed) flagged++;
          }
          const gotUnused = g.edges.filter((e) => e.flag === 'allowed-not-observed')
            .map((e) => `${e.source}>${e.target}:${e.protocol}/${e.port === undefined ? '*' : e.portEnd ? `${e.port}-${e.portEnd}` : e.port}`);
          assert.deepEqual(gotUnused.sort(), [...want.unused].sort(), `case ${seed}: allowed-not-observed edges`);
          unusedTotal += want.unused.size;
          assert.equal(g.edges.length, want.observed.size + want.unused.size, `case ${seed}: nothing else`);
        }
        // The generator must exercise both flags (else the comparison proves little).
        assert.ok(flagged > 0, 'some flows are not allowed');
        assert.ok(unusedTotal > 0, 'some allowed connections are not observed');
      } finally {
        rmSync(dir, { recursive: true, force: true });
        await central.close();
      }
    });
  });
}
