/** Policy engine: user packs, overrides by id, scopes, criteria operators, exceptions, bad policy files. */
import { test } from 'node:test';
import { subjects } from '../../src/subjects/index.js';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkObjects } from '../../src/kube/check.js';
import { parseManifests } from '../../src/kube/manifests.js';
import { UserError } from '../../src/util/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'gh-policy-'));
let n = 0;
const file = (text: string): string => {
  const p = join(dir, `f${n++}.yaml`);
  writeFileSync(p, text);
  return p;
};
const pack = (policies: string) => file(`apiVersion: gatehouse.dev/v1\nkind: PolicyPack\npolicies:\n${policies}`);
const exceptions = (list: string) => file(`apiVersion: gatehouse.dev/v1\nkind: PolicyExceptions\nexceptions:\n${list}`);

const pod = (name: string, ns: string, image: string, extra = '') => `apiVersion: v1
kind: Pod
metadata: { name: ${name}, namespace: ${ns}, labels: { tier: ${name === 'api' ? 'backend' : 'frontend'} } }
spec:
  containers:
    - name: main
      image: ${image}
      securityContext: { privileged: true }
${extra}`;
const objects = () =>
  parseManifests([pod('api', 'prod', 'reg.example.com/api:1.0'), pod('web', 'dev', 'docker.io/library/nginx:latest')].join('---\n'), 'pods.yaml').objects;

const ids = (r: { findings: { id: string; resource: { k8s?: { name: string } } }[] }, id: string) =>
  r.findings.filter((f) => f.id === id).map((f) => f.resource.k8s!.name).sort();

test('user policies run with scopes over namespaces, labels and images', async () => {
  const p = pack(`  - id: prod-only
    severity: HIGH
    scope: { namespaces: ["pro*"] }
    criteria: { field: container.securityContext.privileged, op: equals, value: true }
  - id: frontend-only
    severity: LOW
    scope: { labelSelector: { matchExpressions: [ { key: tier, operator: NotIn, values: [backend] } ] } }
    criteria: { field: object.kind, op: equals, value: Pod }
  - id: dockerhub-images
    severity: LOW
    scope: { images: ["docker.io/**"] }
    criteria: { field: container.image.tag, op: in, value: [latest, ""] }
  - id: excluded-dev
    severity: LOW
    scope: { excludeNamespaces: [dev] }
    criteria: { field: container.name, op: matches, value: "^ma" }
`);
  const r = await checkObjects(objects(), [], { subjects: subjects(), policyPaths: [p], noDefaults: true });
  assert.deepEqual(ids(r, 'prod-only'), ['api']);
  assert.deepEqual(ids(r, 'frontend-only'), ['web']);
  assert.deepEqual(ids(r, 'dockerhub-images'), ['web']);
  assert.deepEqual(ids(r, 'excluded-dev'), ['api']);
  const f = r.findings.find((x) => x.id === 'prod-only')!;
  assert.equal(f.severity, 'HIGH');
  assert.equal(f.resource.k8s!.line, 8);
  assert.equal(f.resource.k8s!.container, 'main');
});

test('criteria operators: not/any/all, numeric comparisons, absent vs not applicable', async () => {
  const p = pack(`  - id: numeric
    severity: LOW
    criteria: { all: [ { field: workload.replicas, op: gte, value: 2 }, { field: workload.replicas, op: lte, value: 3 } ] }
  - id: negated
    severity: LOW
    criteria: { not: { field: workload.replicas, op: gt, value: 2 } }
  - id: absent-on-pod-only
    severity: LOW
    criteria: { field: job.ttlSecondsAfterFinished, op: absent }
  - id: any-of
    severity: LOW
    criteria: { any: [ { field: object.kind, op: equals, value: Nope }, { field: object.kind, op: notIn, value: [Pod] } ] }
`);
  const deploy = (name: string, replicas: number) => `apiVersion: apps/v1\nkind: Deployment\nmetadata: { name: ${name} }\nspec:\n  replicas: ${replicas}\n  template: { spec: { containers: [] } }\n`;
  const objs = parseManifests([deploy('one', 1), deploy('two', 2), deploy('five', 5), pod('p', 'x', 'i:1')].join('---\n'), 'd.yaml').objects;
  const r = await checkObjects(objs, [], { subjects: subjects(), policyPaths: [p], noDefaults: true });
  assert.deepEqual(ids(r, 'numeric'), ['two']);
  assert.deepEqual(ids(r, 'negated'), ['one', 'p', 'two']);
  assert.deepEqual(ids(r, 'absent-on-pod-only'), []);
  assert.deepEqual(ids(r, 'any-of'), ['five', 'one', 'two']);
});

