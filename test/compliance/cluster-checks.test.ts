/**
 * Cluster-level checks over manifest fixtures: every namespace's ResourceQuota and
 * LimitRange (Namespace objects and namespaces only used by objects), Ingress TLS per host,
 * Istio PeerAuthentication coverage (mesh-wide, namespace, workload selector, port-level
 * overrides), Linkerd injection and skip-ports, default ServiceAccount automount; and the
 * deploy pack's verdicts as per-object pass/fail results (pod-level automount, Secrets in env).
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import type { CheckResult } from '../../src/findings/check-result.js';
import { loadManifests, parseManifests } from '../../src/kube/manifests.js';
import { runClusterChecks, runDeployPolicies } from '../../src/compliance/index.js';

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

/** status by "check id|subject" (the part of the title after the colon). */
function statuses(results: readonly CheckResult[], prefix: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const r of results.filter((x) => x.id.startsWith(prefix))) out[`${r.id}|${r.title.split(': ').slice(1).join(': ')}`] = r.status;
  return out;
}

describe('cluster-level checks on manifests', () => {
  test('namespaces: quota, limit range, NetworkPolicy and Pod Security for Namespace objects and namespaces only used by objects; default SA automount', async () => {
    const { objects } = await loadManifests([fixture('cluster.yaml')]);
    const results = runClusterChecks(objects);
    assert.deepEqual(statuses(results, 'k8s.namespace.'), {
      'k8s.namespace.resourcequota|Namespace istio-system': 'fail',
      'k8s.namespace.limitrange|Namespace istio-system': 'fail',
      'k8s.namespace.resourcequota|Namespace legacy': 'fail',
      'k8s.namespace.limitrange|Namespace legacy': 'fail',
      'k8s.namespace.resourcequota|Namespace shop': 'pass',
      'k8s.namespace.limitrange|Namespace shop': 'pass',
      'k8s.namespace.networkpolicy|Namespace istio-system': 'fail',
      'k8s.namespace.networkpolicy|Namespace legacy': 'fail',
      'k8s.namespace.networkpolicy|Namespace shop': 'pass',
      'k8s.namespace.pod-security|Namespace istio-system': 'fail',
      'k8s.namespace.pod-security|Namespace legacy': 'fail',
      'k8s.namespace.pod-security|Namespace shop': 'pass',
    });
    const ev = (id: string, ns: string) => results.find((r) => r.id === id && r.title.endsWith(` ${ns}`))!.evidence.join('\n');
    assert.match(ev('k8s.namespace.networkpolicy', 'shop'), /NetworkPolicy shop\/default-deny \(.*\): default deny \(Ingress, Egress\)/);
    assert.match(ev('k8s.namespace.pod-security', 'shop'), /enforce = restricted/);
    assert.match(ev('k8s.namespace.pod-security', 'legacy'), /enforce = privileged \(allows everything\)/);
    assert.deepEqual(statuses(results, 'k8s.serviceaccount.'), {
      'k8s.serviceaccount.default-automount|ServiceAccount istio-system/default': 'fail',
      'k8s.serviceaccount.default-automount|ServiceAccount legacy/default': 'fail',
      'k8s.serviceaccount.default-automount|ServiceAccount shop/default': 'pass',
    });
    const quota = results.find((r) => r.id === 'k8s.namespace.resourcequota' && r.title.endsWith('shop'))!;
    assert.match(quota.evidence.join(), /ResourceQuota shop\/shop-quota \(.*cluster\.yaml:\d+\): hard pods=20, requests\.cpu=4/);
    const noQuota = results.find((r) => r.id === 'k8s.namespace.resourcequota' && r.title.endsWith('legacy'))!;
    assert.equal(noQuota.finding?.id, 'k8s.namespace.resourcequota');
    assert.equal(noQuota.finding?.resource.k8s?.name, 'legacy');
    assert.ok(noQuota.finding?.fingerprint);
    // A namespace no Namespace object defines still counts, and says so.
    const implicit = runClusterChecks(objects.filter((o) => !(o.kind === 'Namespace' && o.name === 'legacy')));
    const legacy = implicit.find((r) => r.id === 'k8s.namespace.resourcequota' && r.title.endsWith('legacy'))!;
    assert.equal(legacy.status, 'fail');
    assert.match(legacy.evidence[0]!, /no Namespace object among the inputs; 3 object\(s\) use it/);
  });

  test('pod admission control: a validating webhook or ValidatingAdmissionPolicy over pods counts for every namespace', async () => {
    const { objects } = await loadManifests([fixture('cluster.yaml')]);
    const { objects: controls } = parseManifests(
      `apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: { name: kyverno-resource-validating-webhook-cfg }
webhooks:
  - name: validate.kyverno.svc-fail
    failurePolicy: Fail
    rules: [{ apiGroups: [""], apiVersions: [v1], operations: [CREATE, UPDATE], resources: [pods] }]
    clientConfig: { service: { name: kyverno-svc, namespace: kyverno } }
    sideEffects: None
    admissionReviewVersions: [v1]
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: { name: configmaps-only }
webhooks:
  - name: cm.example.com
    rules: [{ apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [configmaps] }]
    clientConfig: { url: "https://cm.example.com/validate" }
    sideEffects: None
    admissionReviewVersions: [v1]
`,
      'webhooks.yaml',
    );
    const results = runClusterChecks([...objects, ...controls]).filter((r) => r.id === 'k8s.namespace.pod-security');
    assert.ok(results.length === 3 && results.every((r) => r.status === 'pass'), JSON.stringify(results.map((r) => [r.title, r.status])));
    const legacy = results.find((r) => r.title.endsWith('legacy'))!.evidence.join('\n');
    assert.match(legacy, /ValidatingWebhookConfiguration kyverno-resource-validating-webhook-cfg .*validate\.kyverno\.svc-fail \(failurePolicy Fail\) validate pods/);
    assert.doesNotMatch(legacy, /configmaps-only/);
    // The configmap webhook alone is no pod control.
    const only = runClusterChecks([...objects, controls[1]!]).find((r) => r.id === 'k8s.namespace.pod-security' && r.title.endsWith('legacy'))!;
    assert.equal(only.status, 'fail');
  });

  test('ingress: every host under a TLS entry', async () => {
    const { objects } = await loadManifests([fixture('cluster.yaml')]);
    const results = runClusterChecks(objects).filter((r) => r.id === 'k8s.ingress.tls');
    assert.deepEqual(statuses(results, 'k8s.ingress.'), { 'k8s.ingress.tls|Ingress shop/shop': 'fail', 'k8s.ingress.tls|Ingress legacy/old': 'fail' });
    assert.match(results[0]!.evidence.join('\n'), /host\(s\) without TLS: admin\.example\.com/);
    assert.doesNotMatch(results[0]!.evidence.join('\n'), /without TLS: .*shop\.example\.com/);
    assert.match(results[1]!.evidence.join('\n'), /no spec\.tls/);
    // Covering the second host (by wildcard) makes it pass.
    const shop = objects.find((o) => o.kind === 'Ingress' && o.name === 'shop')!;
    const patched = { ...shop, raw: { ...shop.raw, spec: { ...shop.raw.spec, tls: [{ hosts: ['shop.example.com', '*.example.com'], secretName: 'x' }] } } };
    const again = runClusterChecks([patched]).find((r) => r.id === 'k8s.ingress.tls')!;
    assert.equal(again.status, 'pass', again.evidence.join('\n'));
  });

  test('Istio: mesh-wide STRICT, namespace PERMISSIVE, workload STRICT with a PERMISSIVE port', async () => {
    const { objects } = await loadManifests([fixture('cluster.yaml')]);
    const results = runClusterChecks(objects);
    assert.deepEqual(statuses(results, 'k8s.mesh.'), {
      'k8s.mesh.namespace-mtls|Namespace istio-system': 'pass',
      'k8s.mesh.namespace-mtls|Namespace legacy': 'fail',
      'k8s.mesh.namespace-mtls|Namespace shop': 'pass',
      'k8s.mesh.workload-mtls|Deployment shop/web': 'pass',
      'k8s.mesh.workload-mtls|Deployment shop/metrics': 'fail',
      'k8s.mesh.workload-mtls|Deployment legacy/old': 'fail',
    });
    const ev = (name: string) => results.find((r) => r.id === 'k8s.mesh.workload-mtls' && r.title.endsWith(name))!.evidence.join('\n');
    assert.match(ev('shop/web'), /mesh-wide PeerAuthentication istio-system\/default .*STRICT/);
    assert.match(ev('shop/metrics'), /plaintext path: port 9090: portLevelMtls PERMISSIVE in PeerAuthentication shop\/metrics-scrape/);
    assert.match(ev('legacy/old'), /PeerAuthentication legacy\/default .*PERMISSIVE/);
    // Without the mesh-wide policy, shop is no longer covered (default PERMISSIVE).
    const without = runClusterChecks(objects.filter((o) => !(o.kind === 'PeerAuthentication' && o.namespace === 'istio-system')));
    assert.equal(without.find((r) => r.id === 'k8s.mesh.workload-mtls' && r.title.endsWith('shop/web'))!.status, 'fail');
    assert.equal(without.find((r) => r.id === 'k8s.mesh.namespace-mtls' && r.title.endsWith('shop'))!.status, 'fail');
    // The same policies served again as v1beta1 (a live cluster lists both versions): no change.
    const twice = [...objects, ...objects.filter((o) => o.kind === 'PeerAuthentication').map((o) => ({ ...o, apiVersion: 'security.istio.io/v1beta1' }))];
    assert.deepEqual(statuses(runClusterChecks(twice), 'k8s.mesh.'), statuses(results, 'k8s.mesh.'));
    assert.doesNotMatch(runClusterChecks(twice).map((r) => r.evidence.join()).join(), /also selected by/);
    // The selected workload keeps STRICT from its own policy (except its PERMISSIVE port).
    assert.match(without.find((r) => r.id === 'k8s.mesh.workload-mtls' && r.title.endsWith('shop/metrics'))!.evidence.join('\n'), /selects it: mtls\.mode STRICT/);
  });

  test('Linkerd: namespace and pod annotations, opt-out, skip-ports as plaintext paths', async () => {
    const { objects } = await loadManifests([fixture('linkerd.yaml')]);
    const results = runClusterChecks(objects);
    assert.deepEqual(statuses(results, 'k8s.mesh.'), {
      'k8s.mesh.namespace-mtls|Namespace linked': 'pass',
      'k8s.mesh.namespace-mtls|Namespace plain': 'fail',
      'k8s.mesh.workload-mtls|Deployment linked/api': 'fail',
      'k8s.mesh.workload-mtls|Deployment linked/worker': 'pass',
      'k8s.mesh.workload-mtls|Deployment linked/batch': 'fail',
      'k8s.mesh.workload-mtls|Deployment plain/solo': 'pass',
      'k8s.mesh.workload-mtls|Deployment plain/bare': 'fail',
    });
    const ev = (name: string) => results.find((r) => r.id === 'k8s.mesh.workload-mtls' && r.title.endsWith(name))!.evidence.join('\n');
    assert.match(ev('linked/api'), /inbound port\(s\) 4222 skip the Linkerd proxy/);
    assert.match(ev('linked/batch'), /linkerd\.io\/inject: disabled/);
    assert.match(ev('plain/solo'), /pod template annotation linkerd\.io\/inject: enabled/);
    assert.match(ev('plain/bare'), /no service mesh covers it/);
  });

  test('deploy policies as per-object results: pod-level token automount and Secrets in env vars', async () => {
    const { objects } = await loadManifests([fixture('cluster.yaml')]);
    const { results } = await runDeployPolicies(objects);
    assert.deepEqual(statuses(results, 'automount-service-account-token'), {
      'automount-service-account-token|Deployment shop/web': 'pass', // its namespace's default SA does not automount
      'automount-service-account-token|Deployment shop/metrics': 'pass',
      'automount-service-account-token|Deployment legacy/old': 'fail',
    });
    assert.deepEqual(statuses(results, 'read-secret-from-env-var'), {
      'read-secret-from-env-var|Deployment shop/web': 'fail',
      'read-secret-from-env-var|Deployment shop/metrics': 'pass',
      'read-secret-from-env-var|Deployment legacy/old': 'pass',
    });
    const secretEnv = results.find((r) => r.id === 'read-secret-from-env-var' && r.status === 'fail')!;
    assert.match(secretEnv.evidence[0]!, /env DB_PASSWORD reads Secret db/);
    assert.equal(secretEnv.finding?.policy?.id, 'read-secret-from-env-var');
    // A policy about Ingresses does not apply to a Deployment.
    assert.ok(!results.some((r) => r.id === 'ingress-without-tls' && r.title.includes('Deployment')));
  });
});
