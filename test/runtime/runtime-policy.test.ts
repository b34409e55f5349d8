/**
 * Runtime policies over Falco alerts: the `runtime` subject's fields (output fields first,
 * then the event), its Falco JSON reader, the built-in runtime pack, and
 * `runtime replay --policy` end to end on a recorded events file (verdicts under each
 * alert's `gatehouse` key, a user override opting into kill/isolate, a broken pack exit 2
 * before any event is read).
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runCli } from '../helpers/cli.js';
import { hasCommand, missing } from '../helpers/components.js';
import { compilePolicySet, evaluate } from '../../src/policy/evaluate.js';
import { loadPacks, resolvePackInput } from '../../src/policy/pack.js';
import { createSubjects } from '../../src/subjects/index.js';
import { AlertJudge } from '../../src/runtime/alerts/verdict.js';
import { alertToFinding, type Alert } from '../../src/runtime/alerts/alert.js';
import { parseFalcoAlert, runtimeSubject } from '../../src/runtime/subject.js';
import type { RuntimeContext } from '../../src/runtime/subject-fields/context.js';
import type { RuntimeEvent } from '../../src/runtime/event.js';
import { isUserError } from '../../src/util/errors.js';

const REF = process.env.GATEHOUSE_FALCO_REF ?? fileURLToPath(new URL('../../../shared/reference/falco', import.meta.url));
const STABLE = `${REF}/rules/falco_rules.yaml`;
const EVENTS = fileURLToPath(new URL('./fixtures/policy-events.jsonl', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'gatehouse-runtime-policy-'));

const alert = (over: Partial<Alert> = {}): Alert => ({
  time: '2026-12-07T01:00:00.000000000Z',
  rule: 'Terminal shell in container',
  priority: 'Notice',
  source: 'syscall',
  hostname: 'node1',
  output: 'a shell',
  output_fields: {},
  tags: ['container', 'shell', 'mitre_execution', 'T1059'],
  ...over,
});

const adapter = runtimeSubject();
/** The values a field extracts for an alert (undefined: not applicable). */
function values(name: string, a: Alert, event?: RuntimeEvent): unknown[] | undefined {
  const [root] = [...adapter.roots({ alert: a, ...(event ? { event } : {}) })];
  const def = adapter.fields.get(name);
  assert.ok(def, `field ${name} is registered`);
  return def.extract(root!.ctx as RuntimeContext)?.map((h) => h.value);
}

