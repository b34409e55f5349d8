/**
 * AdmissionReview parsing: reviews shaped as the API server sends them (fixtures written
 * from the Kubernetes docs' example and recorded webhook traffic), hostile and malformed
 * bodies (each one UserError line), and the responses built for a verdict.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  DEFAULT_MAX_REVIEW_BYTES, MAX_WARNING_CHARS, MAX_WARNINGS_TOTAL,
  admissionErrorResponse, admissionResponse, parseAdmissionReview, validateAdmissionReview,
} from '../../src/admission/review.js';
import type { Finding } from '../../src/findings/finding.js';
import { UserError } from '../../src/util/errors.js';

const fixture = (name: string): string => readFileSync(join(import.meta.dirname, 'fixtures', name), 'utf8');
const exec = fixture('exec-v1.json');

/** The parse fails with one UserError line that matches `re`. */
function rejects(body: Buffer | string, re: RegExp, opts?: Parameters<typeof parseAdmissionReview>[1]): string {
  let err: unknown;
  try {
    parseAdmissionReview(body, opts);
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof UserError, `expected a UserError, got ${String(err)}`);
  const msg = err.message;
  assert.doesNotMatch(msg, /[\n\r]/, 'one line');
  assert.ok(msg.length < 300, `short: ${msg}`);
  assert.match(msg, /^invalid AdmissionReview: /);
  assert.match(msg, re);
  return msg;
}

/** The exec fixture with its request changed by `edit`. */
function editExec(edit: (req: Record<string, any>) => void): string {
  const doc = JSON.parse(exec);
  edit(doc.request);
  return JSON.stringify(doc);
}

test('parses a pods/exec CONNECT review from a Buffer and a string alike', () => {
  const fromBuffer = parseAdmissionReview(Buffer.from(exec));
  const fromString = parseAdmissionReview(exec);
  assert.deepEqual(fromBuffer, fromString);
  const r = fromBuffer.request;
  assert.equal(fromBuffer.apiVersion, 'admission.k8s.io/v1');
  assert.equal(r.uid, '0df28fbd-5f5f-4b8a-9f2c-5c3e6a1b7d21');
  assert.equal(r.operation, 'CONNECT');
  assert.deepEqual(r.kind, { group: '', version: 'v1', kind: 'PodExecOptions' });
  assert.deepEqual(r.resource, { group: '', version: 'v1', resource: 'pods' });
  assert.equal(r.subResource, 'exec');
  assert.equal(r.requestSubResource, 'exec');
  assert.equal(r.namespace, 'shop');
  assert.equal(r.userInfo.username, 'alice@example.com');
  assert.deepEqual(r.userInfo.groups, ['developers', 'system:authenticated']);
  assert.deepEqual(r.object?.command, ['/bin/sh', '-c', 'cat /etc/shadow']);
  assert.equal(r.oldObject, undefined, 'null oldObject is absent');
  assert.equal(r.options, undefined);
  assert.equal(r.dryRun, false);
});

test('parses CREATE, UPDATE (v1beta1 scale), DELETE and ephemeral-container reviews', () => {
  const create = parseAdmissionReview(fixture('create-pod-v1.json')).request;
  assert.equal(create.operation, 'CREATE');
  assert.equal(create.subResource, '');
  assert.equal(create.options?.kind, 'CreateOptions');
  assert.equal((create.object as any).spec.containers[0].image, 'busybox:1.36');

  const scale = parseAdmissionReview(fixture('scale-v1beta1.json'));
  assert.equal(scale.apiVersion, 'admission.k8s.io/v1beta1');
  assert.deepEqual(scale.request.kind, { group: 'autoscaling', version: 'v1', kind: 'Scale' });
  assert.equal(scale.request.resource.group, 'apps');
  assert.equal(scale.request.userInfo.uid, '014fbff9a07c');
  assert.deepEqual(scale.request.userInfo.extra, { 'some-key': ['some-value1', 'some-value2'] });

  const del = parseAdmissionReview(fixture('delete-deployment-v1.json')).request;
  assert.equal(del.operation, 'DELETE');
  assert.equal(del.object, undefined);
  assert.equal((del.oldObject as any).metadata.labels.protected, 'true');
  assert.equal(del.dryRun, true);

  const eph = parseAdmissionReview(fixture('ephemeral-v1.json')).request;
  assert.equal(eph.subResource, 'ephemeralcontainers');
  assert.equal(eph.kind.kind, 'Pod');
});

