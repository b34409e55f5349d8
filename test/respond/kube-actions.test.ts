/**
 * Kubernetes response actions against the real kube-apiserver (test/helpers/kube-cluster.ts;
 * no kubelet or controllers run, so pods stay Pending and nothing reconciles): label and
 * annotate, isolate (the NetworkPolicy exists and selects only the pod), scale to zero (a
 * pod's Deployment through its ReplicaSet, a StatefulSet), delete, cordon — each checked
 * through the API, each idempotent, dry runs changing nothing; policy-triggered actions
 * through the Responder with the cluster action set; the CLI and its one-line errors.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fetch as undiciFetch } from 'undici';
import { clusterActionSet } from '../../src/respond/action-sets.js';
import { clusterResponder } from '../../src/respond/cluster-responder.js';
import { JsonlAuditLog, MemoryAuditLog } from '../../src/respond/audit.js';
import { KubeApi, parseKubeTarget } from '../../src/respond/kube-api.js';
import { kubeCordon } from '../../src/respond/kube-cordon.js';
import { kubeDelete } from '../../src/respond/kube-delete.js';
import { QUARANTINE_LABEL, kubeIsolate, quarantinePolicyName } from '../../src/respond/kube-isolate.js';
import { kubeLabel } from '../../src/respond/kube-label.js';
import { SCALED_FROM, kubeScaleToZero } from '../../src/respond/kube-scale.js';
import { Responder, type Decision } from '../../src/respond/responder.js';
import { runAction } from '../../src/respond/run.js';
import type { KubeTarget, ResponseAction } from '../../src/respond/types.js';
import { isUserError } from '../../src/util/errors.js';
import { runCli } from '../helpers/cli.js';
import { missing } from '../helpers/components.js';
import { createObjects, insecureAgent, kubeBinariesPresent, startCluster, type TestCluster } from '../helpers/kube-cluster.js';
import { judgeFor, judged, packText } from './policy-helper.js';

const NS = 'shop';
const podSpec = { containers: [{ name: 'app', image: 'registry.example/app:1' }] };

describe('Kubernetes response actions (real kube-apiserver)', { skip: missing(kubeBinariesPresent(), 'kube-apiserver and kine (bash .ci/setup.d/66-kube.sh)') }, () => {
  let cluster: TestCluster;
  let api: KubeApi;
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-respond-kube-'));
  const get = async (path: string): Promise<any> => {
    const res = await undiciFetch(`${cluster.server}${path}`, { headers: { authorization: `Bearer ${cluster.adminToken}`, accept: 'application/json' }, dispatcher: insecureAgent() });
    return res.status === 404 ? undefined : res.json();
  };
  const pod = (name: string) => get(`/api/v1/namespaces/${NS}/pods/${name}`);
  const t = (text: string): KubeTarget => ({ ...parseKubeTarget(text), cluster: api.cluster });
  const run = (action: ResponseAction<KubeTarget>, target: string, dryRun = false) => runAction(action, t(target), { trigger: { by: 'test' }, dryRun });

  before(async () => {
    cluster = await startCluster();
    api = KubeApi.connect({ kubeconfig: cluster.kubeconfig });
    await createObjects(cluster, [
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } },
      { apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-1' } },
      { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'api', namespace: NS }, spec: { replicas: 3, selector: { matchLabels: { app: 'api' } }, template: { metadata: { labels: { app: 'api' } }, spec: podSpec } } },
      { apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'db', namespace: NS }, spec: { replicas: 2, serviceName: 'db', selector: { matchLabels: { app: 'db' } }, template: { metadata: { labels: { app: 'db' } }, spec: podSpec } } },
    ]);
    // kube-system is made by the apiserver itself (its system namespaces); wait for it.
    for (let i = 0; i < 100 && !(await get('/api/v1/namespaces/kube-system')); i++) await new Promise((r) => setTimeout(r, 100));
    const deployment = await get(`/apis/apps/v1/namespaces/${NS}/deployments/api`);
    const sts = await get(`/apis/apps/v1/namespaces/${NS}/statefulsets/db`);
    const owner = (o: any, kind: string) => [{ apiVersion: 'apps/v1', kind, name: o.metadata.name, uid: o.metadata.uid, controller: true }];
    await createObjects(cluster, [
      { apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: { name: 'api-5d4c', namespace: NS, ownerReferences: owner(deployment, 'Deployment') }, spec: { replicas: 3, selector: { matchLabels: { app: 'api' } }, template: { metadata: { labels: { app: 'api' } }, spec: podSpec } } },
    ]);
    const rs = await get(`/apis/apps/v1/namespaces/${NS}/replicasets/api-5d4c`);
    await createObjects(cluster, [
      ...['api-5d4c-aaaaa', 'api-5d4c-bbbbb', 'api-5d4c-ccccc'].map((name) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: NS, labels: { app: 'api' }, ownerReferences: owner(rs, 'ReplicaSet') }, spec: podSpec })),
      { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'db-0', namespace: NS, labels: { app: 'db' }, ownerReferences: owner(sts, 'StatefulSet') }, spec: podSpec },
      { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'lone', namespace: NS }, spec: { ...podSpec, nodeName: 'node-1' } },
      { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'coredns-1', namespace: 'kube-system' }, spec: podSpec },
    ]);
  });
  after(async () => {
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('label and annotate a pod; again is already; a dry run changes nothing', async () => {
    const dry = await run(kubeLabel(api, 'label', { quarantine: 'yes' }), 'pod/shop/api-5d4c-aaaaa', true);
    assert.equal(dry.outcome, 'dry-run');
    assert.equal((await pod('api-5d4c-aaaaa')).metadata.labels.quarantine, undefined);
    const r = await run(kubeLabel(api, 'label', { quarantine: 'yes', 'security.example/incident': 'INC-9' }), 'pod/shop/api-5d4c-aaaaa');
    assert.equal(r.outcome, 'done', r.detail);
    const labels = (await pod('api-5d4c-aaaaa')).metadata.labels;
    assert.deepEqual(labels, { app: 'api', quarantine: 'yes', 'security.example/incident': 'INC-9' });
    assert.equal((await run(kubeLabel(api, 'label', { quarantine: 'yes' }), 'pod/shop/api-5d4c-aaaaa')).outcome, 'already');
    const a = await run(kubeLabel(api, 'annotate', { 'gatehouse.dev/note': 'shell seen at 06:00, see INC-9' }), 'pod/shop/api-5d4c-aaaaa');
    assert.equal(a.outcome, 'done');
    assert.equal((await pod('api-5d4c-aaaaa')).metadata.annotations['gatehouse.dev/note'], 'shell seen at 06:00, see INC-9');
    assert.throws(() => kubeLabel(api, 'label', { 'bad key!': 'x' }), /invalid label key "bad key!"/);
    assert.throws(() => kubeLabel(api, 'label', { ok: 'not a valid value' }), /invalid label value/);
  });

  test('isolate: a deny-all NetworkPolicy that selects only the pod; again is already; a dry run makes nothing', async () => {
    const dry = await run(kubeIsolate(api), 'pod/shop/api-5d4c-bbbbb', true);
    assert.equal(dry.outcome, 'dry-run');
    assert.equal(await get(`/apis/networking.k8s.io/v1/namespaces/${NS}/networkpolicies/${quarantinePolicyName('api-5d4c-bbbbb')}`), undefined);
    assert.equal((await pod('api-5d4c-bbbbb')).metadata.labels[QUARANTINE_LABEL], undefined);

    const r = await run(kubeIsolate(api), 'pod/shop/api-5d4c-bbbbb');
    assert.equal(r.outcome, 'done', r.detail);
    const np = await get(`/apis/networking.k8s.io/v1/namespaces/${NS}/networkpolicies/${quarantinePolicyName('api-5d4c-bbbbb')}`);
    assert.ok(np, 'the NetworkPolicy exists');
    assert.deepEqual(np.spec.policyTypes, ['Ingress', 'Egress']);
    assert.equal(np.spec.ingress, undefined, 'no ingress rule: deny all');
    assert.equal(np.spec.egress, undefined, 'no egress rule: deny all');
    const uid = (await pod('api-5d4c-bbbbb')).metadata.uid;
    assert.deepEqual(np.spec.podSelector, { matchLabels: { [QUARANTINE_LABEL]: uid } });
    // The pods its selector selects: exactly the one.
    const selector = Object.entries(np.spec.podSelector.matchLabels).map(([k, v]) => `${k}=${v}`).join(',');
    const selected = await get(`/api/v1/namespaces/${NS}/pods?labelSelector=${encodeURIComponent(selector)}`);
    assert.deepEqual(selected.items.map((p: any) => p.metadata.name), ['api-5d4c-bbbbb']);
    assert.equal((await run(kubeIsolate(api), 'pod/shop/api-5d4c-bbbbb')).outcome, 'already');
    assert.equal((await run(kubeIsolate(api), 'deployment/shop/api')).outcome, 'refused');
  });

  test("scale to zero: a pod's Deployment (through its ReplicaSet) and a StatefulSet; a pod without a controller is refused", async () => {
    const scale = async (kind: string, name: string) => (await get(`/apis/apps/v1/namespaces/${NS}/${kind}/${name}/scale`)).spec.replicas ?? 0; // 0 is omitted
    const dry = await run(kubeScaleToZero(api), 'pod/shop/api-5d4c-ccccc', true);
    assert.equal(dry.outcome, 'dry-run');
    assert.match(dry.detail, /deployment shop\/api .*from 3 replica/);
    assert.equal(await scale('deployments', 'api'), 3);
    const r = await run(kubeScaleToZero(api), 'pod/shop/api-5d4c-ccccc');
    assert.equal(r.outcome, 'done', r.detail);
    assert.equal(await scale('deployments', 'api'), 0);
    assert.equal(await scale('replicasets', 'api-5d4c'), 3, 'the ReplicaSet is left to its Deployment');
    assert.equal((await get(`/apis/apps/v1/namespaces/${NS}/deployments/api`)).metadata.annotations[SCALED_FROM], '3');
    assert.equal((await run(kubeScaleToZero(api), 'deployment/shop/api')).outcome, 'already');
    assert.equal((await run(kubeScaleToZero(api), 'statefulset/shop/db')).outcome, 'done');
    assert.equal(await scale('statefulsets', 'db'), 0);
    assert.equal((await run(kubeScaleToZero(api), 'pod/shop/db-0')).outcome, 'already');
    const lone = await run(kubeScaleToZero(api), 'pod/shop/lone');
    assert.equal(lone.outcome, 'refused');
    assert.match(lone.detail, /no controller/);
  });

  test('delete a pod; again is already; a dry run keeps it', async () => {
    assert.equal((await run(kubeDelete(api), 'pod/shop/api-5d4c-ccccc', true)).outcome, 'dry-run');
    assert.ok(await pod('api-5d4c-ccccc'));
    const r = await run(kubeDelete(api), 'pod/shop/api-5d4c-ccccc');
    assert.equal(r.outcome, 'done', r.detail);
    assert.match(r.detail, /deleted pod shop\/api-5d4c-ccccc/);
    assert.equal(await pod('api-5d4c-ccccc'), undefined);
    assert.equal((await run(kubeDelete(api), 'pod/shop/api-5d4c-ccccc')).outcome, 'already');
  });

  test('cordon a node, directly or as the node of a pod; a dry run leaves it schedulable', async () => {
    assert.equal((await run(kubeCordon(api), 'node/node-1', true)).outcome, 'dry-run');
    assert.notEqual((await get('/api/v1/nodes/node-1')).spec.unschedulable, true);
    const r = await run(kubeCordon(api), 'pod/shop/lone');
    assert.equal(r.outcome, 'done', r.detail);
    assert.equal((await get('/api/v1/nodes/node-1')).spec.unschedulable, true);
    assert.equal((await run(kubeCordon(api), 'node/node-1')).outcome, 'already');
    assert.equal((await run(kubeCordon(api), 'pod/shop/db-0')).outcome, 'refused', 'a pending pod has no node');
  });

  test('policy-triggered label and isolate on a pod alert; kube-system is never touched', async () => {
    const judge = judgeFor(packText([['Shell in pod', ['label', 'isolate']]]));
    const audit = new MemoryAuditLog();
    const r = new Responder({ actions: clusterActionSet(api), clock: () => 0, audit, component: 'central' });
    const ds = r.respondTo(judged(judge, 'Shell in pod', { 'container.id': 'c0ffee', 'k8s.ns.name': NS, 'k8s.pod.name': 'lone' }));
    const results = await Promise.all(ds.map((d) => (d as Extract<Decision, { kind: 'acting' }>).result));
    assert.deepEqual(results.map((x) => [x.action, x.outcome]).sort(), [['isolate', 'done'], ['label', 'done']], JSON.stringify(results));
    const lone = await pod('lone');
    assert.equal(lone.metadata.labels['gatehouse.dev/flagged'], 'true');
    assert.equal(lone.metadata.labels[QUARANTINE_LABEL], lone.metadata.uid);
    assert.ok(await get(`/apis/networking.k8s.io/v1/namespaces/${NS}/networkpolicies/${quarantinePolicyName('lone')}`));
    const sys = r.respondTo(judged(judge, 'Shell in pod', { 'container.id': 'c0ffee2', 'k8s.ns.name': 'kube-system', 'k8s.pod.name': 'coredns-1' }));
    assert.ok(sys.every((d) => d.kind === 'suppressed' && d.reason === 'never-touch'));
    await r.idle();
    assert.equal((await pod('coredns-1') ?? (await get('/api/v1/namespaces/kube-system/pods/coredns-1'))).metadata.labels?.['gatehouse.dev/flagged'], undefined);
    assert.deepEqual(audit.records.filter((x) => x.outcome === 'done').map((x) => x.trigger.by), ['central', 'central']);
  });

  test('an incident goes to the same entry point: scale its pod\'s workload to zero, once per cooldown, audited with the incident', async () => {
    await createObjects(cluster, [
      { apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'cache', namespace: NS }, spec: { replicas: 4, serviceName: 'cache', selector: { matchLabels: { app: 'cache' } }, template: { metadata: { labels: { app: 'cache' } }, spec: podSpec } } },
    ]);
    const sts = await get(`/apis/apps/v1/namespaces/${NS}/statefulsets/cache`);
    await createObjects(cluster, [
      { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'cache-0', namespace: NS, labels: { app: 'cache' }, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'cache', uid: sts.metadata.uid, controller: true }] }, spec: podSpec },
    ]);
    const audit = join(dir, 'central-audit.jsonl');
    let now = 0;
    const r = clusterResponder({ kubeconfig: cluster.kubeconfig, audit, responder: { clock: () => now } });
    const incident = { source: 'incident' as const, name: 'crypto-miner burst', incident: 'INC-42', pod: { namespace: NS, name: 'cache-0' }, policies: [{ id: 'incident-miner', enforcement: ['scale-to-zero' as const] }] };
    for (let i = 0; i < 100; i++) r.respondTo(incident);
    await r.idle();
    assert.equal((await get(`/apis/apps/v1/namespaces/${NS}/statefulsets/cache/scale`)).spec.replicas ?? 0, 0);
    now += 10 * 60_000;
    r.respondTo(incident);
    await r.idle();
    const records = new JsonlAuditLog(audit).read();
    assert.deepEqual(records.map((x) => [x.action, x.outcome, x.trigger.by, x.trigger.incident]), [['scale-to-zero', 'done', 'central', 'INC-42'], ['scale-to-zero', 'already', 'central', 'INC-42']]);
  });

  test('gatehouse respond --cluster: label, dry-run delete; bad KIND/NS/NAME is one line, exit 2', async () => {
    const env = { GATEHOUSE_RESPOND_AUDIT: join(dir, 'audit.jsonl') };
    const k = ['--cluster', '--kubeconfig', cluster.kubeconfig];
    const label = await runCli(['respond', 'label', 'pod/shop/api-5d4c-aaaaa', ...k, '--set', 'team=sec', '--format', 'json'], { env });
    assert.equal(label.code, 0, label.stderr);
    assert.equal(JSON.parse(label.stdout).outcome, 'done');
    assert.equal((await pod('api-5d4c-aaaaa')).metadata.labels.team, 'sec');
    const dry = await runCli(['respond', 'delete', 'pod/shop/api-5d4c-aaaaa', ...k, '--dry-run'], { env });
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /dry run: would delete pod shop\/api-5d4c-aaaaa in cluster gatehouse-test \(its ReplicaSet api-5d4c will replace it\)/);
    assert.ok(await pod('api-5d4c-aaaaa'));
    const iso = await runCli(['respond', 'isolate', 'pod/shop/api-5d4c-aaaaa', ...k], { env });
    assert.equal(iso.code, 0, iso.stderr);
    assert.match(iso.stdout, /done: isolated pod shop\/api-5d4c-aaaaa/);
    for (const [args, pattern] of [
      [['respond', 'label', 'pod/shop', ...k, '--set', 'a=b'], /^gatehouse: "pod\/shop": expected KIND\/NAMESPACE\/NAME/],
      [['respond', 'label', 'gizmo/shop/x', ...k, '--set', 'a=b'], /^gatehouse: "gizmo\/shop\/x": unknown kind "gizmo"/],
      [['respond', 'label', 'pod/Shop_/x', ...k, '--set', 'a=b'], /^gatehouse: "pod\/Shop_\/x": "Shop_" is not a valid namespace name/],
      [['respond', 'label', 'pod/shop/nosuch', ...k, '--set', 'a=b'], /^gatehouse: no Pod shop\/nosuch in cluster /],
      [['respond', 'label', 'pod/shop/lone', ...k], /^gatehouse: no label to set \(give --set key=value\)/],
      [['respond', 'scale-to-zero', 'node/node-1', ...k], /^gatehouse: "node\/node-1": this action applies to Deployment, StatefulSet, ReplicaSet, Pod, not Node/],
      [['respond', 'delete', 'pod/shop/lone'], /^gatehouse: respond delete pod\/shop\/lone: Kubernetes targets need --cluster/],
      [['respond', 'cordon', 'node/node-1', '--cluster', '--kubeconfig', join(dir, 'missing')], /^gatehouse: kubeconfig .*missing does not exist/],
    ] as const) {
      const r = await runCli([...args], { env });
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, pattern);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    }
    assert.throws(() => parseKubeTarget('pod/a/b/c'), (e) => isUserError(e) && /expected KIND\/NAMESPACE\/NAME/.test(e.message));
  });
});
