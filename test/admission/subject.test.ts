/**
 * The admission subject: field extraction from real-shaped reviews, scope, a test-local
 * policy pack evaluated through compilePolicySet/evaluate, the webhook response for those
 * verdicts, workloadObjectOf feeding the workload subject, and fromData.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AdmissionContext } from '../../src/admission/fields/context.js';
import { admissionResponse, parseAdmissionReview, type AdmissionReview } from '../../src/admission/review.js';
import { admissionSubject, admissionSubjectOf, workloadObjectOf } from '../../src/admission/subject.js';
import { compilePolicySet, evaluate, type PolicySet } from '../../src/policy/evaluate.js';
import { loadPacks, readPacks, resolvePackInput } from '../../src/policy/pack.js';
import { createSubjects } from '../../src/subjects/index.js';
import { UserError } from '../../src/util/errors.js';

const subjects = createSubjects();
const adapter = admissionSubject();
const fixtures = join(import.meta.dirname, 'fixtures');
const review = (name: string): AdmissionReview => parseAdmissionReview(readFileSync(join(fixtures, name)));
const exec = () => review('exec-v1.json');

/** Every field's values for one request: name → values (undefined = not applicable). */
function values(r: AdmissionReview): Record<string, unknown[] | undefined> {
  const ctx: AdmissionContext = { request: r.request };
  return Object.fromEntries(adapter.fields.all().map((f) => [f.name, f.extract(ctx)?.map((h) => h.value)]));
}

let packSet: PolicySet | undefined;
async function pack(): Promise<PolicySet> {
  if (!packSet) {
    const loaded = await loadPacks([{ input: join(fixtures, 'exec-pack.yaml') }], subjects);
    packSet = compilePolicySet(loaded.policies, subjects, { exceptions: loaded.exceptions });
  }
  return packSet;
}
const ids = (v: { violations: { id: string }[] }) => v.violations.map((f) => f.id).sort();

test('the adapter is registered with its root target, stage and scope keys', () => {
  const a = subjects.get('admission');
  assert.ok(a);
  assert.equal(a.rootTarget, 'request');
  assert.equal(a.defaultStage, 'deploy');
  assert.equal(a.findingKind, 'policy');
  assert.deepEqual([...a.scopeKeys].sort(), ['clusters', 'excludeNamespaces', 'kinds', 'labelSelector', 'namespaces']);
  for (const f of a.fields.all()) {
    assert.equal(f.target, 'request', f.name);
    assert.ok(f.description.length > 10 && !f.description.includes('\n'), f.name);
  }
});

test('request fields of a pods/exec CONNECT', () => {
  const v = values(exec());
  assert.deepEqual(v['request.operation'], ['CONNECT']);
  assert.deepEqual(v['request.user'], ['alice@example.com']);
  assert.deepEqual(v['request.groups'], ['developers', 'system:authenticated']);
  assert.deepEqual(v['request.uid'], ['0df28fbd-5f5f-4b8a-9f2c-5c3e6a1b7d21']);
  assert.deepEqual(v['request.kind'], ['PodExecOptions']);
  assert.deepEqual(v['request.group'], [], 'the core group is unset');
  assert.deepEqual(v['request.version'], ['v1']);
  assert.deepEqual(v['request.resource'], ['pods']);
  assert.deepEqual(v['request.subResource'], ['exec']);
  assert.deepEqual(v['request.resourceWithSub'], ['pods/exec']);
  assert.deepEqual(v['request.namespace'], ['shop']);
  assert.deepEqual(v['request.name'], ['web-7c5ddbdf54-x8k2p']);
  assert.deepEqual(v['request.dryRun'], [false]);
  assert.deepEqual(v['request.serviceAccount'], [false]);
  // The exec options.
  assert.deepEqual(v['exec.command'], ['/bin/sh', '-c', 'cat /etc/shadow']);
  assert.deepEqual(v['exec.commandLine'], ['/bin/sh -c cat /etc/shadow']);
  assert.deepEqual(v['exec.container'], ['app']);
  assert.deepEqual(v['exec.tty'], [true]);
  assert.deepEqual(v['exec.stdin'], [true]);
  // request.object is the PodExecOptions: it has a kind but no metadata.
  assert.deepEqual(v['object.kind'], ['PodExecOptions']);
  assert.deepEqual(v['object.labels'], []);
  assert.equal(v['oldObject.labels'], undefined, 'no old object on CONNECT');
});

