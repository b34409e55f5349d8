/** The `gatehouse netpol` commands as a user runs them. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { runCli } from '../helpers/cli.js';

const ref = join(fileURLToPath(new URL('../..', import.meta.url)), '..', 'shared', 'reference', 'netpol-analyzer');
const skipRef = !existsSync(ref) && process.env.CI !== 'true' ? 'reference data not present' : false;
const expected = (name: string) => readFileSync(join(ref, 'test_outputs', 'connlist', name), 'utf8');

const CLUSTER = `
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {env: prod}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: x, ports: [{containerPort: 8080, name: http}]}]}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: shop}
spec:
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: c, image: x, ports: [{containerPort: 5432, name: pg}]}]}
`;

const DB_POLICY = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  policyTypes: [Ingress]
  ingress:
  - from: [{podSelector: {matchLabels: {app: web}}}]
    ports: [{port: pg}]
`;

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'gatehouse-netpol-cli-'));
}

test('analyze prints np-guard connlist as table (txt) and json', { skip: skipRef }, async () => {
  const dir = join(ref, 'tests', 'onlineboutique_workloads');
  const txt = await runCli(['netpol', 'analyze', dir]);
  assert.equal(txt.code, 0, txt.stderr);
  assert.equal(txt.stdout, expected('onlineboutique_workloads_connlist_output.txt').trimEnd() + '\n');
  const json = await runCli(['netpol', 'analyze', join(ref, 'tests', 'anp_demo'), '--format', 'json']);
  assert.equal(json.code, 0, json.stderr);
  assert.deepEqual(JSON.parse(json.stdout), JSON.parse(expected('anp_demo_connlist_output.json')));
});

test('analyze --focus-workload with peer and direction', { skip: skipRef }, async () => {
  const r = await runCli(['netpol', 'analyze', join(ref, 'tests', 'acs-security-demos'), '--focus-workload', 'checkout,reports', '--focus-direction', 'egress', '--focus-workload-peer', 'recommendation,catalog']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trimEnd(), expected('acs-security-demos_focus_workload_checkout_reports_egress_with_recommendation_catalog_connlist_output.txt').trimEnd());
  const conn = await runCli(['netpol', 'analyze', join(ref, 'tests', 'anp_demo'), '--focus-conn', 'udp-52']);
  assert.equal(conn.code, 0, conn.stderr);
  assert.equal(conn.stdout.trimEnd(), expected('anp_demo_udp-52_connlist_output.txt').trimEnd());
  const badConn = await runCli(['netpol', 'analyze', join(ref, 'tests', 'anp_demo'), '--focus-conn', 'http']);
  assert.equal(badConn.code, 2);
  assert.match(badConn.stderr, /--focus-conn must look like tcp-80/);
  const missing = await runCli(['netpol', 'analyze', join(ref, 'tests', 'acs-security-demos'), '--focus-workload', 'nope']);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /workload nope does not exist/);
});

test('analyze --unprotected reports workloads without isolation as findings and gates on them', async () => {
  const dir = tempDir();
  try {
    writeFileSync(join(dir, 'cluster.yaml'), CLUSTER);
    writeFileSync(join(dir, 'policy.yaml'), DB_POLICY);
    const r = await runCli(['netpol', 'analyze', dir, '--unprotected', '--exit-code', '1']);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /^MEDIUM\s+netpol-unprotected-workload\s+Deployment\/shop\/web\s.*shop\/web\[Deployment\] has no ingress and egress isolation$/m);
    assert.match(r.stdout, /^LOW\s+netpol-unprotected-workload\s+StatefulSet\/shop\/db\s.*shop\/db\[StatefulSet\] has no egress isolation$/m);
    assert.match(r.stdout, /netpol analyze --unprotected: 2 finding\(s\)/);
    const j = await runCli(['netpol', 'analyze', dir, '--unprotected', '--format', 'json']);
    assert.equal(j.code, 0, j.stderr);
    const findings = JSON.parse(j.stdout).findings;
    assert.equal(findings.length, 2);
    assert.equal(findings[1].id, 'netpol-unprotected-workload');
    assert.equal(findings[1].resource.k8s.name, 'web');
    assert.match(findings[1].resource.k8s.file, /cluster\.yaml$/);
    assert.ok(findings[1].resource.k8s.line > 1);
    // --severity picks exact levels; sarif goes through the shared formatter.
    const medium = await runCli(['netpol', 'analyze', dir, '--unprotected', '--severity', 'MEDIUM', '--format', 'sarif', '--exit-code', '4']);
    assert.equal(medium.code, 4, medium.stderr);
    assert.deepEqual(JSON.parse(medium.stdout).runs[0].results.map((x: any) => x.locations[0].logicalLocations[0].name), ['Deployment/shop/web']);
    const sarifConn = await runCli(['netpol', 'analyze', dir, '--format', 'sarif']);
    assert.equal(sarifConn.code, 2);
    assert.match(sarifConn.stderr, /^gatehouse: --format sarif applies to --unprotected findings/);
    // Named port resolved on the destination pod.
    const a = await runCli(['netpol', 'analyze', dir]);
    assert.match(a.stdout, /^shop\/web\[Deployment\] => shop\/db\[StatefulSet\] : TCP 5432$/m);
    assert.doesNotMatch(a.stdout, /^shop\/db\[StatefulSet\] <= /m);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bad input: invalid selectors, broken YAML and YAML bombs fail (exit 2, as k8s check) with file and line', async () => {
  const dir = tempDir();
  try {
    writeFileSync(join(dir, 'cluster.yaml'), CLUSTER);
    writeFileSync(join(dir, 'bad.yaml'), DB_POLICY.replace('{matchLabels: {app: db}}', '{matchExpressions: [{key: app, operator: Maybe}]}'));
    const r = await runCli(['netpol', 'analyze', dir]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /bad\.yaml:\d+: NetworkPolicy shop\/db: unknown selector operator "Maybe"/);
    assert.equal(r.stderr.trim().split('\n').length, 1);
    assert.doesNotMatch(r.stderr, /at .*\.ts/);

    writeFileSync(join(dir, 'bad.yaml'), 'kind: NetworkPolicy\nmetadata: {name: [unclosed\n');
    const s = await runCli(['netpol', 'analyze', dir]);
    assert.equal(s.code, 2, s.stderr);
    assert.match(s.stderr, /^gatehouse: error: .*bad\.yaml:\d+: invalid YAML/);
    assert.equal(s.stderr.trim().split('\n').length, 1);
    assert.equal(s.stdout, '');

    const lol = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (let i = 1; i < 9; i++) lol.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9).fill(`*${String.fromCharCode(96 + i)}`).join(',')}]`);
    writeFileSync(join(dir, 'bad.yaml'), `kind: NetworkPolicy\nmetadata: {name: bomb, namespace: shop}\n${lol.join('\n')}\nspec: {podSelector: {matchExpressions: [{key: app, operator: In, values: *i}]}}\n`);
    const bomb = await runCli(['netpol', 'analyze', dir]);
    assert.equal(bomb.code, 2, bomb.stderr);
    assert.match(bomb.stderr, /bad\.yaml:\d+: document skipped: too many alias expansions/);

    const none = await runCli(['netpol', 'analyze', join(dir, 'missing')]);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /^gatehouse: cannot read .*missing/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('generate: policies from an intent file allow exactly the intent when re-analysed', async () => {
  const dir = tempDir();
  const out = tempDir();
  try {
    writeFileSync(join(dir, 'cluster.yaml'), CLUSTER);
    writeFileSync(join(out, 'intent.yaml'), 'connections:\n  - {from: web, to: shop/db, ports: ["TCP 5432"]}\n  - {from: 0.0.0.0/0, to: web, ports: ["TCP 8080"]}\n');
    const g = await runCli(['netpol', 'generate', dir, '--intent', join(out, 'intent.yaml')]);
    assert.equal(g.code, 0, g.stderr);
    assert.match(g.stdout, /kind: NetworkPolicy/);
    writeFileSync(join(dir, 'generated.yaml'), g.stdout);
    const a = await runCli(['netpol', 'analyze', dir]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(a.stdout, '0.0.0.0-255.255.255.255[External] => shop/web[Deployment] : TCP 8080\nshop/web[Deployment] => shop/db[StatefulSet] : TCP 5432\n');

    writeFileSync(join(out, 'intent.yaml'), 'connections:\n  - {from: web, to: nothere}\n');
    const bad = await runCli(['netpol', 'generate', dir, '--intent', join(out, 'intent.yaml')]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /intent\.yaml: connections\[0\]: no workload nothere in the manifests/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(out, { recursive: true, force: true });
  }
});

test('generate: prints what it assumed (DNS egress, ingress from anywhere to a LoadBalancer) as notes', async () => {
  const boutique = join(fileURLToPath(new URL('.', import.meta.url)), 'fixtures', 'microservices-demo-kubernetes-manifests.yaml');
  const g = await runCli(['netpol', 'generate', boutique]);
  assert.equal(g.code, 0, g.stderr);
  assert.match(g.stderr, /^gatehouse: note: allowed DNS egress \(UDP and TCP 53\) to kube-system\/k8s-app=kube-dns for 12 workload\(s\) in 1 namespace\(s\)/m);
  assert.match(g.stderr, /^gatehouse: note: allowed ingress from anywhere \(0\.0\.0\.0\/0, ::\/0\) to default\/frontend\[Deployment\] on TCP 8080: it is behind LoadBalancer Service default\/frontend-external$/m);
  assert.doesNotMatch(g.stderr, /warning/);
  assert.match(g.stdout, /name: gatehouse-allow-dns-egress/);
});
