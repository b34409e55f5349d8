/**
 * The simulation before applying policies generated from observation: hand-made clusters
 * whose existing policies allow more than was observed (removed), less (added), an admin
 * policy that denies an observed connection (cut, reason denied), a user exclusion (cut,
 * reason excluded), and the add mode (existing allow rules keep what they allow). Every
 * expected row is worked out by hand from the policies below.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { stringify } from 'yaml';
import { loadCluster } from '../../src/kube/netpol/index.js';
import { generateFromObserved, type ObservedEdge } from '../../src/network/observed-policy.js';

const deploy = (ns: string, name: string) => ({
  apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace: ns },
  spec: { selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'c', image: 'x' }] } } },
});

const backendIngress = {
  apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'backend-in', namespace: 'shop' },
  spec: { podSelector: { matchLabels: { app: 'backend' } }, policyTypes: ['Ingress'], ingress: [{ from: [{ podSelector: { matchLabels: { app: 'frontend' } } }], ports: [{ port: 8080 }, { port: 9090 }] }] },
};
const frontendEgressAll = {
  apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'frontend-out', namespace: 'shop' },
  spec: { podSelector: { matchLabels: { app: 'frontend' } }, policyTypes: ['Egress'], egress: [{}] },
};
const denyBackendToDb = {
  apiVersion: 'policy.networking.k8s.io/v1alpha1', kind: 'AdminNetworkPolicy', metadata: { name: 'no-db' },
  spec: {
    priority: 10,
    subject: { pods: { namespaceSelector: {}, podSelector: { matchLabels: { app: 'backend' } } } },
    egress: [{ name: 'deny-db', action: 'Deny', to: [{ pods: { namespaceSelector: {}, podSelector: { matchLabels: { app: 'db' } } } }], ports: [{ portNumber: { protocol: 'TCP', port: 5432 } }] }],
  },
};

const w = (name: string) => ({ type: 'workload' as const, namespace: 'shop', name });
const observed: ObservedEdge[] = [
  { src: w('frontend'), dst: w('backend'), protocol: 'TCP', port: 8080 },
  { src: w('backend'), dst: w('db'), protocol: 'TCP', port: 5432 },
  // Not allowed today (backend takes ingress from frontend only): the generated set allows it.
  { src: w('db'), dst: w('backend'), protocol: 'TCP', port: 7000 },
];

async function modelOf(docs: Record<string, any>[]) {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-sim-'));
  try {
    writeFileSync(join(dir, 'm.yaml'), docs.map((d) => stringify(d)).join('---\n'));
    return (await loadCluster([join(dir, 'm.yaml')])).model;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const F = 'shop/frontend[Deployment]';
const B = 'shop/backend[Deployment]';
const D = 'shop/db[Deployment]';
const row = (src: string, dst: string, connections: string) => ({ src, dst, connections });

test('simulation (replace): over-permissive connections removed, observed-but-denied ones added, nothing observed cut', async () => {
  const model = await modelOf([deploy('shop', 'frontend'), deploy('shop', 'backend'), deploy('shop', 'db'), backendIngress]);
  const { simulation: s } = generateFromObserved(model, { edges: observed });
  assert.equal(s.mode, 'replace');
  assert.deepEqual(s.cutObserved, []);
  // Today: frontend -> backend TCP 8080,9090 (backend's ingress policy); everything else
  // between non-isolated ends is open; db and frontend cannot reach backend except as above.
  // Only the observed ports stay; the external peer (all of IPv4) loses everything.
  const ext = '0.0.0.0-255.255.255.255[External]';
  assert.deepEqual(s.removed, [
    row(ext, D, 'All Connections'),
    row(ext, F, 'All Connections'),
    row(B, ext, 'All Connections'),
    row(B, D, 'SCTP 1-65535,TCP 1-5431,5433-65535,UDP 1-65535'),
    row(B, F, 'All Connections'),
    row(D, ext, 'All Connections'),
    row(D, F, 'All Connections'),
    row(F, ext, 'All Connections'),
    row(F, B, 'TCP 9090'),
    row(F, D, 'All Connections'),
  ]);
  assert.deepEqual(s.added, [row(D, B, 'TCP 7000')]);
  assert.deepEqual(s.counts, { cutObserved: 0, removed: 10, added: 1, allowedBefore: 10, allowedAfter: 3 });
});

test('simulation: an admin policy denying an observed connection shows it as cut (denied); an exclusion as cut (excluded)', async () => {
  const model = await modelOf([deploy('shop', 'frontend'), deploy('shop', 'backend'), deploy('shop', 'db'), backendIngress, denyBackendToDb]);
  const res = generateFromObserved(model, { edges: observed });
  assert.deepEqual(res.simulation.cutObserved, [{ src: B, dst: D, connections: 'TCP 5432', reason: 'denied' }]);

  const plain = await modelOf([deploy('shop', 'frontend'), deploy('shop', 'backend'), deploy('shop', 'db')]);
  const ex = generateFromObserved(plain, { edges: observed }, { exclude: ['shop/db'] });
  assert.deepEqual(ex.simulation.cutObserved, [
    { src: B, dst: D, connections: 'TCP 5432', reason: 'excluded' },
    { src: D, dst: B, connections: 'TCP 7000', reason: 'excluded' },
  ]);
  // The excluded edges are not in the policies: db gets no policy of its own.
  assert.ok(!ex.policies.some((p) => p.metadata.name === 'gatehouse-allow-db-deployment'));
  assert.ok(ex.policies.some((p) => p.metadata.name === 'gatehouse-allow-frontend-deployment'));
  assert.deepEqual(ex.unobserved, [D]);
});

test('simulation (keepExisting): existing allow rules keep what they allow', async () => {
  const model = await modelOf([deploy('shop', 'frontend'), deploy('shop', 'backend'), deploy('shop', 'db'), backendIngress, frontendEgressAll]);
  const replace = generateFromObserved(model, { edges: observed });
  assert.ok(replace.simulation.removed.some((r) => r.src === F && r.dst === B && r.connections === 'TCP 9090'));
  const add = generateFromObserved(model, { edges: observed }, { keepExisting: true });
  assert.equal(add.simulation.mode, 'add');
  // frontend's own egress-all policy and backend's ingress policy stay: 9090 stays open.
  assert.ok(!add.simulation.removed.some((r) => r.src === F && r.dst === B));
  // frontend can still reach db (its egress is open, db's ingress is the generated one: nothing from frontend).
  assert.ok(add.simulation.removed.some((r) => r.src === F && r.dst === D && r.connections === 'All Connections'));
  assert.deepEqual(add.simulation.cutObserved, []);
});

test('learning workloads: marked in YAML (comment) and JSON, open by default, enforced on request', async () => {
  const model = await modelOf([deploy('shop', 'frontend'), deploy('shop', 'backend'), deploy('shop', 'db')]);
  const open = generateFromObserved(model, { edges: observed, learning: ['shop/db'] });
  assert.deepEqual(open.learning, [{ workload: D, openPolicy: 'gatehouse-learning-db-deployment' }]);
  assert.match(open.yaml, /# LEARNING: shop\/db\[Deployment\] is still in its baseline window: this allow-all keeps it open/);
  assert.match(open.yaml, /# LEARNING: workloads of shop still in their baseline window: shop\/db\[Deployment\]/);
  const lp = open.policies.find((p) => p.metadata.name === 'gatehouse-learning-db-deployment')!;
  assert.deepEqual(lp.spec, { podSelector: { matchLabels: { app: 'db' } }, policyTypes: ['Ingress', 'Egress'], ingress: [{}], egress: [{}] });
  assert.equal(lp.metadata.annotations['gatehouse.dev/learning'], 'true');
  // db keeps everything it had, except what its peers' own policies now deny.
  assert.ok(!open.simulation.removed.some((r) => r.src === D && r.dst.endsWith('[External]')));
  assert.ok(open.simulation.removed.some((r) => r.src === D && r.dst === F));
  const enforced = generateFromObserved(model, { edges: observed, learning: ['shop/db'] }, { learning: 'enforce' });
  assert.deepEqual(enforced.learning, [{ workload: D }]);
  assert.ok(!enforced.policies.some((p) => p.metadata.name.startsWith('gatehouse-learning-')));
  assert.ok(enforced.simulation.removed.some((r) => r.src === D && r.dst.endsWith('[External]')));
});

test('an observed edge on port 0 names no port: left out with a note, never an empty (all ports) list', async () => {
  const model = await modelOf([deploy('shop', 'frontend'), deploy('shop', 'backend')]);
  const res = generateFromObserved(model, { edges: [{ src: w('frontend'), dst: w('backend'), protocol: 'UDP', port: 0 }] });
  assert.deepEqual(res.notes.filter((n) => n.startsWith('observed edge skipped')), ['observed edge skipped: UDP port 0 is not a port a policy can name']);
  assert.ok(!res.policies.some((p) => JSON.stringify(p.spec).includes('"ports":[]')));
  assert.deepEqual(res.intents, []);
});

test('namespace scope: only that namespace gets policies; the simulation keeps other namespaces as they are', async () => {
  const model = await modelOf([deploy('shop', 'frontend'), deploy('shop', 'backend'), deploy('shop', 'db'), deploy('tools', 'debug')]);
  const scopedLearning = generateFromObserved(model, { edges: observed, learning: ['shop/db', 'tools/debug'] }, { namespace: 'tools' });
  assert.deepEqual(scopedLearning.learning.map((l) => l.workload), ['tools/debug[Deployment]']);
  const res = generateFromObserved(model, { edges: observed }, { namespace: 'tools' });
  assert.deepEqual([...new Set(res.policies.map((p) => p.metadata.namespace))], ['tools']);
  assert.deepEqual(res.unobserved, ['tools/debug[Deployment]']);
  assert.ok(!res.simulation.removed.some((r) => r.src === F && r.dst === D));
  assert.ok(res.simulation.removed.some((r) => r.src === 'tools/debug[Deployment]' && r.dst === F));
});
