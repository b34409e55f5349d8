/** `gatehouse k8s check` end to end: outputs, gate exit codes, stdin, bad input. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli } from '../helpers/cli.js';
import { hasCommand, missing } from '../helpers/components.js';
import { assertValidSarif } from '../helpers/sarif-schema.js';
import { GATEHOUSE_VERSION } from '../../src/version.js';

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

type Report = { findings: Array<{ id: string; severity: string; fingerprint?: string }> };
let badJsonRun: Promise<Report> | undefined;
const badJson = (): Promise<Report> => (badJsonRun ??= runCli(['k8s', 'check', bad, '--format', 'json']).then((r) => JSON.parse(r.stdout)));

test('clean manifests exit 0; violations exit 0 by default, --exit-code N when findings remain', async () => {
  const ok = await runCli(['k8s', 'check', clean, '--exit-code', '1']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /0 finding/);
  const plain = await runCli(['k8s', 'check', bad]);
  assert.equal(plain.code, 0, plain.stderr);
  assert.match(plain.stdout, /privileged-container/);
  const r3 = await runCli(['k8s', 'check', bad, '--exit-code', '3']);
  assert.equal(r3.code, 3, r3.stderr);
  assert.match(r3.stdout, /CRITICAL\s+privileged-container\s+Pod\/ns\/p\[c\]\s+\S+bad\.yaml:10/);
});

test('--severity is a list of exact levels; it hides the others and decides the gate', async () => {
  const r = await runCli(['k8s', 'check', bad, '--format', 'json', '--severity', 'CRITICAL', '--exit-code', '1']);
  assert.equal(r.code, 1);
  const out = JSON.parse(r.stdout);
  assert.ok(out.findings.length > 0);
  assert.ok(out.findings.every((f: { severity: string }) => f.severity === 'CRITICAL'));
  // Exactly the listed levels: HIGH alone keeps no CRITICAL finding (Trivy's meaning).
  const all = (await badJson()).findings;
  const levels = new Set(all.map((f) => f.severity));
  assert.ok(levels.has('CRITICAL') && levels.has('HIGH'), `the fixture has CRITICAL and HIGH findings: ${[...levels]}`);
  const high = JSON.parse((await runCli(['k8s', 'check', bad, '-f', 'json', '-s', 'HIGH'])).stdout);
  assert.deepEqual(high.findings.map((f: { id: string }) => f.id).sort(), all.filter((f) => f.severity === 'HIGH').map((f) => f.id).sort());
  const both = JSON.parse((await runCli(['k8s', 'check', bad, '-f', 'json', '--severity', 'high,CRITICAL'])).stdout);
  assert.equal(both.findings.length, all.filter((f) => f.severity === 'HIGH' || f.severity === 'CRITICAL').length);
  // A manifest with findings only at other levels passes the gate.
  const mild = join(dir, 'mild.yaml');
  writeFileSync(mild, 'apiVersion: v1\nkind: Service\nmetadata: { name: s, namespace: x }\nspec: { type: NodePort, ports: [ { port: 80 } ] }\n');
  const low = await runCli(['k8s', 'check', mild, '--severity', 'HIGH,CRITICAL', '--exit-code', '1']);
  assert.equal(low.code, 0, low.stdout);
  assert.match(low.stdout, /0 finding/);
  const typo = await runCli(['k8s', 'check', mild, '--severity', 'HIGH,SEVERE']);
  assert.equal(typo.code, 2);
  assert.match(typo.stderr, /^gatehouse: invalid --severity: unknown severity "SEVERE"/);
});

test('--output writes the report to a file (stdout stays empty); never a file for a failed run', async () => {
  const out = join(dir, 'out');
  const { mkdirSync } = await import('node:fs');
  mkdirSync(out, { recursive: true });
  const file = join(out, 'report.sarif');
  const r = await runCli(['k8s', 'check', bad, '--format', 'sarif', '--output', file]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, '');
  const sarif = JSON.parse(readFileSync(file, 'utf8'));
  assertValidSarif(sarif);
  assert.equal(sarif.runs[0].results.length, (await badJson()).findings.length);
  assert.deepEqual(readdirSync(out), ['report.sarif'], 'no temporary file is left beside the report');
  // A run that fails before its report leaves the previous report as it was.
  const failed = await runCli(['k8s', 'check', join(dir, 'nope.yaml'), '-o', file]);
  assert.equal(failed.code, 2);
  assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), sarif);
  const fresh = join(out, 'never.json');
  await runCli(['k8s', 'check', bad, '--pss', 'strict', '-o', fresh]);
  assert.ok(!existsSync(fresh));
  assert.deepEqual(readdirSync(out), ['report.sarif']);
  // The old spelling (-o FORMAT) is a clear usage error, not a file named "json".
  const old = await runCli(['k8s', 'check', bad, '-o', 'json'], { cwd: out });
  assert.equal(old.code, 2);
  assert.match(old.stderr, /^gatehouse: --output takes a file name; for the json format use --format json/);
  assert.ok(!existsSync(join(out, 'json')));
});

test('stdin input and --pss with a version', async () => {
  const r = await runCli(['k8s', 'check', '-', '--pss', 'baseline:v1.25', '--format', 'json', '--exit-code', '1'], { input: readFileSync(bad) });
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
  const r = await runCli(['k8s', 'check', bad, '--format', 'sarif']);
  const sarif = JSON.parse(r.stdout);
  assertValidSarif(sarif);
  assert.equal(sarif.version, '2.1.0');
  assert.equal(sarif.runs[0].tool.driver.version, GATEHOUSE_VERSION);
  // Each result carries the finding's fingerprint, the same one the JSON report shows.
  const prints = json.findings.map((f) => f.fingerprint);
  assert.ok(prints.every((p) => typeof p === 'string' && /^[0-9a-f]{32}$/.test(p)), 'every JSON finding has a fingerprint');
  assert.deepEqual(sarif.runs[0].results.map((x: any) => x.partialFingerprints['gatehouse/v1']).sort(), [...prints].sort());
  assert.equal(new Set(prints).size, prints.length, 'distinct findings have distinct fingerprints');
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
  const r = await runCli(['k8s', 'check', bad, '--format', 'junit']);
  const count = spawnSync('python3', ['-c', 'import sys,xml.dom.minidom as m; d=m.parse(sys.stdin); print(len(d.getElementsByTagName("failure")))'], { input: r.stdout });
  assert.equal(count.status, 0, count.stderr.toString());
  const json = await badJson();
  assert.equal(Number(count.stdout.toString().trim()), json.findings.length);
});

test('bad input: broken documents are reported with file:line, the rest still checked, exit 2', async () => {
  const broken = join(dir, 'broken.yaml');
  writeFileSync(broken, `${'apiVersion: v1\nkind: Pod\nmetadata: { name: good, namespace: a }\nspec: { hostPID: true, containers: [] }\n'}---\nkind: [oops\n`);
  const r = await runCli(['k8s', 'check', broken, '--format', 'json']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /gatehouse: error: \S+broken\.yaml:[67]: invalid YAML/);
  assert.ok(JSON.parse(r.stdout).findings.some((f: { id: string }) => f.id === 'host-pid'));
  assert.ok(!r.stderr.includes('    at '), 'no stack trace');
  const none = await runCli(['k8s', 'check', join(dir, 'nope.yaml')]);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /^gatehouse: cannot read \S+nope\.yaml: /);
});