describe('runtime subject fields', () => {
  test('alert fields: rule, priority and its syslog level, tags and the ATT&CK ids among them', () => {
    const a = alert({ priority: 'Critical', tags: ['maturity_stable', 'mitre_persistence', 'TA0003', 'T1059.004', 'PCI_DSS_11.5.1'] });
    assert.deepEqual(values('alert.rule', a), ['Terminal shell in container']);
    assert.deepEqual(values('alert.priority', a), ['Critical']);
    assert.deepEqual(values('alert.priorityLevel', a), [2]);
    assert.deepEqual(values('alert.priorityLevel', alert({ priority: 'Debug' })), [7]);
    assert.deepEqual(values('alert.mitre', a), ['TA0003', 'T1059.004']);
    assert.deepEqual(values('alert.tags', alert({ tags: [] })), []);
  });

  test('output fields first, then the event (with derivations), else not applicable', () => {
    const ev: RuntimeEvent = { 'proc.name': 'sh', 'container.id': 'abc', 'container.image': 'registry:5000/team/app:1.2', 'user.uid': 0, 'proc.aname': ['nginx', 'containerd-shim'] };
    const a = alert({ output_fields: { 'proc.name': 'bash', 'user.name': 'root', 'fd.sport': '443' } });
    assert.deepEqual(values('proc.name', a, ev), ['bash'], 'the alert wins');
    assert.deepEqual(values('user.uid', a, ev), [0], 'from the event');
    assert.deepEqual(values('fd.sport', a, ev), [443], 'numbers are numbers');
    assert.deepEqual(values('container.image.repository', a, ev), ['registry:5000/team/app'], 'derived from the image');
    assert.deepEqual(values('container.image.tag', a, ev), ['1.2']);
    assert.deepEqual(values('proc.aname', a, ev), ['nginx', 'containerd-shim']);
    assert.equal(values('k8s.ns.name', a, ev), undefined, 'nobody knows it');
    assert.equal(values('fd.name', a), undefined);
    // A Falco alert names ancestors one by one.
    assert.deepEqual(values('proc.aname', alert({ output_fields: { 'proc.pname': 'runc', 'proc.aname[2]': 'containerd-shim', 'proc.aname[3]': null, 'container.id': 'abc' } })), ['runc', 'containerd-shim']);
    // <NA> and null are unknown.
    assert.equal(values('proc.name', alert({ output_fields: { 'proc.name': null, 'user.name': '<NA>' } })), undefined);
  });

  test('container fields do not apply on the host, so a negative condition over them cannot hold there', async () => {
    const host = alert({ output_fields: { 'container.id': 'host', 'container.name': 'host', 'container.image.repository': '' } });
    assert.deepEqual(values('container.id', host), ['host']);
    assert.equal(values('container.name', host), undefined);
    assert.equal(values('container.image.repository', host), undefined);
    const pack = join(tmp, 'untrusted-image.yaml');
    writeFileSync(pack, `apiVersion: gatehouse.dev/v1
kind: PolicyPack
subject: runtime
policies:
  - id: untrusted-image
    severity: HIGH
    criteria: { field: container.image.repository, op: notIn, value: [docker.io/library/nginx] }
    enforcement: [stop]
`);
    const subjects = createSubjects();
    const set = compilePolicySet((await loadPacks([{ input: pack }], subjects)).policies, subjects);
    const judge = new AlertJudge(set);
    assert.equal(judge.judge(host).alert.gatehouse.decision, 'allow');
    const denied = judge.judge(alert({ output_fields: { 'container.id': 'abc', 'container.image.repository': 'evil/miner' } }));
    assert.deepEqual(denied.alert.gatehouse, { decision: 'deny', enforcement: ['stop'], policies: ['untrusted-image'] });
    assert.equal(denied.violations[0]!.kind, 'runtime');
    assert.match(denied.violations[0]!.fingerprint!, /^[0-9a-f]{32}$/);
    assert.equal(judge.judge(alert({ output_fields: { 'container.id': 'abc', 'container.image.repository': 'docker.io/library/nginx' } })).alert.gatehouse.decision, 'allow');
    assert.deepEqual(judge.counts, { allow: 2, warn: 0, deny: 1 });
  });

  test('scope: namespaces from k8s.ns.name, images from the container image', async () => {
    const pack = join(tmp, 'scoped.yaml');
    writeFileSync(pack, `apiVersion: gatehouse.dev/v1
kind: PolicyPack
subject: runtime
policies:
  - id: shell-in-prod-nginx
    severity: HIGH
    scope: { namespaces: [prod-*], images: ["docker.io/library/nginx:*"] }
    criteria: { field: alert.tags, op: in, value: [shell] }
    enforcement: [kill]
`);
    const subjects = createSubjects();
    const set = compilePolicySet((await loadPacks([{ input: pack }], subjects)).policies, subjects);
    const decide = (fields: Alert['output_fields']) => evaluate({ kind: 'runtime', value: { alert: alert({ output_fields: fields }) } }, set).decision;
    const nginx = { 'container.id': 'abc', 'container.image': 'docker.io/library/nginx:1.25' };
    assert.equal(decide({ ...nginx, 'k8s.ns.name': 'prod-eu' }), 'deny');
    assert.equal(decide({ ...nginx, 'k8s.ns.name': 'dev' }), 'allow');
    assert.equal(decide({ 'container.id': 'abc', 'container.image': 'docker.io/library/redis:7', 'k8s.ns.name': 'prod-eu' }), 'allow');
  });

  test('a scope key the subject does not understand is a pack error with file:line', async () => {
    const pack = join(tmp, 'bad-scope.yaml');
    writeFileSync(pack, 'apiVersion: gatehouse.dev/v1\nkind: PolicyPack\nsubject: runtime\npolicies:\n  - id: x\n    severity: LOW\n    scope: { kinds: [Pod] }\n    criteria: { field: alert.rule, op: exists }\n');
    await assert.rejects(loadPacks([{ input: pack }], createSubjects()), /bad-scope\.yaml:7: policy x: scope key "kinds" does not apply to subject runtime/);
  });
});

