/** `gatehouse k8s check` end to end: outputs, gate exit codes, stdin, bad input. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli } from '../helpers/cli.js';
import { hasCommand, missing } from '../helpers/components.js';
import { assertValidSarif } from '../helpers/sarif-schema.js';

const clean = fileURLToPath(new URL('./fixtures/clean-app.yaml', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'gh-k8s-cli-'));
const bad = join(dir, 'bad.yaml');
writeFileSync(bad, `apiVersion: v1
kind: Pod
metadata: { name: p, namespace: ns }
spec:
  hostNetwork: true
  containers:
    - name: c
      image: nginx:1.25
      securityContext:
        privileged: true
`);

let badJsonRun: Promise<{ findings: unknown[] }> | undefined;
const badJson = () => (badJsonRun ??= runCli(['k8s', 'check', bad, '-o', 'json']).then((r) => JSON.parse(r.stdout)));

test('clean manifests exit 0; violations exit 1, or --exit-code N', async () => {
  const ok = await runCli(['k8s', 'check', clean]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /0 finding/);
  const r3 = await runCli(['k8s', 'check', bad, '--exit-code', '3']);
  assert.equal(r3.code, 3, r3.stderr);
  assert.match(r3.stdout, /CRITICAL\s+privileged-container\s+Pod\/ns\/p\[c\]\s+\S+bad\.yaml:10/);
});

test('--severity hides lower findings and decides the gate', async () => {
  const r = await runCli(['k8s', 'check', bad, '-o', 'json', '--severity', 'CRITICAL']);
  assert.equal(r.code, 1);
  const out = JSON.parse(r.stdout);
  assert.ok(out.findings.length > 0);
  assert.ok(out.findings.every((f: { severity: string }) => f.severity === 'CRITICAL'));
  // A manifest whose worst finding is below the threshold passes the gate.
  const mild = join(dir, 'mild.yaml');
  writeFileSync(mild, 'apiVersion: v1\nkind: Service\nmetadata: { name: s, namespace: x }\nspec: { type: NodePort, ports: [ { port: 80 } ] }\n');
  const low = await runCli(['k8s', 'check', mild, '--severity', 'HIGH']);
  assert.equal(low.code, 0, low.stdout);
  assert.match(low.stdout, /0 finding/);
});

test('stdin input and --pss with a version', async () => {
  const { readFileSync } = await import('node:fs');
  const r = await runCli(['k8s', 'check', '-', '--pss', 'baseline:v1.25', '-o', 'json'], { input: readFileSync(bad) });
  assert.equal(r.code, 1, r.stderr);
  const ids = JSON.parse(r.stdout).findings.map((f: { id: string }) => f.id).sort();
  assert.deepEqual(ids, ['pss-hostnamespaces', 'pss-privileged']);
  assert.equal(JSON.parse(r.stdout).findings[0].resource.k8s.file, '<stdin>');
  const bogus = await runCli(['k8s', 'check', bad, '--pss', 'strict']);
  assert.equal(bogus.code, 2);
  assert.match(bogus.stderr, /^gatehouse: invalid --pss value "strict"/);
});

test('SARIF has one result per finding located at the offending line', async () => {
  const json = await badJson();
  const r = await runCli(['k8s', 'check', bad, '-o', 'sarif']);
  const sarif = JSON.parse(r.stdout);
  assertValidSarif(sarif);
  assert.equal(sarif.version, '2.1.0');
  const results = sarif.runs[0].results;
  assert.equal(results.length, json.findings.length);
  const priv = results.find((x: any) => x.ruleId === 'privileged-container');
  assert.equal(priv.locations[0].physicalLocation.region.startLine, 10);
  assert.match(priv.locations[0].physicalLocation.artifactLocation.uri, /bad\.yaml$/);
  const hostNet = results.find((x: any) => x.ruleId === 'host-network');
  assert.equal(hostNet.locations[0].physicalLocation.region.startLine, 5);
  const ruleIds = sarif.runs[0].tool.driver.rules.map((x: any) => x.id);
  for (const res of results) assert.equal(ruleIds[res.ruleIndex], res.ruleId);
});

test('JUnit output is well-formed XML with one failing testcase per finding', { skip: missing(hasCommand('python3'), 'python3 (XML well-formedness check)') }, async () => {
  const r = await runCli(['k8s', 'check', bad, '-o', 'junit']);
  const count = spawnSync('python3', ['-c', 'import sys,xml.dom.minidom as m; d=m.parse(sys.stdin); print(len(d.getElementsByTagName("failure")))'], { input: r.stdout });
  assert.equal(count.status, 0, count.stderr.toString());
  const json = await badJson();
  assert.equal(Number(count.stdout.toString().trim()), json.findings.length);
});

test('bad input: broken documents are reported with file:line, the rest still checked, exit 2', async () => {
  const broken = join(dir, 'broken.yaml');
  writeFileSync(broken, `${'apiVersion: v1\nkind: Pod\nmetadata: { name: good, namespace: a }\nspec: { hostPID: true, containers: [] }\n'}---\nkind: [oops\n`);
  const r = await runCli(['k8s', 'check', broken, '-o', 'json']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /gatehouse: error: \S+broken\.yaml:[67]: invalid YAML/);
  assert.ok(JSON.parse(r.stdout).findings.some((f: { id: string }) => f.id === 'host-pid'));
  assert.ok(!r.stderr.includes('    at '), 'no stack trace');
  const none = await runCli(['k8s', 'check', join(dir, 'nope.yaml')]);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /^gatehouse: cannot read \S+nope\.yaml: /);
});
