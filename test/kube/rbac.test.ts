/** RBAC analysis and who-can over manifests: Kubernetes RBAC matching rules and risk paths. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseManifests } from '../../src/kube/manifests.js';
import { analyzeRbac, whoCan } from '../../src/kube/rbac/analyze.js';
import { ruleAllows } from '../../src/kube/rbac/model.js';
import { loadRbacRisks } from '../../src/kube/rbac/risks.js';
import { runCli } from '../helpers/cli.js';

const MANIFESTS = `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: { name: debugger }
rules:
  - apiGroups: [""]
    resources: [pods, pods/exec, pods/log]
    verbs: [get, list, create]
  - apiGroups: [""]
    resources: [secrets]
    verbs: [get]
    resourceNames: [app-config]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: { name: debug-binding, namespace: shop }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: debugger }
subjects:
  - { kind: ServiceAccount, name: ci }
  - { kind: User, name: alice }
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: { name: deployer, namespace: shop }
rules:
  - apiGroups: [apps]
    resources: [deployments]
    verbs: [create, update]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: { name: deployer, namespace: shop }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: Role, name: deployer }
subjects: [ { kind: ServiceAccount, name: argo, namespace: cd } ]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: { name: aggregate-escalator, labels: { agg: "yes" } }
rules:
  - apiGroups: [rbac.authorization.k8s.io]
    resources: [clusterroles]
    verbs: [escalate, update]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: { name: aggregated }
aggregationRule:
  clusterRoleSelectors: [ { matchLabels: { agg: "yes" } } ]
rules: []
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: { name: ops }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: aggregated }
subjects: [ { kind: Group, name: ops } ]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: { name: anon }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin }
subjects: [ { kind: Group, name: "system:anonymous" } ]
`;
const objects = parseManifests(MANIFESTS, 'rbac.yaml').objects;

test('ruleAllows follows Kubernetes RBAC matching (wildcards, subresources, groups)', () => {
  const r = (verbs: string[], resources: string[], apiGroups: string[] = ['']) => ({ verbs, resources, apiGroups, resourceNames: [], nonResourceURLs: [] });
  assert.equal(ruleAllows(r(['get'], ['pods']), 'get', 'pods', ''), true);
  assert.equal(ruleAllows(r(['get'], ['pods']), 'get', 'pods/exec', ''), false, 'pods does not grant the exec subresource');
  assert.equal(ruleAllows(r(['create'], ['pods/exec']), 'create', 'pods/exec', ''), true);
  assert.equal(ruleAllows(r(['create'], ['*/exec']), 'create', 'pods/exec', ''), true);
  assert.equal(ruleAllows(r(['*'], ['*'], ['*']), 'escalate', 'clusterroles', 'rbac.authorization.k8s.io'), true);
  assert.equal(ruleAllows(r(['create'], ['deployments'], ['apps']), 'create', 'deployments', 'extensions'), false);
  assert.equal(ruleAllows(r(['list'], ['secrets']), 'get', 'secrets', ''), false);
});

test('analyze reports each risk per subject with the subject → binding → role → rule path', async () => {
  const { findings, notes } = analyzeRbac(objects, await loadRbacRisks());
  assert.deepEqual(notes, []);
  const paths = (id: string) => findings.filter((f) => f.id === id).map((f) => f.data!.path).sort();
  assert.deepEqual(paths('rbac-pods-exec').filter((p) => String(p).includes('debugger')), [
    'ServiceAccount shop/ci → RoleBinding shop/debug-binding → ClusterRole debugger → rules[0] get,list,create pods,pods/exec,pods/log',
    'User alice → RoleBinding shop/debug-binding → ClusterRole debugger → rules[0] get,list,create pods,pods/exec,pods/log',
  ]);
  assert.deepEqual(paths('rbac-create-workloads'), ['Group system:anonymous → ClusterRoleBinding anon → ClusterRole cluster-admin → rules[0] * *', 'ServiceAccount cd/argo → RoleBinding shop/deployer → Role shop/deployer → rules[0] create,update deployments']);
  assert.deepEqual(paths('rbac-bind-escalate').filter((p) => String(p).includes('ops')), ['Group ops → ClusterRoleBinding ops → ClusterRole aggregated → rules[0] escalate,update clusterroles']);
  assert.ok(paths('rbac-anonymous-binding').some((p) => String(p).startsWith('Group system:anonymous → ClusterRoleBinding anon')));
  assert.ok(paths('rbac-cluster-admin-binding').length === 1);
  // Named-secret get is still reported (with the names), list/watch would be too.
  assert.ok(paths('rbac-secrets-read').some((p) => String(p).includes('(names: app-config)')));
  const exec = findings.find((f) => f.id === 'rbac-pods-exec' && String(f.data!.path).includes('alice'))!;
  assert.equal(exec.resource.file!.line, 5);
  assert.equal(exec.data!.scope, 'shop');
});