test('kubectl exec without -it, without a container: flags are false, the container unset', () => {
  const r = exec();
  r.request.object = { kind: 'PodExecOptions', apiVersion: 'v1', stdout: true, stderr: true, command: ['date'] };
  const v = values(r);
  assert.deepEqual(v['exec.tty'], [false]);
  assert.deepEqual(v['exec.stdin'], [false]);
  assert.deepEqual(v['exec.container'], []);
  assert.deepEqual(v['exec.command'], ['date']);
});

test('object fields of a CREATE; exec fields do not apply to it', () => {
  const v = values(review('create-pod-v1.json'));
  assert.deepEqual(v['request.resourceWithSub'], ['pods']);
  assert.deepEqual(v['request.subResource'], []);
  assert.deepEqual(v['object.kind'], ['Pod']);
  assert.deepEqual(v['object.apiVersion'], ['v1']);
  assert.deepEqual(v['object.name'], ['debug']);
  assert.deepEqual(v['object.labels'], ['app=debug', 'team=payments']);
  assert.deepEqual(v['object.annotations'], ['kubectl.kubernetes.io/last-applied-configuration']);
  for (const f of ['exec.command', 'exec.commandLine', 'exec.container', 'exec.tty', 'exec.stdin']) assert.equal(v[f], undefined, f);
});

test('DELETE by a ServiceAccount: object fields do not apply, oldObject fields do', () => {
  const v = values(review('delete-deployment-v1.json'));
  assert.deepEqual(v['request.serviceAccount'], [true]);
  assert.deepEqual(v['request.group'], ['apps']);
  assert.deepEqual(v['request.dryRun'], [true]);
  assert.equal(v['object.kind'], undefined);
  assert.equal(v['object.labels'], undefined);
  assert.deepEqual(v['oldObject.kind'], ['Deployment']);
  assert.deepEqual(v['oldObject.labels'], ['app=payments-api', 'protected=true']);
  assert.deepEqual(v['oldObject.annotations'], ['deployment.kubernetes.io/revision']);
});

test('subresources: scale (group of the resource, kind of the object) and ephemeral containers', () => {
  const scale = values(review('scale-v1beta1.json'));
  assert.deepEqual(scale['request.resourceWithSub'], ['deployments/scale']);
  assert.deepEqual(scale['request.group'], ['apps']);
  assert.deepEqual(scale['request.kind'], ['Scale']);
  const eph = values(review('ephemeral-v1.json'));
  assert.deepEqual(eph['request.resourceWithSub'], ['pods/ephemeralcontainers']);
  assert.equal(eph['exec.command'], undefined);
});

test('the node: label, resource, identity and scope facts', () => {
  const [node] = [...adapter.roots(admissionSubjectOf(exec(), 'prod-eu'))];
  assert.ok(node);
  assert.equal(node.label, 'CONNECT pods/exec shop/web-7c5ddbdf54-x8k2p by alice@example.com');
  assert.deepEqual(node.resource(), { k8s: { kind: 'Pod', namespace: 'shop', name: 'web-7c5ddbdf54-x8k2p', container: 'app' } });
  assert.deepEqual(node.scope, { cluster: 'prod-eu', namespace: 'shop', kind: 'PodExecOptions', labels: {} });
  assert.equal(node.data?.uid, '0df28fbd-5f5f-4b8a-9f2c-5c3e6a1b7d21');
  const [del] = [...adapter.roots(admissionSubjectOf(review('delete-deployment-v1.json')))];
  assert.deepEqual(del!.scope.labels, { app: 'payments-api', protected: 'true' }, 'DELETE scopes on the old object');
  assert.match(del!.label, /^DELETE deployments shop\/payments-api by system:serviceaccount:argocd:argocd-application-controller \(dry run\)$/);
  assert.deepEqual(del!.resource().k8s, { kind: 'Deployment', namespace: 'shop', name: 'payments-api' });
});

