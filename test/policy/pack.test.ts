/**
 * Every default-pack policy against one clean workload set: the clean set yields nothing,
 * and each mutation (one misconfiguration) yields that policy's finding.
 */
import { test } from 'node:test';
import { subjects } from '../../src/subjects/index.js';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments, stringify } from 'yaml';
import { checkObjects, selectPolicies } from '../../src/kube/check.js';
import { parseManifests } from '../../src/kube/manifests.js';
import { parsePssPolicy } from '../../src/kube/pss/evaluate.js';

const cleanText = readFileSync(fileURLToPath(new URL('../kube/fixtures/clean-app.yaml', import.meta.url)), 'utf8');
type Doc = Record<string, any>;
const cleanDocs = (): Doc[] => parseAllDocuments(cleanText).map((d) => d.toJS());
const find = (docs: Doc[], kind: string) => docs.find((d) => d.kind === kind)!;
const pod = (docs: Doc[]) => find(docs, 'Deployment').spec.template.spec;
const ctr = (docs: Doc[]) => pod(docs).containers[0];

async function run(docs: Doc[], pss?: string) {
  const text = docs.map((d) => stringify(d)).join('---\n');
  const { objects, notes } = parseManifests(text, 'mutated.yaml');
  return checkObjects(objects, notes, { subjects: subjects(), pss: pss ? parsePssPolicy(pss) : undefined });
}

const apiserverPod = (args: string[]): Doc => ({
  apiVersion: 'v1', kind: 'Pod', metadata: { name: 'kube-apiserver', namespace: 'kube-system' },
  spec: { containers: [{ name: 'kube-apiserver', image: 'registry.k8s.io/kube-apiserver:v1.31.0', command: ['kube-apiserver', ...args] }] },
});
const goodApiserverArgs = [
  '--anonymous-auth=false', '--authorization-mode=Node,RBAC', '--profiling=false',
  '--encryption-provider-config=/etc/kubernetes/enc.yaml', '--audit-policy-file=/etc/kubernetes/audit.yaml', '--audit-log-path=/var/log/audit.log',
];