test('who-can honours namespaces, subresources, API groups and resourceNames', () => {
  const subjects = (verb: string, res: string, opts = {}) => [...new Set(whoCan(objects, verb, res, opts).map((a) => a.subject))].sort();
  assert.deepEqual(subjects('create', 'pods/exec', { namespace: 'shop' }), ['Group system:anonymous', 'ServiceAccount shop/ci', 'User alice']);
  assert.deepEqual(subjects('create', 'pods/exec', { namespace: 'other' }), ['Group system:anonymous']);
  assert.deepEqual(subjects('create', 'deployments', { namespace: 'shop' }), ['Group system:anonymous', 'ServiceAccount cd/argo']);
  assert.deepEqual(subjects('create', 'deployments.extensions', { namespace: 'shop' }), ['Group system:anonymous']);
  assert.deepEqual(subjects('get', 'secrets', { namespace: 'shop', name: 'db-password' }), ['Group system:anonymous']);
  assert.deepEqual(subjects('get', 'secrets', { namespace: 'shop', name: 'app-config' }), ['Group system:anonymous', 'ServiceAccount shop/ci', 'User alice']);
  assert.deepEqual(subjects('escalate', 'clusterroles'), ['Group ops', 'Group system:anonymous']);
  assert.deepEqual(subjects('delete', 'pods', { namespace: 'shop' }), ['Group system:anonymous']);
});

test('rbac CLI: analyze gates with --exit-code 1, who-can prints paths', async () => {
  const a = await runCli(['rbac', 'analyze', '-', '--format', 'json', '--severity', 'CRITICAL', '--exit-code', '1'], { input: MANIFESTS });
  assert.equal(a.code, 1, a.stderr);
  const ids = new Set(JSON.parse(a.stdout).findings.map((f: { id: string }) => f.id));
  assert.ok(ids.has('rbac-anonymous-binding') && ids.has('rbac-cluster-admin-binding') && ids.has('rbac-bind-escalate'));
  const w = await runCli(['rbac', 'who-can', 'create', 'pods/exec', '-', '-n', 'shop'], { input: MANIFESTS });
  assert.equal(w.code, 0, w.stderr);
  assert.match(w.stdout, /User alice\s+shop\s+User alice → RoleBinding shop\/debug-binding → ClusterRole debugger → rules\[0\]/);
  const wj = await runCli(['rbac', 'who-can', 'create', 'pods/exec', '-', '-n', 'shop', '--format', 'json'], { input: MANIFESTS });
  assert.ok(JSON.parse(wj.stdout).subjects.some((s: { subject: string }) => s.subject === 'User alice'), wj.stdout);
  const none = await runCli(['rbac', 'analyze', '-', '--exit-code', '1'], { input: 'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: x }\n' });
  assert.equal(none.code, 0);
  // Findings alone do not fail the command unless --exit-code asks.
  const dflt = await runCli(['rbac', 'analyze', '-', '--severity', 'CRITICAL'], { input: MANIFESTS });
  assert.equal(dflt.code, 0, dflt.stderr);
  assert.match(dflt.stdout, /rbac-cluster-admin-binding/);
});