describe('Falco JSON alerts (fromData)', () => {
  test('reads what json_output writes; uppercase priorities as Falco rule files spell them', () => {
    const line = '{"hostname":"node1","output":"22:13:20.000000000: Warning Sensitive file opened","output_fields":{"container.id":"0123456789ab","fd.name":"/etc/shadow","proc.aname[2]":null},"priority":"Warning","rule":"Read sensitive file untrusted","source":"syscall","tags":["T1555","container"],"time":"2023-11-14T22:13:20.000000000Z","uuid":"1b6bb3b5-2a05-4f40-8f3b-2e4b0c0a0c3e"}';
    const a = parseFalcoAlert(JSON.parse(line), 'alert.json');
    assert.equal(a.rule, 'Read sensitive file untrusted');
    assert.equal(a.output_fields['fd.name'], '/etc/shadow');
    assert.equal(parseFalcoAlert({ rule: 'r', priority: 'WARNING' }, 'x').priority, 'Warning');
    assert.equal(parseFalcoAlert({ rule: 'r', priority: 'info' }, 'x').priority, 'Informational');
  });

  test('malformed alerts are one-line user errors', async () => {
    const bad: [unknown, RegExp][] = [
      [[1, 2], /^f\.json: not a Falco alert: expected a JSON object/],
      [{ priority: 'Warning' }, /rule must be a non-empty string/],
      [{ rule: 'r', priority: 'Loud' }, /unknown priority "Loud"/],
      [{ rule: 'r', priority: 'Notice', output_fields: [1] }, /output_fields must be a mapping/],
      [{ rule: 'r', priority: 'Notice', output_fields: { 'proc.name': { x: 1 } } }, /output field proc\.name must be a string, number, boolean or null/],
      [{ rule: 'r', priority: 'Notice', tags: 'shell' }, /tags must be a list of strings/],
      [{ alert: { rule: 'r', priority: 'Notice' }, extra: 1 }, /unknown key "extra" beside alert/],
      [{ alert: { rule: 'r', priority: 'Notice' }, event: { 'proc.name': { x: 1 } } }, /event field proc\.name must be a scalar/],
    ];
    for (const [data, re] of bad) {
      assert.throws(() => adapter.fromData!(data, 'f.json'), (e: unknown) => isUserError(e) && re.test(e.message) && !e.message.includes('\n'), JSON.stringify(data));
    }
  });
});

describe('built-in runtime pack', () => {
  test('loads; every policy is inform only and mapped to NIST SP 800-190 4.4', async () => {
    const { policies } = await loadPacks([resolvePackInput('runtime')], createSubjects());
    assert.ok(policies.length >= 8);
    for (const p of policies) {
      assert.equal(p.subject, 'runtime', p.id);
      assert.deepEqual(p.stages, ['runtime'], p.id);
      assert.deepEqual(p.enforcement, ['inform'], `${p.id} is inform until a user opts in`);
      assert.ok(p.mappings.nist?.some((n) => /^SP 800-190 4\.4\.\d$/.test(n)), `${p.id} maps to NIST SP 800-190 4.4.x`);
      assert.match(p.remediation ?? '', /^(Opt-in response: \w|No response action fits)/, `${p.id} names its intended response`);
      for (const m of p.mappings.mitre ?? []) assert.match(m, /^T(A\d{4}|\d{4}(\.\d{3})?)$/, p.id);
    }
  });

  test('alert findings carry a stable fingerprint keyed by rule and container', () => {
    const a = alert({ output_fields: { 'container.id': 'abc', 'container.name': 'web' } });
    const f = alertToFinding(a);
    assert.equal(f.kind, 'runtime');
    assert.deepEqual(f.resource, { container: { id: 'abc', name: 'web' } });
    assert.equal(alertToFinding({ ...a, time: 'later', output: 'other words' }).fingerprint, f.fingerprint);
    assert.notEqual(alertToFinding(alert({ output_fields: { 'container.id': 'def' } })).fingerprint, f.fingerprint);
    // The container may come from the event only (Falco rule outputs need not name it).
    assert.deepEqual(alertToFinding(alert(), { 'container.id': 'abc', 'k8s.ns.name': 'prod', 'k8s.pod.name': 'web-0' }).resource, {
      container: { id: 'abc' }, k8s: { kind: 'Pod', namespace: 'prod', name: 'web-0' },
    });
  });
});