test('pack: pods/exec by a non-admin is denied; by system:masters it is allowed', async () => {
  const set = await pack();
  const dev = evaluate({ kind: 'admission', value: admissionSubjectOf(exec()) }, set);
  assert.equal(dev.decision, 'deny');
  assert.deepEqual(dev.enforcement, ['deny-admission']);
  assert.deepEqual(ids(dev), ['exec-non-admin', 'exec-shell-reads-secrets']);
  const f = dev.violations.find((x) => x.id === 'exec-non-admin')!;
  assert.equal(f.kind, 'policy');
  assert.equal(f.resource.k8s?.name, 'web-7c5ddbdf54-x8k2p');
  assert.ok(f.fingerprint);
  assert.match(f.detail!, /^CONNECT pods\/exec shop\/web-7c5ddbdf54-x8k2p by alice@example.com: /);

  const admin = exec();
  admin.request.userInfo.groups = ['system:masters', 'system:authenticated'];
  admin.request.object!.command = ['ls'];
  const ok = evaluate({ kind: 'admission', value: admissionSubjectOf(admin) }, set);
  assert.equal(ok.decision, 'allow');
  assert.deepEqual(ok.violations, []);

  // The same user attaching is denied too; port-forwarding is not exec.
  const attach = exec();
  attach.request.subResource = 'attach';
  attach.request.object = { kind: 'PodAttachOptions', apiVersion: 'v1', stdin: true, tty: true, container: 'app' };
  assert.deepEqual(ids(evaluate({ kind: 'admission', value: admissionSubjectOf(attach) }, set)), ['exec-non-admin']);
  const pf = exec();
  pf.request.subResource = 'portforward';
  pf.request.kind.kind = 'PodPortForwardOptions';
  pf.request.object = { kind: 'PodPortForwardOptions', apiVersion: 'v1', ports: [8080] };
  assert.equal(evaluate({ kind: 'admission', value: admissionSubjectOf(pf) }, set).decision, 'allow');

  // A user with no groups at all is not an admin either.
  const nogroups = exec();
  nogroups.request.userInfo.groups = [];
  assert.equal(evaluate({ kind: 'admission', value: admissionSubjectOf(nogroups) }, set).decision, 'deny');
});

test('pack: a dry run warns; the response allows with a kubectl warning', async () => {
  const set = await pack();
  const r = review('create-pod-v1.json');
  r.request.dryRun = true;
  const v = evaluate({ kind: 'admission', value: admissionSubjectOf(r) }, set);
  assert.equal(v.decision, 'warn');
  assert.deepEqual(ids(v), ['dry-run-request']);
  const res = admissionResponse(r, v);
  assert.equal(res.response.allowed, true);
  assert.deepEqual(res.response.warnings, ['dry-run-request: Dry-run request']);
  // Not a dry run: nothing to say.
  const plain = evaluate({ kind: 'admission', value: admissionSubjectOf(review('create-pod-v1.json')) }, set);
  assert.equal(plain.decision, 'allow');
});

test('pack: deny plus warn in one response; informOnly turns the denial into warnings', async () => {
  const set = await pack();
  const r = exec();
  r.request.dryRun = true;
  const v = evaluate({ kind: 'admission', value: admissionSubjectOf(r) }, set);
  assert.equal(v.decision, 'deny');
  const res = admissionResponse(r, v);
  assert.equal(res.response.allowed, false);
  assert.equal(res.response.status?.message, 'denied by Gatehouse policy: exec-non-admin (Exec or attach into a pod by a non-admin)');
  assert.deepEqual([...res.response.warnings!].sort(), ['dry-run-request: Dry-run request', 'exec-shell-reads-secrets: Exec command reads credentials']);
  const audit = evaluate({ kind: 'admission', value: admissionSubjectOf(r) }, set, { informOnly: true });
  assert.equal(audit.decision, 'warn');
  const auditRes = admissionResponse(r, audit);
  assert.equal(auditRes.response.allowed, true);
  assert.equal(auditRes.response.warnings?.length, 3);
});