// [policy id, mutation]
const MUTATIONS: [string, (d: Doc[]) => void][] = [
  ['privileged-container', (d) => (ctr(d).securityContext.privileged = true)],
  ['pss-privileged', (d) => (ctr(d).securityContext.privileged = true)],
  ['privilege-escalation-container', (d) => (ctr(d).securityContext.allowPrivilegeEscalation = true)],
  ['privilege-escalation-container', (d) => { delete ctr(d).securityContext.allowPrivilegeEscalation; ctr(d).securityContext.capabilities.add = ['SYS_ADMIN']; }],
  ['run-as-non-root', (d) => { delete pod(d).securityContext.runAsNonRoot; delete pod(d).securityContext.runAsUser; }],
  ['run-as-non-root', (d) => (ctr(d).securityContext.runAsUser = 0)],
  ['no-read-only-root-fs', (d) => delete ctr(d).securityContext.readOnlyRootFilesystem],
  ['drop-net-raw-capability', (d) => (ctr(d).securityContext.capabilities.drop = ['SYS_ADMIN'])],
  ['dangerous-capabilities', (d) => (ctr(d).securityContext.capabilities.add = ['NET_ADMIN'])],
  ['host-network', (d) => (pod(d).hostNetwork = true)],
  ['pss-hostnamespaces', (d) => (pod(d).hostPID = true)],
  ['host-pid', (d) => (pod(d).hostPID = true)],
  ['host-ipc', (d) => (pod(d).hostIPC = true)],
  ['docker-sock', (d) => { pod(d).volumes.push({ name: 's', hostPath: { path: '/run/containerd/containerd.sock' } }); ctr(d).volumeMounts.push({ name: 's', mountPath: '/s', readOnly: true }); }],
  ['sensitive-host-mounts', (d) => pod(d).volumes.push({ name: 'etc', hostPath: { path: '/etc' } })],
  ['writable-host-mount', (d) => { pod(d).volumes.push({ name: 'data', hostPath: { path: '/srv/data' } }); ctr(d).volumeMounts.push({ name: 'data', mountPath: '/data' }); }],
  ['pss-hostpathvolumes', (d) => pod(d).volumes.push({ name: 'data', hostPath: { path: '/srv/data' } })],
  ['host-port', (d) => (ctr(d).ports[0].hostPort = 8080)],
  ['privileged-ports', (d) => (ctr(d).ports[0].containerPort = 80)],
  ['ssh-port', (d) => ctr(d).ports.push({ containerPort: 22 })],
  ['unsafe-sysctls', (d) => (pod(d).securityContext.sysctls = [{ name: 'kernel.msgmax', value: '1' }])],
  ['pss-sysctls', (d) => (pod(d).securityContext.sysctls = [{ name: 'kernel.msgmax', value: '1' }])],
  ['unsafe-proc-mount', (d) => (ctr(d).securityContext.procMount = 'Unmasked')],
  ['automount-service-account-token', (d) => delete find(d, 'ServiceAccount').automountServiceAccountToken],
  ['automount-service-account-token', (d) => (pod(d).automountServiceAccountToken = true)],
  ['default-service-account', (d) => delete pod(d).serviceAccountName],
  ['deprecated-service-account-field', (d) => { delete pod(d).serviceAccountName; pod(d).serviceAccount = 'web'; }],
  ['non-existent-service-account', (d) => (pod(d).serviceAccountName = 'ghost')],
  ['unset-cpu-requirements', (d) => delete ctr(d).resources.limits.cpu],
  ['unset-memory-requirements', (d) => delete ctr(d).resources.requests.memory],
  ['latest-tag', (d) => (ctr(d).image = 'nginx')],
  ['latest-tag', (d) => (ctr(d).image = 'registry.example.com:5000/shop/web:latest')],
  ['image-without-digest', (d) => (ctr(d).image = 'registry.example.com/shop/web:1.4.2')],
  ['env-var-secret', (d) => ctr(d).env.push({ name: 'DB_PASSWORD', value: 'hunter2' })],
  ['read-secret-from-env-var', (d) => ctr(d).env.push({ name: 'DB', valueFrom: { secretKeyRef: { name: 'db', key: 'pw' } } })],
  ['duplicate-env-var', (d) => ctr(d).env.push({ name: 'LOG_LEVEL', value: 'debug' })],
  ['no-liveness-probe', (d) => delete ctr(d).livenessProbe],
  ['no-readiness-probe', (d) => delete ctr(d).readinessProbe],
  ['liveness-port', (d) => (ctr(d).livenessProbe.httpGet.port = 'admin')],
  ['readiness-port', (d) => (ctr(d).readinessProbe.httpGet.port = 9090)],
  ['startup-port', (d) => (ctr(d).startupProbe = { tcpSocket: { port: 7000 } })],
  ['invalid-target-ports', (d) => (find(d, 'Service').spec.ports[0].targetPort = 'Not_Valid')],
  ['invalid-container-port-name', (d) => (ctr(d).ports[0].name = 'a-very-long-port-name')],
  ['single-replica', (d) => (find(d, 'Deployment').spec.replicas = 1)],
  ['no-anti-affinity', (d) => delete pod(d).affinity],
  ['mismatching-selector', (d) => (find(d, 'Deployment').spec.selector.matchLabels.app = 'other')],
  ['no-rolling-update-strategy', (d) => (find(d, 'Deployment').spec.strategy = { type: 'Recreate' })],
  ['no-extensions-v1beta', (d) => (find(d, 'Deployment').apiVersion = 'extensions/v1beta1')],
  ['use-namespace', (d) => { for (const x of d) if (x.kind !== 'Namespace') delete x.metadata.namespace; }],
  ['non-isolated-pod', (d) => (find(d, 'NetworkPolicy').spec.podSelector = { matchLabels: { app: 'nothing' } })],
  ['sensitive-workload-placement', (d) => (find(d, 'Deployment').metadata.labels = { 'gatehouse.dev/sensitive': 'true' })],
  ['job-ttl-seconds-after-finished', (d) => d.push({ apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'j', namespace: 'shop' }, spec: { template: { spec: { containers: [] } } } })],
  ['namespace-without-resourcequota', (d) => d.splice(d.indexOf(find(d, 'ResourceQuota')), 1)],
  ['namespace-without-limitrange', (d) => d.splice(d.indexOf(find(d, 'LimitRange')), 1)],
  ['ingress-without-tls', (d) => delete find(d, 'Ingress').spec.tls],
  ['dangling-ingress', (d) => (find(d, 'Ingress').spec.rules[0].http.paths[0].backend.service.name = 'missing')],
  ['secrets-in-configmap', (d) => d.push({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', namespace: 'shop' }, data: { api_token: 'abc123' } })],
  ['secrets-in-configmap', (d) => d.push({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', namespace: 'shop' }, data: { 'id_rsa': '-----BEGIN RSA PRIVATE KEY-----\nxx' } })],
  ['exposed-services', (d) => (find(d, 'Service').spec.type = 'LoadBalancer')],
  ['dangling-service', (d) => (find(d, 'Service').spec.selector = { app: 'nothing' })],
  ['dangling-networkpolicy', (d) => (find(d, 'NetworkPolicy').spec.podSelector = { matchLabels: { app: 'nothing' } })],
  ['dangling-networkpolicypeer-podselector', (d) => (find(d, 'NetworkPolicy').spec.ingress[0].from[0].podSelector = { matchLabels: { app: 'nothing' } })],
  ['dangling-horizontalpodautoscaler', (d) => d.push({ apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', metadata: { name: 'h', namespace: 'shop' }, spec: { scaleTargetRef: { kind: 'Deployment', name: 'nope' } } })],
  ['pdb-max-unavailable', (d) => (find(d, 'PodDisruptionBudget').spec.maxUnavailable = 0)],
  ['pdb-min-available', (d) => { const p = find(d, 'PodDisruptionBudget').spec; delete p.maxUnavailable; p.minAvailable = 3; }],
  ['pdb-unhealthy-pod-eviction-policy', (d) => delete find(d, 'PodDisruptionBudget').spec.unhealthyPodEvictionPolicy],
  ['apiserver-anonymous-auth', (d) => d.push(apiserverPod(goodApiserverArgs.filter((a) => !a.startsWith('--anonymous-auth'))))],
  ['apiserver-encryption-at-rest', (d) => d.push(apiserverPod(goodApiserverArgs.filter((a) => !a.startsWith('--encryption'))))],
  ['apiserver-audit-policy', (d) => d.push(apiserverPod(goodApiserverArgs.filter((a) => !a.startsWith('--audit-log'))))],
  ['apiserver-authorization-always-allow', (d) => d.push(apiserverPod([...goodApiserverArgs.filter((a) => !a.startsWith('--authorization')), '--authorization-mode=AlwaysAllow']))],
  ['apiserver-profiling', (d) => d.push(apiserverPod(goodApiserverArgs.filter((a) => !a.startsWith('--profiling'))))],
  ['encryption-identity-provider', (d) => d.push({ apiVersion: 'apiserver.config.k8s.io/v1', kind: 'EncryptionConfiguration', resources: [{ resources: ['secrets'], providers: [{ identity: {} }, { aescbc: { keys: [] } }] }] })],
  ['audit-policy-logs-nothing', (d) => d.push({ apiVersion: 'audit.k8s.io/v1', kind: 'Policy', rules: [{ level: 'None' }] })],
];

test('the clean workload set passes every default policy, PSS restricted included', async () => {
  const r = await run(cleanDocs());
  assert.deepEqual(r.findings.map((f) => `${f.id} ${f.detail}`), []);
  const rr = await run(cleanDocs(), 'restricted');
  assert.deepEqual(rr.findings.map((f) => f.id), []);
});

for (const [id, mutate] of MUTATIONS) {
  test(`policy ${id} fires on its misconfiguration (${mutate.toString().slice(6, 90)})`, async () => {
    const docs = cleanDocs();
    mutate(docs);
    const r = await run(docs);
    assert.ok(r.findings.some((f) => f.id === id), `expected ${id}, got ${r.findings.map((f) => f.id).join(', ') || 'nothing'}`);
  });
}

test('good kube-apiserver and encryption configuration pass', async () => {
  const docs = cleanDocs();
  docs.push(apiserverPod(goodApiserverArgs));
  docs.push({ apiVersion: 'apiserver.config.k8s.io/v1', kind: 'EncryptionConfiguration', resources: [{ resources: ['secrets'], providers: [{ aescbc: { keys: [] } }, { identity: {} }] }] });
  const r = await run(docs);
  const fromApiserver = r.findings.filter((f) => f.id.startsWith('apiserver-') || f.id.startsWith('encryption-'));
  assert.deepEqual(fromApiserver.map((f) => f.id), []);
});

test('every enabled default policy has at least one mutation that fires it', async () => {
  const { policies } = await selectPolicies({ subjects: subjects() });
  const covered = new Set(MUTATIONS.map(([id]) => id));
  const uncoveredPss = policies.filter((p) => !covered.has(p.id) && !p.id.startsWith('pss-'));
  assert.deepEqual(uncoveredPss.map((p) => p.id), []);
});