test('a byte-order mark and missing optional fields are accepted; absent strings become empty', () => {
  const minimal = JSON.stringify({
    apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview',
    request: { uid: 'u1', kind: { kind: 'Namespace' }, resource: { resource: 'namespaces' }, operation: 'CREATE', userInfo: {} },
  });
  const r = parseAdmissionReview(`\ufeff${minimal}`).request;
  assert.equal(r.namespace, '');
  assert.equal(r.name, '');
  assert.equal(r.subResource, '');
  assert.equal(r.userInfo.username, '');
  assert.deepEqual(r.userInfo.groups, []);
  assert.equal(r.dryRun, false);
  assert.equal(r.kind.group, '');
});

test('truncated and otherwise broken JSON is one line (no input echoed across lines)', () => {
  for (const cut of [1, 10, 200, exec.length - 2]) rejects(exec.slice(0, cut), /not valid JSON/);
  rejects('{"apiVersion": \n\n }', /not valid JSON/);
  rejects(`${exec} trailing`, /not valid JSON: Unexpected non-whitespace character after JSON at line \d+ column \d+/);
  rejects('{"a": "\u0001\n"}', /not valid JSON/);
  rejects('', /body is empty/);
  rejects('  \n ', /body is empty/);
  rejects(Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]), /not valid UTF-8/);
});

test('a 10 MiB body is refused before it is parsed; the limit is configurable', () => {
  const padding = 'x'.repeat(10 * 1024 * 1024);
  const big = editExec((r) => {
    r.object.command = [padding];
  });
  const started = process.hrtime.bigint();
  rejects(Buffer.from(big), new RegExp(`over the ${DEFAULT_MAX_REVIEW_BYTES}-byte limit`));
  rejects(big, /bytes, over the/);
  assert.ok(Number(process.hrtime.bigint() - started) / 1e6 < 2000, 'refused without parsing');
  rejects(exec, /over the 100-byte limit/, { maxBytes: 100 });
  // Multi-byte characters count as bytes, not as string length.
  rejects(JSON.stringify({ a: 'é'.repeat(60) }), /over the 100-byte limit/, { maxBytes: 100 });
});

test('deeply nested JSON is refused before JSON.parse builds it; brackets inside strings do not count', () => {
  const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
  rejects(deep, /nested deeper than 512 levels/);
  const deepObject = editExec((r) => {
    r.object.extra = 0;
  }).replace('"extra":0', `"extra":${'{"a":'.repeat(600)}1${'}'.repeat(600)}`);
  rejects(deepObject, /nested deeper than 512 levels/);
  rejects(exec, /nested deeper than 3 levels/, { maxDepth: 3 });
  // A string full of brackets and escaped quotes is not nesting.
  const brackets = editExec((r) => {
    r.object.command = [`${'['.repeat(5000)}\\"{{{`];
  });
  assert.equal(parseAdmissionReview(brackets).request.object?.command instanceof Array, true);
});