test('pack: scope by namespace and by the old object\'s labels', async () => {
  const set = await pack();
  const other = exec();
  other.request.namespace = 'tools';
  assert.deepEqual(ids(evaluate({ kind: 'admission', value: admissionSubjectOf(other) }, set)), ['exec-non-admin'], 'exec-shell-reads-secrets is scoped to shop');
  const del = review('delete-deployment-v1.json');
  del.request.dryRun = false;
  assert.deepEqual(ids(evaluate({ kind: 'admission', value: admissionSubjectOf(del) }, set)), ['protected-delete']);
  (del.request.oldObject!.metadata as any).labels = { app: 'payments-api' };
  assert.equal(evaluate({ kind: 'admission', value: admissionSubjectOf(del) }, set).decision, 'allow');
});

test('scope keys: kinds (the request kind) and clusters (from the subject value)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gh-admission-'));
  const file = join(dir, 'scoped.yaml');
  writeFileSync(file, `apiVersion: gatehouse.dev/v1
kind: PolicyPack
subject: admission
policies:
  - id: prod-exec
    severity: HIGH
    enforcement: [deny-admission]
    scope: { clusters: ["prod-*"], kinds: [PodExecOptions] }
    criteria: { field: request.operation, op: equals, value: CONNECT }
`);
  const loaded = await loadPacks([{ input: file }], subjects);
  const set = compilePolicySet(loaded.policies, subjects);
  assert.equal(evaluate({ kind: 'admission', value: admissionSubjectOf(exec(), 'prod-eu') }, set).decision, 'deny');
  assert.equal(evaluate({ kind: 'admission', value: admissionSubjectOf(exec(), 'staging') }, set).decision, 'allow');
  assert.equal(evaluate({ kind: 'admission', value: admissionSubjectOf(exec()) }, set).decision, 'allow', 'no cluster known: out of a cluster scope');
});

test('an unknown admission field or scope key is a load error with file:line and a did-you-mean', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gh-admission-'));
  const file = join(dir, 'bad.yaml');
  writeFileSync(file, `apiVersion: gatehouse.dev/v1
kind: PolicyPack
subject: admission
policies:
  - id: typo
    severity: LOW
    criteria: { field: request.grups, op: in, value: [admins] }
  - id: wrong-scope
    severity: LOW
    scope: { images: ["docker.io/**"] }
    criteria: { field: exec.tty, op: equals, value: "yes" }
`);
  const { diagnostics } = await readPacks([{ input: file }], subjects);
  const text = diagnostics.map((d) => `${d.line}: ${d.message}`);
  assert.ok(text.some((t) => /^7: .*unknown field "request.grups" for subject admission \(did you mean "request.groups"\?\)/.test(t)), text.join('\n'));
  assert.ok(text.some((t) => /^10: .*scope key "images" does not apply to subject admission/.test(t)), text.join('\n'));
  assert.ok(text.some((t) => /^11: .*field exec.tty is a boolean/.test(t)), text.join('\n'));
  await assert.rejects(loadPacks([{ input: file }], subjects), UserError);
});

