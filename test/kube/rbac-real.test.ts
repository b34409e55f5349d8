/**
 * `rbac analyze` on real RBAC (issue 24 item 4): risks that need several permissions
 * together fire only when all are held, and rows are neither duplicated nor indistinct.
 * Fixtures: test/kube/fixtures/rbac/ — Kubernetes' bootstrap controller roles and Argo CD's
 * install.yaml (sources and commits in each file's header).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { loadManifests, parseManifests } from '../../src/kube/manifests.js';
import { analyzeRbac } from '../../src/kube/rbac/analyze.js';
import { loadRbacRisks } from '../../src/kube/rbac/risks.js';

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/rbac/${name}`, import.meta.url));
const load = async (name: string) => {
  const { objects, notes } = await loadManifests([fixture(name)]);
  assert.deepEqual(notes.filter((n) => n.level === 'error'), []);
  return objects;
};

test('Kubernetes certificate-controller: one CSR-approval finding, completed by its approve-on-signers rule', async () => {
  const { findings, notes } = analyzeRbac(await load('k8s-controller-roles.yaml'), await loadRbacRisks());
  assert.deepEqual(notes, []);
  const csr = findings.filter((f) => f.id === 'rbac-csr-approval');
  assert.equal(csr.length, 1, csr.map((f) => f.data!.path).join('\n'));
  assert.equal(csr[0]!.data!.subject, 'ServiceAccount kube-system/certificate-controller');
  assert.match(String(csr[0]!.data!.path), /rules\[1\] update certificatesigningrequests\/approval,certificatesigningrequests\/status$/);
  assert.deepEqual(csr[0]!.data!.with, [
    'ClusterRoleBinding system:controller:certificate-controller → ClusterRole system:controller:certificate-controller → rules[2] approve signers (names: kubernetes.io/kube-apiserver-client-kubelet)',
  ]);
  // escalate together with update/patch on clusterroles (one rule) is the escalation path.
  assert.deepEqual(findings.filter((f) => f.id === 'rbac-bind-escalate').map((f) => f.data!.subject), ['ServiceAccount kube-system/clusterrole-aggregation-controller']);
  assert.deepEqual(findings.map((f) => f.id).sort(), ['rbac-bind-escalate', 'rbac-csr-approval']);
});

test('Argo CD install.yaml: namespace-less RoleBindings are in the install namespace, one subject each, distinct rows', async () => {
  const objects = await load('argocd-install-rbac.yaml');
  const risks = await loadRbacRisks();
  const { findings, notes, subjects } = analyzeRbac(objects, risks);
  assert.deepEqual(notes, ['12 Role/RoleBinding object(s) without metadata.namespace: read in namespace argocd, where the input\'s own bindings place their ServiceAccounts (as after `kubectl apply -n argocd`)']);
  const labels = [...new Set(findings.map((f) => String(f.data!.subject)))].sort();
  assert.equal(subjects, 6);
  assert.deepEqual(labels.filter((l) => !l.startsWith('ServiceAccount argocd/')), [], 'no ServiceAccount outside argocd (no default/X twin)');
  assert.ok(labels.includes('ServiceAccount argocd/argocd-application-controller') && labels.includes('ServiceAccount argocd/argocd-dex-server'));
  // The Role reached through the namespace-less RoleBinding resolves in argocd too.
  assert.ok(findings.some((f) => f.id === 'rbac-secrets-read' && f.data!.path === 'ServiceAccount argocd/argocd-server → RoleBinding argocd/argocd-server → Role argocd/argocd-server → rules[0] create,get,list,watch,update,patch,delete secrets,configmaps'), findings.filter((f) => f.id === 'rbac-secrets-read').map((f) => f.data!.path).join('\n'));
  // Every row says what sets it apart: no two rows share risk, title and location.
  const rows = findings.map((f) => `${f.id} | ${f.title} | ${f.resource.file?.line}`);
  assert.equal(new Set(rows).size, rows.length);
  assert.equal(new Set(findings.map((f) => `${f.id} | ${f.title}`)).size, findings.length);
  const wild = findings.filter((f) => f.id === 'rbac-wildcard' && f.data!.subject === 'ServiceAccount argocd/argocd-application-controller');
  assert.deepEqual(wild.map((f) => f.title), [
    'Wildcard in role rule: ServiceAccount argocd/argocd-application-controller (ClusterRole argocd-application-controller rules[0])',
    'Wildcard in role rule: ServiceAccount argocd/argocd-application-controller (ClusterRole argocd-application-controller rules[1])',
  ]);
  assert.deepEqual(wild.map((f) => f.resource.k8s?.kind), ['ClusterRole', 'ClusterRole'], 'located at the rule, not the binding');
  assert.notEqual(wild[0]!.resource.file!.line, wild[1]!.resource.file!.line);
  // argocd-server may patch '*' (so certificatesigningrequests/approval) but approves no signer:
  // no CSR-approval finding; the application controller's '*' on '*' holds both.
  assert.deepEqual(findings.filter((f) => f.id === 'rbac-csr-approval').map((f) => f.data!.subject), ['ServiceAccount argocd/argocd-application-controller']);
  // Neither holds bind or escalate except through the controller's full wildcard.
  assert.deepEqual(findings.filter((f) => f.id === 'rbac-bind-escalate').map((f) => f.data!.subject), ['ServiceAccount argocd/argocd-application-controller']);
});

test('an explicit apply namespace wins over the inferred one (kubectl apply -n)', async () => {
  const { findings, notes } = analyzeRbac(await load('argocd-install-rbac.yaml'), await loadRbacRisks(), { namespace: 'ops' });
  assert.deepEqual(notes, []);
  const labels = new Set(findings.map((f) => String(f.data!.subject)));
  // Namespace-less RoleBindings now bind ops/X; the ClusterRoleBindings still name argocd/X.
  assert.ok(labels.has('ServiceAccount ops/argocd-dex-server') && labels.has('ServiceAccount argocd/argocd-server'));
  assert.ok(!labels.has('ServiceAccount argocd/argocd-dex-server'));
});

test('cluster-scoped permissions count only through a ClusterRoleBinding', async () => {
  // The same real ClusterRole bound by a RoleBinding: the API server grants its rules only
  // inside the namespace, where CSRs, signers and ClusterRoles do not exist.
  const bound = parseManifests(`apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: { name: approver, namespace: team }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "system:controller:certificate-controller" }
subjects: [ { kind: ServiceAccount, name: approver } ]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: { name: aggregator, namespace: team }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "system:controller:clusterrole-aggregation-controller" }
subjects: [ { kind: ServiceAccount, name: aggregator } ]
`, 'bindings.yaml').objects;
  const { findings } = analyzeRbac([...(await load('k8s-controller-roles.yaml')), ...bound], await loadRbacRisks());
  assert.deepEqual(findings.filter((f) => String(f.data!.subject).startsWith('ServiceAccount team/')).map((f) => f.id), []);
  assert.equal(findings.length, 2, 'the ClusterRoleBindings still give both risks');
});