test('wrong apiVersion, kind, a missing request or a response are named', () => {
  const doc = JSON.parse(exec);
  rejects(JSON.stringify({ ...doc, apiVersion: 'admission.k8s.io/v2' }), /unsupported apiVersion "admission.k8s.io\/v2" \(expected admission.k8s.io\/v1 or admission.k8s.io\/v1beta1\)/);
  rejects(JSON.stringify({ ...doc, apiVersion: undefined }), /apiVersion is missing/);
  rejects(JSON.stringify({ ...doc, kind: 'Pod' }), /kind is "Pod", expected "AdmissionReview"/);
  rejects(JSON.stringify({ ...doc, request: undefined }), /request is missing/);
  rejects(JSON.stringify({ ...doc, request: null }), /request is missing/);
  rejects(JSON.stringify({ apiVersion: doc.apiVersion, kind: doc.kind, response: { uid: 'x', allowed: true } }), /this is a response/);
  rejects('[]', /expected a JSON object, got a list/);
  rejects('null', /expected a JSON object, got null/);
  rejects('"AdmissionReview"', /expected a JSON object, got a string/);
  rejects(JSON.stringify({ ...doc, request: [1] }), /request must be an object, got a list/);
  // A long hostile value is shortened in the message.
  const msg = rejects(JSON.stringify({ ...doc, apiVersion: 'v'.repeat(10_000) }), /unsupported apiVersion/);
  assert.ok(msg.length < 200);
});

test('missing and mistyped request fields name their path', () => {
  const cases: [(r: Record<string, any>) => void, RegExp][] = [
    [(r) => delete r.uid, /request\.uid is missing/],
    [(r) => (r.uid = ''), /request\.uid is empty/],
    [(r) => (r.uid = 42), /request\.uid must be a string, got a number/],
    [(r) => delete r.operation, /request\.operation is missing/],
    [(r) => (r.operation = 'EXEC'), /request\.operation is "EXEC" \(expected CREATE, UPDATE, DELETE, CONNECT\)/],
    [(r) => delete r.kind, /request\.kind is missing/],
    [(r) => (r.kind = 'Pod'), /request\.kind must be an object with group, version and kind, got a string/],
    [(r) => delete r.kind.kind, /request\.kind\.kind is missing/],
    [(r) => (r.resource.resource = ['pods']), /request\.resource\.resource must be a string, got a list/],
    [(r) => (r.subResource = 7), /request\.subResource must be a string/],
    [(r) => (r.namespace = {}), /request\.namespace must be a string, got an object/],
    [(r) => delete r.userInfo, /request\.userInfo is missing/],
    [(r) => (r.userInfo = 'alice'), /request\.userInfo must be an object/],
    [(r) => (r.userInfo.username = ['alice']), /request\.userInfo\.username must be a string, got a list/],
    [(r) => (r.userInfo.groups = 'developers'), /request\.userInfo\.groups must be a list of strings, got a string/],
    [(r) => (r.userInfo.groups = ['a', 1]), /request\.userInfo\.groups\[1\] must be a string, got a number/],
    [(r) => (r.userInfo.extra = { k: 'v' }), /request\.userInfo\.extra\["k"\] must be a list of strings/],
    [(r) => (r.dryRun = 'true'), /request\.dryRun must be true or false, got "true"/],
    [(r) => (r.object = [1, 2]), /request\.object must be an object, got a list/],
    [(r) => (r.oldObject = 'x'), /request\.oldObject must be an object, got a string/],
    [(r) => (r.object = { kind: 3 }), /request\.object\.kind must be a string, got a number/],
    [(r) => (r.object = { kind: 'Pod', metadata: [] }), /request\.object\.metadata must be an object, got a list/],
    [(r) => (r.object = { kind: 'Pod', metadata: { labels: { app: 1 } } }), /request\.object\.metadata\.labels\["app"\] must be a string, got a number/],
    [(r) => (r.object = { kind: 'Pod', metadata: { annotations: ['a'] } }), /request\.object\.metadata\.annotations must be a map of strings, got a list/],
    [(r) => (r.requestKind = 5), /request\.requestKind must be an object/],
  ];
  for (const [edit, re] of cases) rejects(editExec(edit), re);
});