test('user files override default policies by id and can disable them', async () => {
  const p = pack(`  - id: privileged-container
    severity: LOW
  - id: pss-privileged
    enabled: false
`);
  const base = await checkObjects(objects(), [], { subjects: subjects() });
  assert.equal(base.findings.find((f) => f.id === 'privileged-container')!.severity, 'CRITICAL');
  assert.ok(base.findings.some((f) => f.id === 'pss-privileged'));
  const r = await checkObjects(objects(), [], { subjects: subjects(), policyPaths: [p] });
  assert.equal(r.findings.find((f) => f.id === 'privileged-container')!.severity, 'LOW');
  assert.ok(!r.findings.some((f) => f.id === 'pss-privileged'));
});

test('exceptions suppress matching findings until they expire; expired ones are reported', async () => {
  const e = exceptions(`  - policy: privileged-container
    namespace: prod
    workload: Pod/api
    container: main
    owner: team-api
    reason: needs raw device access until the driver ships
    expires: 2099-01-01
  - policy: "latest-*"
    image: "docker.io/**"
    owner: team-web
    reason: dev only
    expires: 2020-01-01
  - policy: privileged-container
    workload: web
    owner: team-web
    reason: wrong namespace, must not match
    namespace: prod
    expires: 2099-01-01
`);
  const r = await checkObjects(objects(), [], { subjects: subjects(), policyPaths: [e], now: new Date('2030-06-01T00:00:00Z') });
  assert.deepEqual(ids(r, 'privileged-container'), ['web']);
  assert.deepEqual(r.excepted.map((x) => `${x.finding.id} ${x.finding.resource.k8s!.name} ${x.exception.owner}`), ['privileged-container api team-api']);
  assert.deepEqual(r.expiredExceptions.map((x) => x.owner), ['team-web']);
  const latest = r.findings.find((f) => f.id === 'latest-tag')!;
  assert.deepEqual(latest.data!.expiredException, { owner: 'team-web', reason: 'dev only', expires: '2020-01-01' });
  // The same exception file after 2099 no longer suppresses anything.
  const later = await checkObjects(objects(), [], { subjects: subjects(), policyPaths: [e], now: new Date('2099-01-02T00:00:00Z') });
  assert.deepEqual(ids(later, 'privileged-container'), ['api', 'web']);
  assert.equal(later.expiredExceptions.length, 3);
});

test('bad policy and exception files fail with file:line and a clear reason', async () => {
  const cases: [string, RegExp][] = [
    [pack(`  - id: x\n    severity: HIGH\n    criteria: { field: container.nope, op: exists }\n`), /f\d+\.yaml:6: policy x: unknown field "container\.nope"/],
    [pack(`  - id: x\n    severity: SEVERE\n    criteria: { field: object.kind, op: exists }\n`), /:5: policy x: unknown severity "SEVERE"/],
    [pack(`  - id: x\n    severity: LOW\n    criteria: { field: object.kind, op: like, value: 1 }\n`), /:6: policy x: unknown op "like"/],
    [pack(`  - id: x\n    severity: LOW\n    criteria: { field: object.kind, op: matches, value: "(" }\n`), /:6: policy x: invalid regular expression/],
    [pack(`  - id: x\n    severity: LOW\n    criteria: { field: object.kind, op: in, value: Pod }\n`), /:6: policy x: op in needs a list value/],
    [pack(`  - id: x\n    severity: LOW\n    scope: { labelSelector: { matchExpressions: [ { key: a, operator: Maybe } ] } }\n    criteria: { field: object.kind, op: exists }\n`), /:6: policy x: invalid selector expression/],
    [pack(`  - id: x\n    severity: LOW\n    stages: [ship]\n    criteria: { field: object.kind, op: exists }\n`), /:6: policy x: unknown stage "ship"/],
    [pack(`  - id: x\n    severity: LOW\n    criterion: {}\n`), /:6: unknown policy key "criterion"/],
    [exceptions(`  - policy: x\n    owner: me\n    reason: because\n`), /:4: exception for x: expires must be a date/],
    [file(`apiVersion: v1\nkind: ConfigMap\nmetadata: { name: x }\n`), /:2: expected apiVersion gatehouse\.dev\/v1 kind PolicyPack/],
    [file(`apiVersion: gatehouse.dev/v1\nkind: PolicyPack\npolicies: [ {id: x\n`), /invalid YAML/],
  ];
  for (const [path, re] of cases) {
    await assert.rejects(checkObjects(objects(), [], { subjects: subjects(), policyPaths: [path], noDefaults: true }), (e: unknown) => {
      assert.ok(e instanceof UserError, `expected UserError, got ${e}`);
      assert.match(e.message, re);
      assert.ok(!e.message.includes('\n'));
      return true;
    });
  }
});
