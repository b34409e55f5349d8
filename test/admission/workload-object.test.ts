/**
 * workloadObjectOf builds the ManifestObject straight from the parsed JSON (no text round
 * trip through the YAML loader). It must give what the manifest loader gives for the same
 * object, and the workload verdict on it must be the same, without changing the request.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { reviewAdmission } from '../../src/admission/decide.js';
import { parseAdmissionReview, type AdmissionRequest, type KubeObject } from '../../src/admission/review.js';
import { workloadObjectOf } from '../../src/admission/subject.js';
import { parseManifests, type ManifestObject } from '../../src/kube/manifests.js';
import { compilePolicySet, evaluate, type PolicySet } from '../../src/policy/evaluate.js';
import { loadPacks, resolvePackInput } from '../../src/policy/pack.js';
import { createSubjects } from '../../src/subjects/index.js';

const subjects = createSubjects();
const fixtures = join(import.meta.dirname, 'fixtures');
const request = (name: string): AdmissionRequest => parseAdmissionReview(readFileSync(join(fixtures, name))).request;

let deploySet: PolicySet | undefined;
async function deploy(): Promise<PolicySet> {
  if (!deploySet) deploySet = compilePolicySet((await loadPacks([resolvePackInput('deploy')], subjects)).policies, subjects);
  return deploySet;
}

/** What the manifest loader makes of the object (the way workloadObjectOf used to read it). */
function viaLoader(o: KubeObject, req: AdmissionRequest): { object?: ManifestObject; notes: unknown[] } {
  const { objects, notes } = parseManifests(JSON.stringify(o), '');
  const m = objects[0];
  if (m && !m.namespace && req.namespace) m.namespace = req.namespace;
  if (m && !m.name && req.name) m.name = req.name;
  return { object: m, notes };
}

const facts = (m?: ManifestObject) => m && { apiVersion: m.apiVersion, kind: m.kind, name: m.name, namespace: m.namespace, labels: m.labels, annotations: m.annotations, raw: m.raw, known: m.known };

test('fixtures: the same object, the same notes and the same workload findings as the manifest loader gives', async () => {
  const set = await deploy();
  for (const name of ['create-pod-v1.json', 'ephemeral-v1.json', 'delete-deployment-v1.json']) {
    const req = request(name);
    const got = workloadObjectOf(req);
    for (const [which, o] of [['object', got.object], ['oldObject', got.oldObject]] as const) {
      const source = req.operation === 'DELETE' && which === 'object' ? undefined : req[which];
      if (!source) {
        assert.equal(o, undefined, `${name} ${which}`);
        continue;
      }
      const want = viaLoader(source, req);
      assert.deepEqual(facts(o), facts(want.object), `${name} ${which}`);
      const findings = (m: ManifestObject) => evaluate({ kind: 'workload', value: { objects: [m] } }, set).violations;
      const mine = findings(o!);
      assert.ok(mine.length > 0 || name !== 'create-pod-v1.json', 'the privileged pod has findings to compare');
      assert.deepEqual(mine, findings(want.object!), `${name} ${which} findings`);
    }
  }
});

test('odd shapes: unknown kinds are noted, non-string labels are strings, no kind and typed lists are the loader\'s', () => {
  const req = request('create-pod-v1.json');
  const shapes: KubeObject[] = [
    { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w', labels: { a: 1, b: null, c: true }, annotations: 'x' }, spec: {} },
    { apiVersion: 'v1', metadata: { name: 'w' } },
    { apiVersion: 'v1', kind: 'PodList', items: [{ metadata: { name: 'a' } }] },
    { apiVersion: 'v1', kind: 'Pod', metadata: { name: 5, generateName: 'g-' } },
    { apiVersion: 'v1', kind: 'Pod', metadata: { generateName: 'g-', namespace: 7 } },
    { apiVersion: 5, kind: 'Pod', metadata: [] },
  ];
  for (const object of shapes) {
    const got = workloadObjectOf({ ...req, object });
    const want = viaLoader(object, req);
    assert.deepEqual(got.notes, want.notes, JSON.stringify(object));
    assert.deepEqual(facts(got.object), facts(want.object), JSON.stringify(object));
  }
});

test('a review leaves the request object as it came', async () => {
  const set = await deploy();
  for (const name of ['create-pod-v1.json', 'ephemeral-v1.json']) {
    const review = parseAdmissionReview(readFileSync(join(fixtures, name)));
    const before = JSON.stringify(review.request);
    const outcome = reviewAdmission(review, { set });
    assert.ok(outcome.verdict.violations.length > 0, `${name}: the review found something`);
    assert.equal(JSON.stringify(review.request), before, name);
  }
});