test('validateAdmissionReview checks data that is already parsed (YAML test inputs)', () => {
  const data = JSON.parse(exec);
  assert.equal(validateAdmissionReview(data).request.name, 'web-7c5ddbdf54-x8k2p');
  data.request.userInfo.groups = [new Date(0)];
  assert.throws(() => validateAdmissionReview(data), /groups\[0\] must be a string, got a date/);
});

// --- responses -------------------------------------------------------------------------

const finding = (id: string, enforcement: string, title = `title of ${id}`): Finding => ({
  id, kind: 'policy', severity: 'HIGH', title, resource: {}, policy: { id, name: title, enforcement },
});

test('allow: the uid and apiVersion are echoed, nothing else', () => {
  const review = parseAdmissionReview(fixture('scale-v1beta1.json'));
  const res = admissionResponse(review, { decision: 'allow', violations: [], enforcement: [] });
  assert.deepEqual(res, { apiVersion: 'admission.k8s.io/v1beta1', kind: 'AdmissionReview', response: { uid: '705ab4f5-6393-11e8-b7cc-42010a800002', allowed: true } });
});

test('deny: 403 naming each denying policy; inform-only violations become warnings', () => {
  const review = parseAdmissionReview(exec);
  const res = admissionResponse(review, {
    decision: 'deny',
    enforcement: ['deny-admission'],
    violations: [
      finding('exec-non-admin', 'inform,deny-admission', 'Exec into a pod\nby a non-admin'),
      finding('exec-non-admin', 'inform,deny-admission'),
      finding('dry-run-request', 'inform', 'Dry-run request'),
    ],
  });
  assert.equal(res.apiVersion, 'admission.k8s.io/v1');
  assert.equal(res.response.uid, review.request.uid);
  assert.equal(res.response.allowed, false);
  assert.equal(res.response.status?.code, 403);
  assert.equal(res.response.status?.reason, 'Forbidden');
  assert.equal(res.response.status?.message, 'denied by Gatehouse policy: exec-non-admin (Exec into a pod by a non-admin)');
  assert.deepEqual(res.response.warnings, ['dry-run-request: Dry-run request']);
});

test('warn: allowed, with one kubectl warning per violated policy', () => {
  const review = parseAdmissionReview(exec);
  const res = admissionResponse(review, {
    decision: 'warn',
    enforcement: [],
    // informOnly: a policy with deny-admission reported only.
    violations: [finding('a', 'inform'), finding('b', 'deny-admission'), finding('a', 'inform')],
  });
  assert.equal(res.response.allowed, true);
  assert.equal(res.response.status, undefined);
  assert.deepEqual(res.response.warnings, ['a: title of a', 'b: title of b']);
});

test('warnings fit the API server limits: 256 characters each, 4096 in all', () => {
  const review = parseAdmissionReview(exec);
  const violations = Array.from({ length: 100 }, (_, i) => finding(`policy-${i}`, 'inform', `${'long title '.repeat(40)}${i}`));
  const res = admissionResponse(review, { decision: 'warn', enforcement: [], violations });
  const warnings = res.response.warnings!;
  assert.ok(warnings.every((w) => w.length <= MAX_WARNING_CHARS));
  assert.ok(warnings.join('').length <= MAX_WARNINGS_TOTAL, `total ${warnings.join('').length}`);
  assert.ok(warnings.length > 5 && warnings.length < 100);
  const shown = warnings.length - 1;
  assert.equal(warnings.at(-1), `Gatehouse: ${100 - shown} more policy warning(s) not shown`);
  assert.match(warnings[0]!, /^policy-0: long title/);
});

test('an error response refuses with a one-line message', () => {
  const review = parseAdmissionReview(exec);
  const res = admissionErrorResponse(review, 'policy evaluation failed:\n boom', 500);
  assert.deepEqual(res.response, { uid: review.request.uid, allowed: false, status: { code: 500, reason: 'InternalError', message: 'policy evaluation failed: boom' } });
  assert.equal(admissionErrorResponse(review, 'bad').response.status?.reason, 'BadRequest');
});