test('workloadObjectOf: the object as a ManifestObject the workload subject evaluates', async () => {
  const loaded = await loadPacks([resolvePackInput('deploy')], subjects);
  const set = compilePolicySet(loaded.policies, subjects);

  const create = workloadObjectOf(review('create-pod-v1.json').request);
  assert.equal(create.object?.kind, 'Pod');
  assert.equal(create.object?.namespace, 'shop');
  assert.deepEqual(create.object?.labels, { app: 'debug', team: 'payments' });
  assert.equal(create.oldObject, undefined);
  const v = evaluate({ kind: 'workload', value: { objects: [create.object!] } }, set);
  assert.ok(v.violations.some((f) => f.id === 'privileged-container'), ids(v).join(','));
  assert.equal(v.decision, 'deny');
  const priv = v.violations.find((f) => f.id === 'privileged-container')!;
  assert.deepEqual(priv.resource.k8s, { kind: 'Pod', namespace: 'shop', name: 'debug', container: 'main' }, 'named like a live object: no file');

  // kubectl debug adds a privileged ephemeral container: the UPDATE's new object carries it.
  const eph = workloadObjectOf(review('ephemeral-v1.json').request);
  assert.ok(eph.oldObject);
  const ev = evaluate({ kind: 'workload', value: { objects: [eph.object!] } }, set);
  assert.ok(ev.violations.some((f) => f.id === 'privileged-container' && f.resource.k8s?.container === 'debugger-q7x2z'), ids(ev).join(','));
  assert.ok(!evaluate({ kind: 'workload', value: { objects: [eph.oldObject!] } }, set).violations.some((f) => f.id === 'privileged-container'));

  // CONNECT options are not a workload; DELETE has only the old object.
  assert.deepEqual(workloadObjectOf(exec().request), { notes: [] });
  const del = workloadObjectOf(review('delete-deployment-v1.json').request);
  assert.equal(del.object, undefined);
  assert.equal(del.oldObject?.kind, 'Deployment');
  assert.equal(del.oldObject?.name, 'payments-api');

  // generateName: the namespace and name come from the request when the object lacks them.
  const gen = review('create-pod-v1.json').request;
  gen.object = { apiVersion: 'v1', kind: 'Pod', metadata: { generateName: 'job-' }, spec: { containers: [] } };
  const g = workloadObjectOf(gen);
  assert.equal(g.object?.namespace, 'shop');
});

test('fromData: an AdmissionReview, its request alone, or {cluster, review}; bad data is one line with the file', async () => {
  const data = JSON.parse(readFileSync(join(fixtures, 'exec-v1.json'), 'utf8'));
  const full = await adapter.fromData!(data, 'case.yaml:3');
  assert.equal(full.request.uid, data.request.uid);
  const bare = await adapter.fromData!(data.request, 'case.yaml:3');
  assert.deepEqual(bare, full);
  const wrapped = await adapter.fromData!({ cluster: 'prod-eu', review: data }, 'case.yaml:3');
  assert.equal(wrapped.cluster, 'prod-eu');

  const bad: [unknown, RegExp][] = [
    [[data], /^case\.yaml:3: invalid AdmissionReview: expected a mapping \(an AdmissionReview or its request\), got a list$/],
    [{ ...data, apiVersion: 'v1' }, /^case\.yaml:3: invalid AdmissionReview: unsupported apiVersion "v1"/],
    [{ ...data.request, operation: 'PATCH' }, /^case\.yaml:3: invalid AdmissionReview: request\.operation is "PATCH"/],
    [{ review: data, clustr: 'x' }, /^case\.yaml:3: invalid admission input: unknown key "clustr" beside review/],
    [{ review: data, cluster: 3 }, /cluster must be a string/],
    [{ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }, /request is missing/],
  ];
  for (const [input, re] of bad) {
    await assert.rejects(async () => adapter.fromData!(input, 'case.yaml:3'), (e: unknown) => e instanceof UserError && re.test(e.message) && !e.message.includes('\n'));
  }
});

test('an object nested just under the depth cap goes through workloadObjectOf and the workload subject', async () => {
  const r = review('create-pod-v1.json');
  const doc = JSON.parse(readFileSync(join(fixtures, 'create-pod-v1.json'), 'utf8'));
  doc.request.object.metadata.annotations = { deep: 'x' };
  doc.request.object.spec.extra = 0;
  const text = JSON.stringify(doc).replace('"extra":0', `"extra":${'{"a":'.repeat(500)}1${'}'.repeat(500)}`);
  const deep = parseAdmissionReview(text);
  assert.equal(deep.request.uid, r.request.uid);
  const objs = workloadObjectOf(deep.request);
  assert.equal(objs.object?.kind, 'Pod');
  const loaded = await loadPacks([resolvePackInput('deploy')], subjects);
  const v = evaluate({ kind: 'workload', value: { objects: [objs.object!] } }, compilePolicySet(loaded.policies, subjects));
  assert.ok(v.violations.some((f) => f.id === 'privileged-container'));
});