describe('runtime replay --policy', () => {
  const jsonLines = (text: string) => text.trim().split('\n').map((l) => JSON.parse(l) as Alert & { gatehouse: { decision: string; enforcement: string[]; policies: string[] } });

  test('built-in pack: every alert carries its verdict; all warn (inform); exit 0 by default', async () => {
    const r = await runCli(['runtime', 'replay', EVENTS, '--rules', STABLE, '--policy', 'runtime']);
    assert.equal(r.code, 0, r.stderr);
    const alerts = jsonLines(r.stdout);
    assert.deepEqual(alerts.map((a) => [a.rule, a.gatehouse]), [
      ['Terminal shell in container', { decision: 'warn', enforcement: [], policies: ['runtime-shell-in-container'] }],
      ['Read sensitive file untrusted', { decision: 'warn', enforcement: [], policies: ['runtime-sensitive-file-read'] }],
      ['Read sensitive file untrusted', { decision: 'warn', enforcement: [], policies: ['runtime-sensitive-file-read'] }],
    ]);
    assert.match(r.stderr, /gatehouse: 4 events, 3 alerts; policy verdicts: 0 deny, 3 warn, 0 allow/);
    // Without --policy, alerts are as Falco writes them.
    const plain = await runCli(['runtime', 'replay', EVENTS, '--rules', STABLE]);
    assert.ok(jsonLines(plain.stdout).every((a) => !('gatehouse' in a)));
  });

  test('a user override opts into kill and isolate; scope keeps the host alert out', async () => {
    const mine = join(tmp, 'my-runtime.yaml');
    writeFileSync(mine, `apiVersion: gatehouse.dev/v1
kind: PolicyPack
subject: runtime
policies:
  - id: runtime-shell-in-container
    enforcement: [kill]
  - id: runtime-sensitive-file-read
    enforcement: [label, isolate]
    scope: { namespaces: [prod] }
`);
    const out = join(tmp, 'alerts.jsonl');
    const r = await runCli(['runtime', 'replay', EVENTS, '--rules', STABLE, '--policy', 'runtime', '--policy', mine, '--output', out, '--exit-code', '3']);
    assert.equal(r.code, 3, r.stderr);
    assert.equal(r.stdout, '');
    const alerts = jsonLines(readFileSync(out, 'utf8'));
    assert.deepEqual(alerts.map((a) => [a.output_fields['fd.name'] ?? a.rule, a.hostname, a.gatehouse]), [
      ['Terminal shell in container', 'node1', { decision: 'deny', enforcement: ['kill'], policies: ['runtime-shell-in-container'] }],
      ['/etc/shadow', 'node1', { decision: 'deny', enforcement: ['isolate', 'label'], policies: ['runtime-sensitive-file-read'] }],
      ['/etc/shadow', 'node1', { decision: 'allow', enforcement: [], policies: [] }],
    ]);
    assert.match(r.stderr, /policy verdicts: 2 deny, 0 warn, 1 allow/);
  });

  test('--format table: alerts and policy violations as findings, with their container and pod', async () => {
    const r = await runCli(['runtime', 'replay', EVENTS, '--rules', STABLE, '--policy', 'runtime', '--format', 'table']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /runtime-shell-in-container .*Pod prod\/web-7d9f|runtime-shell-in-container .*web/);
    assert.match(r.stdout, /Terminal shell in container/);
    assert.match(r.stdout, /6 finding\(s\)/);
    assert.doesNotMatch(r.stdout, /^\{/m, 'no JSON lines');
  });

  test('a pack with an unknown field is exit 2 with file:line, before any event is read', async () => {
    const bad = join(tmp, 'typo.yaml');
    writeFileSync(bad, 'apiVersion: gatehouse.dev/v1\nkind: PolicyPack\nsubject: runtime\npolicies:\n  - id: typo\n    severity: LOW\n    criteria: { field: alert.rul, op: equals, value: x }\n');
    // The events file does not exist: the pack error comes first.
    const r = await runCli(['runtime', 'replay', join(tmp, 'no-such-events.jsonl'), '--rules', STABLE, '--policy', bad]);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^gatehouse: .*typo\.yaml:7: policy typo: unknown field "alert\.rul" for subject runtime \(did you mean "alert\.rule"\?\)\n$/);
    const none = await runCli(['runtime', 'replay', EVENTS, '--rules', STABLE, '--policy', 'deploy']);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /^gatehouse: --policy deploy: no enabled policy about runtime alerts \(subject: runtime\)\n$/);
  });

  test('a reference capture (.scap through sysdig): verdicts on its alerts', { skip: missing(hasCommand('sysdig'), 'sysdig (Debian package) is not installed') }, async () => {
    const udp = join(tmp, 'udp.yaml');
    writeFileSync(udp, `apiVersion: gatehouse.dev/v1
kind: PolicyPack
subject: runtime
policies:
  - id: label-unexpected-udp
    severity: LOW
    criteria:
      all:
        - { field: alert.rule, op: equals, value: Unexpected UDP Traffic }
        - { field: alert.mitre, op: in, value: [TA0011] }
        - { field: fd.sport, op: gte, value: 1 }
    enforcement: [label]
`);
    const trace = `${REF}/traces/test_ipv6_client.scap`;
    const rules = `${REF}/rules/falco-incubating_rules.yaml`;
    const builtin = await runCli(['runtime', 'replay', trace, '--rules', rules, '--policy', 'runtime']);
    assert.equal(builtin.code, 0, builtin.stderr);
    const a = jsonLines(builtin.stdout);
    assert.ok(a.length > 0 && a.every((x) => x.rule === 'Unexpected UDP Traffic'));
    assert.ok(a.every((x) => x.gatehouse.decision === 'allow'), 'the built-in pack has no policy about UDP');
    const mine = await runCli(['runtime', 'replay', trace, '--rules', rules, '--policy', 'runtime', '--policy', udp]);
    assert.equal(mine.code, 0, mine.stderr);
    const b = jsonLines(mine.stdout);
    assert.equal(b.length, a.length);
    assert.ok(b.every((x) => x.gatehouse.decision === 'deny' && x.gatehouse.enforcement.join() === 'label'), JSON.stringify(b.map((x) => x.gatehouse)));
  });

  test('flags: --output is a file, URLs go to --webhook; bad --exit-code and --format are one line', async () => {
    const e = await runCli(['runtime', 'replay', EVENTS, '--rules', STABLE, '--exit-code', '300']);
    assert.equal(e.code, 2);
    assert.match(e.stderr, /--exit-code must be 0\.\.255, got '300'/);
    const f = await runCli(['runtime', 'replay', EVENTS, '--rules', STABLE, '--format', 'text']);
    assert.equal(f.code, 2);
    const w = await runCli(['runtime', 'replay', EVENTS, '--rules', STABLE, '--webhook', 'ftp://x/']);
    assert.equal(w.code, 2);
    assert.match(w.stderr, /webhook URL must be http/);
  });
});
