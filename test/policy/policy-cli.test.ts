/** `gatehouse policy …` end to end, the PolicyTest fixtures of every subject, and the generated field docs. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli } from '../helpers/cli.js';
import { subjects } from '../../src/subjects/index.js';
import { renderFieldsMarkdown } from '../../src/policy/fields-doc.js';
import { readPacks, resolvePackInput } from '../../src/policy/pack.js';
import { BUILTIN_PACKS } from '../../src/policy/builtin.js';
import { SUBJECT_KINDS } from '../../src/policy/types.js';
import { cacheHas, missing } from '../helpers/components.js';
import { OCI_DIR } from '../fixtures/test-images.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const casesDir = join(root, 'test/policy/cases');
const tmp = mkdtempSync(join(tmpdir(), 'gh-policy-cli-'));
let n = 0;
const file = (text: string, ext = 'yaml') => {
  const p = join(tmp, `f${n++}.${ext}`);
  writeFileSync(p, text);
  return p;
};

test('every subject kind is registered and has PolicyTest cases: allow, warn and deny', () => {
  const reg = subjects();
  assert.deepEqual(reg.kinds(), [...SUBJECT_KINDS]);
  for (const kind of SUBJECT_KINDS) {
    const dir = join(casesDir, kind);
    assert.ok(existsSync(dir), `no PolicyTest cases for subject ${kind} in ${dir}`);
    const text = readdirSync(dir).map((f) => readFileSync(join(dir, f), 'utf8')).join('\n');
    for (const decision of ['allow', 'warn', 'deny']) assert.match(text, new RegExp(`decision: ${decision}\\b`), `subject ${kind} has no case expecting ${decision}`);
  }
});

test('policy test: every fixture passes through the one engine (exit 0)', async () => {
  const r = await runCli(['policy', 'test', casesDir]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const m = /(\d+) passed, 0 failed/.exec(r.stdout);
  assert.ok(m && Number(m[1]) >= 15, r.stdout);
});

test('policy test: a failing case exits 1 with a diff naming what differs', async () => {
  const pod = file('apiVersion: v1\nkind: Pod\nmetadata: { name: p, namespace: x }\nspec: { containers: [ { name: c, image: "a:1", securityContext: { privileged: true } } ] }\n');
  const t = file(`apiVersion: gatehouse.dev/v1
kind: PolicyTest
name: wrong on purpose
policies: [deploy]
cases:
  - name: privileged is not allowed
    subject: workload
    inputFile: ${pod}
    expect: { decision: allow, violations: [no-such-policy] }
`);
  const r = await runCli(['policy', 'test', t]);
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stdout, /FAIL wrong on purpose \/ privileged is not allowed/);
  assert.match(r.stdout, /decision: expected allow, got deny/);
  assert.match(r.stdout, /- no-such-policy \(expected, not reported\)/);
  assert.match(r.stdout, /\+ privileged-container \(reported, not expected\)/);
  const json = await runCli(['policy', 'test', '--format', 'json', t]);
  assert.equal(JSON.parse(json.stdout).failed, 1);
});

test('policy check: every problem of a broken pack with file:line and a did-you-mean, exit 2, no stack', async () => {
  const p = file(`apiVersion: gatehouse.dev/v1
kind: PolicyPack
subject: workload
policies:
  - id: a
    severity: HIGH
    criteria: { field: container.securityContext.privilegd, op: equals, value: true }
  - id: a
    severity: HIGH
    enforcment: [inform]
    criteria: { field: container.securityContext.privileged, op: equals, value: "yes" }
  - id: b
    severity: LOW
    scope: { actions: [container.create] }
    criteria: { field: workload.replicas, op: gt, value: "3" }
  - id: c
    severity: LOW
    enforcement: [deny-admision]
    criteria: { field: object.kind, op: matches, value: "(" }
`);
  const r = await runCli(['policy', 'check', p]);
  assert.equal(r.code, 2, r.stdout + r.stderr);
  const lines = r.stderr.trim().split('\n');
  const expected = [
    /f\d+\.yaml:7: policy a: unknown field "container\.securityContext\.privilegd" for subject workload \(did you mean "container\.securityContext\.privileged"\?\)/,
    /f\d+\.yaml:8: duplicate policy id "a" \(first defined at .*:5\)/,
    /:15: policy b: op gt needs a number value/,
    /:14: policy b: scope key "actions" does not apply to subject workload/,
    /:18: policy c: unknown enforcement "deny-admision" \(did you mean "deny-admission"\?\)/,
    /:19: policy c: invalid regular expression/,
  ];
  for (const re of expected) assert.ok(lines.some((l) => re.test(l)), `no line matches ${re}:\n${r.stderr}`);
  assert.ok(!/\n\s+at /.test(r.stderr), 'no stack trace');
  // The same pack given to a command that evaluates is refused before anything runs.
  const k8s = await runCli(['k8s', 'check', '--policy', p, file('apiVersion: v1\nkind: Namespace\nmetadata: { name: x }\n')]);
  assert.equal(k8s.code, 2);
  assert.match(k8s.stderr, /^gatehouse: .*f\d+\.yaml:7: policy a: unknown field .*\(and \d+ more problem\(s\); run gatehouse policy check\)\n$/);
});

test('policy check accepts the built-in packs; each built-in policy is mapped to NIST SP 800-190', async () => {
  const r = await runCli(['policy', 'check', ...BUILTIN_PACKS]);
  assert.equal(r.code, 0, r.stderr);
  const loaded = await readPacks(BUILTIN_PACKS.map(resolvePackInput), subjects());
  assert.deepEqual(loaded.diagnostics, []);
  for (const kind of ['image', 'workload', 'engine-request', 'runtime'] as const) {
    assert.ok(loaded.policies.some((p) => p.subject === kind), `no built-in ${kind} policy`);
  }
  for (const p of loaded.policies) assert.ok(p.mappings.nist?.length, `policy ${p.id} (${p.origin?.file}) has no NIST SP 800-190 mapping`);
  // Runtime responses ship as inform until a user opts in.
  for (const p of loaded.policies.filter((x) => x.subject === 'runtime')) assert.deepEqual(p.enforcement, ['inform'], p.id);
  const show = await runCli(['policy', 'show', 'engine']);
  assert.equal(show.code, 0);
  assert.match(show.stdout, /kind: PolicyPack/);
  const bad = await runCli(['policy', 'show', 'nope']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /unknown built-in pack "nope"/);
});

test('policy eval prints the verdict of one subject file; --exit-code on deny', async () => {
  const pod = file('apiVersion: v1\nkind: Pod\nmetadata: { name: p, namespace: x }\nspec:\n  containers:\n    - name: c\n      image: "a:1"\n      securityContext: { privileged: true }\n');
  const r = await runCli(['policy', 'eval', '--subject', 'workload', '--policy', 'deploy', '--format', 'json', pod]);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out.decision, 'deny');
  assert.deepEqual(out.enforcement, ['deny-admission']);
  const priv = out.findings.find((f: { id: string }) => f.id === 'privileged-container');
  assert.equal(priv.resource.k8s.line, 8);
  assert.match(priv.fingerprint, /^[0-9a-f]{32}$/);
  const gate = await runCli(['policy', 'eval', '--subject', 'workload', '--policy', 'deploy', '--exit-code', '3', pod]);
  assert.equal(gate.code, 3);
  assert.match(gate.stdout, /decision: deny \(deny-admission\)/);
  const typo = await runCli(['policy', 'eval', '--subject', 'workloads', pod]);
  assert.equal(typo.code, 2);
  assert.match(typo.stderr, /unknown subject "workloads" \(did you mean "workload"\?\)/);
});

test('policy eval --subject image REF scans the image and evaluates the build pack', { skip: missing(cacheHas('oci', 'index.json'), 'test images not built (.ci/setup.d/40-test-images.sh)') }, async () => {
  const osv = file(JSON.stringify({ id: 'GHSA-test-0000-0000', modified: '2024-01-01T00:00:00Z', affected: [{ package: { ecosystem: 'npm', name: 'nothing-here' }, ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }] }] }] }), 'json');
  const db = join(tmp, 'vuln.db');
  const imp = await runCli(['db', 'import', '--db', db, osv]);
  assert.equal(imp.code, 0, imp.stderr);
  // The debootstrap-built Debian image sets no USER: the build pack's root-user policy denies it.
  const r = await runCli(['policy', 'eval', '--subject', 'image', '--policy', 'build', '--db', db, '--format', 'json', `oci:${OCI_DIR}:debian`]);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out.decision, 'deny');
  assert.deepEqual(out.enforcement, ['fail-build']);
  const root = out.findings.find((f: { data: { subject: string }; policy: { enforcement: string } }) => f.data.subject === 'image' && /root/i.test(JSON.stringify(f)) && f.policy.enforcement.includes('fail-build'));
  assert.ok(root, `no root-user violation in ${r.stdout.slice(0, 2000)}`);
  const bad = await runCli(['policy', 'eval', '--subject', 'image', '--db', db, 'oci:/nonexistent/layout:x']);
  assert.equal(bad.code, 2);
  assert.equal(bad.stderr.trim().split('\n').length, 1, bad.stderr);
});

test('policy fields lists every subject; docs/policy-fields.md is up to date (npm run docs:fields)', async () => {
  const r = await runCli(['policy', 'fields', '--format', 'json']);
  assert.equal(r.code, 0, r.stderr);
  const rows = JSON.parse(r.stdout) as { subject: string; name: string; description: string }[];
  for (const kind of SUBJECT_KINDS) assert.ok(rows.some((x) => x.subject === kind), `no fields for ${kind}`);
  for (const row of rows) assert.ok(row.description.trim(), `${row.subject} field ${row.name} has no description`);
  const docs = readFileSync(join(root, 'docs/policy-fields.md'), 'utf8');
  assert.equal(docs, renderFieldsMarkdown(subjects()), 'docs/policy-fields.md is stale: run npm run docs:fields');
});
