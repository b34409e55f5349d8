/**
 * `compliance report --cluster` against a real kube-apiserver (test/helpers/kube-cluster.ts):
 * the fixture objects are created through the API (Istio's PeerAuthentication through a real
 * CRD), and the cluster-level checks read back from the cluster agree with the same checks
 * over the fixture file, namespace by namespace and object by object. The namespaces the
 * API server makes itself (default, kube-system, kube-public, kube-node-lease) have no quota
 * and no default ServiceAccount (no controller manager runs here): they fail, with evidence.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import type { ComplianceReport } from '../../src/compliance/index.js';
import { runCli } from '../helpers/cli.js';
import { missing } from '../helpers/components.js';
import { createObjects, kubeBinariesPresent, startCluster, type TestCluster } from '../helpers/kube-cluster.js';

const fixture = fileURLToPath(new URL('./fixtures/cluster.yaml', import.meta.url));

const CRD = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: 'peerauthentications.security.istio.io' },
  spec: {
    group: 'security.istio.io',
    scope: 'Namespaced',
    names: { plural: 'peerauthentications', singular: 'peerauthentication', kind: 'PeerAuthentication', listKind: 'PeerAuthenticationList' },
    // Both versions served, as Istio's CRD does: the objects are listed under each.
    versions: [
      { name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } },
      { name: 'v1beta1', served: true, storage: false, schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } },
    ],
  },
};

/** Cluster-level and mesh results by "id|subject" from a report. */
function clusterResults(r: ComplianceReport): Map<string, string> {
  const out = new Map<string, string>();
  for (const c of r.controls) for (const x of c.results) if (x.id.startsWith('k8s.')) out.set(`${x.id}|${x.title.split(': ').slice(1).join(': ')}`, x.status);
  return out;
}

describe('compliance report --cluster (real kube-apiserver)', { skip: missing(kubeBinariesPresent(), 'kube-apiserver and kine (bash .ci/setup.d/66-kube.sh)') }, () => {
  let cluster: TestCluster;
  before(async () => {
    cluster = await startCluster();
    await createObjects(cluster, [CRD]);
    const objects = parseAllDocuments(readFileSync(fixture, 'utf8')).map((d) => d.toJS()).filter(Boolean);
    const namespaces = objects.filter((o) => o.kind === 'Namespace');
    const [firstPeer, ...rest] = [...objects.filter((o) => o.kind === 'PeerAuthentication'), ...objects.filter((o) => o.kind !== 'Namespace' && o.kind !== 'PeerAuthentication')];
    await createObjects(cluster, namespaces);
    // The CRD is served a moment after it is created.
    for (let i = 0; ; i++) {
      try {
        await createObjects(cluster, [firstPeer]);
        break;
      } catch (e) {
        if (i > 100 || !/not served/.test(String(e))) throw e;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    await createObjects(cluster, rest);
  });
  after(async () => {
    await cluster?.stop();
  });

  test('the live objects give the cluster-level results the manifests give', async () => {
    const live = await runCli(['compliance', 'report', '--framework', 'nist-800-190', '--cluster', '--kubeconfig', cluster.kubeconfig, '--format', 'json']);
    assert.equal(live.code, 0, live.stderr);
    const file = await runCli(['compliance', 'report', '--framework', 'nist-800-190', fixture, '--format', 'json']);
    assert.equal(file.code, 0, file.stderr);
    const liveReport = JSON.parse(live.stdout) as ComplianceReport;
    assert.match(liveReport.inputs[0]!, /^cluster .*: \d+ object\(s\)/);
    const a = clusterResults(liveReport);
    const b = clusterResults(JSON.parse(file.stdout) as ComplianceReport);
    // Every result of the file is in the cluster's, with the same status.
    for (const [k, v] of b) assert.equal(a.get(k), v, `${k}: cluster ${a.get(k)}, file ${v}`);
    // The mesh results prove the PeerAuthentications were read from the API (each once, though served twice).
    assert.doesNotMatch(live.stdout, /also selected by/);
    assert.equal(a.get('k8s.mesh.workload-mtls|Deployment shop/web'), 'pass');
    assert.equal(a.get('k8s.mesh.workload-mtls|Deployment shop/metrics'), 'fail');
    // Namespaces the API server made: no quota, no default ServiceAccount.
    for (const ns of ['default', 'kube-system']) {
      assert.equal(a.get(`k8s.namespace.resourcequota|Namespace ${ns}`), 'fail', ns);
      assert.equal(a.get(`k8s.serviceaccount.default-automount|ServiceAccount ${ns}/default`), 'fail', ns);
    }
    assert.equal(a.size - b.size >= 4 * 4, true, `${a.size} live vs ${b.size} file results`);
  });

  test('an admission webhook over pods, read from the cluster, is every namespace\'s pod control', async () => {
    const before = JSON.parse((await runCli(['compliance', 'report', '--framework', 'cis-kubernetes', '--cluster', '--kubeconfig', cluster.kubeconfig, '--format', 'json'])).stdout) as ComplianceReport;
    assert.equal(clusterResults(before).get('k8s.namespace.pod-security|Namespace legacy'), 'fail');
    await createObjects(cluster, [
      {
        apiVersion: 'admissionregistration.k8s.io/v1',
        kind: 'ValidatingWebhookConfiguration',
        metadata: { name: 'pod-policy' },
        webhooks: [
          {
            name: 'pods.policy.example.com',
            failurePolicy: 'Ignore',
            rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'] }],
            clientConfig: { url: 'https://127.0.0.1:9/validate' },
            sideEffects: 'None',
            admissionReviewVersions: ['v1'],
          },
        ],
      },
    ]);
    const r = await runCli(['compliance', 'report', '--framework', 'cis-kubernetes', '--cluster', '--kubeconfig', cluster.kubeconfig, '--format', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const after = JSON.parse(r.stdout) as ComplianceReport;
    const res = clusterResults(after);
    for (const ns of ['legacy', 'default', 'kube-system']) assert.equal(res.get(`k8s.namespace.pod-security|Namespace ${ns}`), 'pass', ns);
    const c521 = after.controls.find((c) => c.id === '5.2.1')!;
    assert.ok(c521.results.some((x) => /ValidatingWebhookConfiguration pod-policy: pods\.policy\.example\.com \(failurePolicy Ignore\) validate pods/.test(x.evidence.join())));
  });

  test('RBAC risks of the live cluster are evidence for CIS 5.1.1', async () => {
    const r = await runCli(['compliance', 'report', '--framework', 'cis-kubernetes', '--cluster', '--kubeconfig', cluster.kubeconfig, '--format', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as ComplianceReport;
    const c = report.controls.find((x) => x.id === '5.1.1')!;
    // The bootstrap ClusterRoleBinding cluster-admin → group system:masters.
    assert.equal(c.status, 'fail', c.reason);
    assert.ok(c.results.some((x) => x.status === 'fail' && /system:masters/.test(x.evidence.join())), JSON.stringify(c.results.slice(0, 3)));
  });

  test('a wrong context is one line', async () => {
    const r = await runCli(['compliance', 'report', '--framework', 'cis-kubernetes', '--cluster', '--kubeconfig', cluster.kubeconfig, '--context', 'nope']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /context "nope" is not in the kubeconfig/);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  });
});
