/**
 * One list of workload kinds (src/kube/workload-kinds.ts) for `k8s check` and netpol: an
 * OpenShift DeploymentConfig is checked like a Deployment and is a workload for netpol, and
 * every kind in the list is treated alike by both.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stringify } from 'yaml';
import { checkObjects } from '../../src/kube/check.js';
import { parseManifests } from '../../src/kube/manifests.js';
import { buildModel } from '../../src/kube/netpol/model.js';
import { WORKLOAD_KINDS, type WorkloadKind } from '../../src/kube/workload-kinds.js';
import { podTemplateOf } from '../../src/kube/workloads.js';
import { subjects } from '../../src/subjects/index.js';

/** An object of `kind` whose pod template runs one privileged container listening on 8080. */
function workload(kind: string, apiVersion: string, template: readonly string[], name = 'app'): Record<string, unknown> {
  const tpl = {
    metadata: { labels: { app: name } },
    spec: { containers: [{ name: 'main', image: 'registry.example.com/app:1.0', ports: [{ containerPort: 8080 }], securityContext: { privileged: true } }] },
  };
  const obj: Record<string, any> = { apiVersion, kind, metadata: { name, namespace: 'shop' } };
  if (template.length === 0) return { ...obj, metadata: { ...obj.metadata, labels: { app: name } }, spec: tpl.spec };
  let at = obj;
  template.slice(0, -1).forEach((k) => (at = at[k] ??= {}));
  at[template.at(-1)!] = tpl;
  return obj;
}

const apiVersionOf = (w: WorkloadKind): string => (w.groups[0] ? `${w.groups[0]}/v1` : 'v1');

async function privilegedFindings(objects: Record<string, unknown>[]) {
  const { objects: loaded, notes } = parseManifests(objects.map((o) => stringify(o)).join('---\n'), 'workloads.yaml');
  const r = await checkObjects(loaded, notes, { subjects: subjects() });
  return { findings: r.findings.filter((f) => f.id === 'privileged-container'), notes };
}

test('k8s check: a privileged container in a DeploymentConfig (apps.openshift.io/v1) is a finding at its line', async () => {
  const { findings, notes } = await privilegedFindings([workload('DeploymentConfig', 'apps.openshift.io/v1', ['spec', 'template'], 'legacy')]);
  assert.equal(findings.length, 1, 'one privileged-container finding');
  assert.deepEqual(
    { kind: findings[0]!.resource.k8s?.kind, name: findings[0]!.resource.k8s?.name, container: findings[0]!.resource.k8s?.container },
    { kind: 'DeploymentConfig', name: 'legacy', container: 'main' },
  );
  assert.ok((findings[0]!.resource.k8s?.line ?? 0) > 1, 'points at the field, not the object start');
  assert.ok(!notes.some((n) => /unknown kind DeploymentConfig/.test(n.message)), 'DeploymentConfig is a known kind');
});

test('k8s check: a CRD that is called DeploymentConfig in another API group has no pod template', async () => {
  const { findings, notes } = await privilegedFindings([workload('DeploymentConfig', 'example.com/v1', ['spec', 'template'])]);
  assert.deepEqual(findings, []);
  assert.ok(notes.some((n) => /unknown kind DeploymentConfig \(example\.com\/v1\)/.test(n.message)));
});

test('netpol: a DeploymentConfig is a workload with its template labels and ports', () => {
  const raw = workload('DeploymentConfig', 'apps.openshift.io/v1', ['spec', 'template'], 'legacy') as Record<string, any>;
  const model = buildModel([{ kind: raw.kind, name: 'legacy', namespace: 'shop', labels: {}, raw, source: { file: 'dc.yaml', line: 1 } }]);
  assert.deepEqual(
    model.workloads.map((w) => ({ id: w.id, labels: w.labels, ports: w.ports.map((p) => p.port) })),
    [{ id: 'shop/legacy[DeploymentConfig]', labels: { app: 'legacy' }, ports: [8080] }],
  );
});

test('every pod-template kind in the list is checked by k8s check, and is a netpol workload exactly when it runs pods', async () => {
  const podKinds = WORKLOAD_KINDS.filter((w) => w.spec === 'pod');
  assert.ok(podKinds.some((w) => w.kind === 'DeploymentConfig'));
  for (const w of podKinds) {
    for (const group of w.groups) {
      const apiVersion = group ? `${group}/v1` : 'v1';
      const raw = workload(w.kind, apiVersion, w.template);
      const { objects } = parseManifests(stringify(raw), `${w.kind}.yaml`);
      assert.ok(podTemplateOf(objects[0]!), `${apiVersion} ${w.kind}: k8s check sees its pod template`);
    }
    const raw = workload(w.kind, apiVersionOf(w), w.template) as Record<string, any>;
    const model = buildModel([{ kind: w.kind, name: 'app', namespace: 'shop', labels: raw.metadata.labels ?? {}, raw, source: { file: 'x.yaml', line: 1 } }]);
    assert.equal(model.workloads.length, w.runsPods ? 1 : 0, `${w.kind}: netpol workload iff it runs pods`);
  }
  const { findings } = await privilegedFindings(podKinds.map((w) => workload(w.kind, apiVersionOf(w), w.template, w.kind.toLowerCase())));
  assert.deepEqual(findings.map((f) => f.resource.k8s?.kind).sort(), podKinds.map((w) => w.kind).sort());
});
