/**
 * The cluster watcher against a real kube-apiserver over kine (test/helpers/kube-cluster.ts):
 * - the first list of every kind reaches the sink as the API serves it (no managedFields,
 *   `from` not `_from`), then creates, modifications and deletes arrive as upserts/removes;
 * - the apiserver stops in the middle of the watch, objects are changed through a second
 *   apiserver over the same kine store while the watcher cannot see them, the first apiserver
 *   comes back on the same port: the watcher reports the outage, resumes (410 Gone → re-list),
 *   and the sink converges, then follows new changes;
 * - a resourceVersion the server no longer has gives 410 Gone;
 * - a kind RBAC forbids is reported through status and skipped; bad kubeconfigs are one line.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fetch as undiciFetch } from 'undici';
import { kubeConfigFrom, watchCluster, type KindEvent } from '../../src/central/inventory/kube-watch.js';
import { watchOnce } from '../../src/central/inventory/kube/watch-once.js';
import { CLUSTER_KINDS } from '../../src/central/inventory/types.js';
import { KIND_RESOURCES } from '../../src/central/inventory/kube/resources.js';
import { isUserError } from '../../src/util/errors.js';
import { missing } from '../helpers/components.js';
import { createObjects, insecureAgent, kubeBinariesPresent, startCluster, type TestCluster } from '../helpers/kube-cluster.js';
import { MemorySink, waitFor } from './inventory-sink.js';

const deployment = (name: string, namespace: string, image: string) => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name, namespace, labels: { app: name } },
  spec: {
    replicas: 1,
    selector: { matchLabels: { app: name } },
    template: { metadata: { labels: { app: name } }, spec: { containers: [{ name, image, securityContext: { privileged: true } }] } },
  },
});

const SEED = [
  { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } },
  deployment('web', 'shop', 'nginx:1.27'),
  deployment('doomed', 'shop', 'busybox:1'),
  { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'shop' }, spec: { type: 'NodePort', selector: { app: 'web' }, ports: [{ port: 80 }] } },
  {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: 'web-in', namespace: 'shop' },
    spec: { podSelector: { matchLabels: { app: 'web' } }, ingress: [{ from: [{ podSelector: { matchLabels: { app: 'api' } } }] }] },
  },
  { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'web', namespace: 'shop' } },
  {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: { name: 'web-admin', namespace: 'shop' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'admin' },
    subjects: [{ kind: 'ServiceAccount', name: 'web', namespace: 'shop' }],
  },
];

/** The kinds a limited user may list and watch (nothing else). */
const NAMESPACE_READER = [
  { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'namespace-reader' }, rules: [{ apiGroups: [''], resources: ['namespaces'], verbs: ['list', 'watch'] }] },
  {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name: 'namespace-reader' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'namespace-reader' },
    subjects: [{ kind: 'User', name: 'limited', apiGroup: 'rbac.authorization.k8s.io' }],
  },
];

describe('cluster inventory watch (real kube-apiserver)', { skip: missing(kubeBinariesPresent(), 'kube-apiserver and kine (bash .ci/setup.d/66-kube.sh)') }, () => {
  let cluster: TestCluster;

  before(async () => {
    cluster = await startCluster([{ name: 'limited' }]);
    await createObjects(cluster, [...SEED, ...NAMESPACE_READER]);
  });
  after(async () => {
    await cluster?.stop();
  });

  /** A JSON call with the admin token, to `server` (default: the cluster's own apiserver). */
  async function api(method: string, path: string, body?: unknown, server = cluster.server): Promise<any> {
    const res = await undiciFetch(`${server}${path}`, {
      method,
      headers: { authorization: `Bearer ${cluster.adminToken}`, accept: 'application/json', 'content-type': method === 'PATCH' ? 'application/merge-patch+json' : 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      dispatcher: insecureAgent(),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status} ${text}`);
    return JSON.parse(text);
  }
  const deployments = '/apis/apps/v1/namespaces/shop/deployments';

  test('lists every kind, then follows creates, modifications and deletes; survives an apiserver restart', async () => {
    const sink = new MemorySink();
    const events: KindEvent[] = [];
    const stop = new AbortController();
    const watch = watchCluster({ sourceId: 'c1', kubeConfig: kubeConfigFrom({ kubeconfigFile: cluster.kubeconfig }), sink, signal: stop.signal, onKindEvent: (e) => events.push(e) });
    let apiserverDown = false;
    const dump = () => JSON.stringify({ deployments: [...sink.named('Deployment').keys()], last: events.slice(-8) });
    try {
      await watch.synced;
      // Optional kinds (Istio's CRDs) are not installed on this cluster: skipped, as expected.
      assert.ok(!events.some((e) => (e.type === 'skipped' && !KIND_RESOURCES[e.kind].optional) || e.type === 'error'), `admin lists every kind: ${JSON.stringify(events.filter((e) => e.type !== 'listed' && e.type !== 'watching'))}`);

      // The first list, as the API serves it.
      assert.ok(sink.named('Namespace').has('shop') && sink.named('Namespace').has('kube-system'));
      const web = sink.named('Deployment').get('shop/web');
      assert.ok(web, dump());
      assert.equal(web.sourceId, 'c1');
      assert.equal(web.uid, (await api('GET', `${deployments}/web`)).metadata.uid);
      assert.equal(web.body.kind, 'Deployment');
      assert.equal(web.body.apiVersion, 'apps/v1');
      assert.equal((web.body as any).spec.template.spec.containers[0].image, 'nginx:1.27');
      assert.equal((web.body as any).metadata.managedFields, undefined, 'managedFields are dropped');
      assert.equal(typeof (web.body as any).metadata.creationTimestamp, 'string', 'timestamps stay JSON strings');
      const netpol = sink.named('NetworkPolicy').get('shop/web-in');
      assert.deepEqual((netpol?.body as any).spec.ingress[0].from, [{ podSelector: { matchLabels: { app: 'api' } } }], 'a peer list stays `from`');
      assert.equal(sink.named('Service').get('shop/web')?.body.spec && (sink.named('Service').get('shop/web')!.body as any).spec.type, 'NodePort');
      assert.ok(sink.named('RoleBinding').has('shop/web-admin'));
      assert.ok(sink.named('ServiceAccount').has('shop/web'));
      assert.ok(sink.named('ClusterRole').has('cluster-admin'), 'bootstrap roles are listed too');
      assert.ok(sink.named('ClusterRoleBinding').has('namespace-reader'));
      await waitFor('every kind watching', () => new Set(events.filter((e) => e.type === 'watching').map((e) => e.kind)).size === CLUSTER_KINDS.filter((k) => !KIND_RESOURCES[k].optional).length, 30_000, dump);
      await waitFor('status up', () => sink.lastStatus?.up === true);

      // Create, modify, delete while watching.
      await createObjects(cluster, [deployment('api', 'shop', 'registry.example.com/api:1')]);
      await waitFor('the new deployment', () => sink.named('Deployment').has('shop/api'), 15_000, dump);
      const before = sink.named('Deployment').get('shop/api')!.resourceVersion;
      await api('PATCH', `${deployments}/api`, { metadata: { labels: { tier: 'backend' } } });
      await waitFor('the modification', () => (sink.named('Deployment').get('shop/api')?.body as any)?.metadata?.labels?.tier === 'backend', 15_000, dump);
      assert.notEqual(sink.named('Deployment').get('shop/api')!.resourceVersion, before);
      await api('DELETE', '/apis/networking.k8s.io/v1/namespaces/shop/networkpolicies/web-in');
      await waitFor('the deletion', () => !sink.named('NetworkPolicy').has('shop/web-in'), 15_000, dump);

      // The apiserver goes away in the middle of the watch.
      const replacesBefore = sink.replaces;
      const eventsBefore = events.length;
      await cluster.stopApiserver();
      apiserverDown = true;
      await waitFor('status down', () => sink.lastStatus?.up === false, 30_000, dump);
      assert.match(sink.lastStatus!.message ?? '', /premature close|ECONNREFUSED|socket hang up/i);
      // Changes the watcher cannot see: through a second apiserver over the same kine store.
      const side = await cluster.sideApiserver();
      try {
        await api('DELETE', `${deployments}/doomed`, undefined, side.server);
        await createObjects({ ...cluster, server: side.server }, [deployment('born-while-down', 'shop', 'busybox:2')]);
        await api('PATCH', '/api/v1/namespaces/shop/services/web', { spec: { type: 'LoadBalancer' } }, side.server);
        // Enough writes that the restarted apiserver's watch cache starts past the watcher's resourceVersion.
        for (let i = 0; i < 3; i++) await api('PATCH', `${deployments}/web`, { metadata: { annotations: { [`touch-${i}`]: 'x' } } }, side.server);
      } finally {
        await side.stop();
      }
      assert.ok(sink.named('Deployment').has('shop/doomed'), 'the watcher could not see the change yet');
      await cluster.startApiserver();
      apiserverDown = false;
      await waitFor('the deletion made while the watcher was cut off', () => !sink.named('Deployment').has('shop/doomed'), 30_000, dump);
      await waitFor('the creation made while the watcher was cut off', () => sink.named('Deployment').has('shop/born-while-down'), 30_000, dump);
      await waitFor('the modification made while the watcher was cut off', () => (sink.named('Service').get('shop/web')?.body as any)?.spec?.type === 'LoadBalancer', 30_000, dump);
      await waitFor('status up again', () => sink.lastStatus?.up === true, 30_000, dump);
      const after = events.slice(eventsBefore);
      assert.ok(after.some((e) => e.type === 'error'), 'the outage was seen as errors');
      // The restarted apiserver's watch cache no longer holds the old resourceVersion: 410 Gone, then a re-list.
      assert.ok(after.some((e) => e.kind === 'Deployment' && e.type === 'gone'), `Deployment resumed through 410 Gone: ${JSON.stringify(after.filter((e) => e.kind === 'Deployment'))}`);
      assert.ok(sink.replaces > replacesBefore, 'a re-list replaced what the sink held');

      // And it keeps following changes.
      await createObjects(cluster, [deployment('after-restart', 'shop', 'busybox:3')]);
      await waitFor('a creation after the restart', () => sink.named('Deployment').has('shop/after-restart'), 15_000, dump);
      await api('DELETE', `${deployments}/after-restart`);
      await waitFor('a deletion after the restart', () => !sink.named('Deployment').has('shop/after-restart'), 15_000, dump);
    } finally {
      stop.abort();
      await watch.done;
      if (apiserverDown) await cluster.startApiserver();
    }
  });

  test('a resourceVersion the server no longer has is 410 Gone', async () => {
    const kc = kubeConfigFrom({ kubeconfigFile: cluster.kubeconfig });
    const stop = new AbortController();
    const result = await watchOnce({ kc, path: '/apis/apps/v1/deployments', resourceVersion: '2', signal: stop.signal, timeoutSeconds: 30, onEvent: () => {} });
    assert.equal(result.error, undefined, String(result.error));
    assert.equal(result.gone, true);
  });

  test('a kind RBAC forbids is reported and skipped; the others are watched', async () => {
    const sink = new MemorySink();
    const events: KindEvent[] = [];
    const stop = new AbortController();
    const watch = watchCluster({
      sourceId: 'c2',
      kubeConfig: kubeConfigFrom({ kubeconfigFile: cluster.kubeconfigFor('limited') }),
      sink,
      kinds: ['Namespace', 'Deployment'],
      signal: stop.signal,
      onKindEvent: (e) => events.push(e),
    });
    try {
      await watch.synced;
      assert.ok(sink.named('Namespace').has('shop'));
      assert.equal(sink.named('Deployment').size, 0);
      assert.deepEqual(events.filter((e) => e.type === 'skipped').map((e) => e.kind), ['Deployment']);
      await waitFor('the skip in the status', () => /Deployment: not allowed/.test(sink.lastStatus?.message ?? ''), 15_000, () => JSON.stringify(sink.statuses));
      assert.equal(sink.lastStatus?.up, true, 'a skipped kind is not an outage');
      await api('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'seen-by-limited' } });
      await waitFor('the new namespace', () => sink.named('Namespace').has('seen-by-limited'));
    } finally {
      stop.abort();
      await watch.done;
    }
  });
});

test('kubeConfigFrom: a missing file, an unknown context and no cluster are one-line user errors', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-kc-'));
  try {
    const file = join(dir, 'config');
    writeFileSync(
      file,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:1' } }],
        users: [{ name: 'u', user: { token: 't' } }],
        contexts: [{ name: 'dev', context: { cluster: 'c', user: 'u' } }],
        'current-context': 'dev',
      }),
    );
    const oneLine = (fn: () => unknown, re: RegExp) =>
      assert.throws(fn, (e: unknown) => isUserError(e) && !e.message.includes('\n') && re.test(e.message));
    oneLine(() => kubeConfigFrom({ kubeconfigFile: join(dir, 'nope') }), /kubeconfig .*nope does not exist/);
    oneLine(() => kubeConfigFrom({ kubeconfigFile: file, context: 'prod' }), /context "prod" is not in the kubeconfig \(known: dev\)/);
    assert.equal(kubeConfigFrom({ kubeconfigFile: file, context: 'dev' }).getCurrentCluster()?.server, 'https://127.0.0.1:1');
    const saved = process.env.KUBERNETES_SERVICE_HOST;
    delete process.env.KUBERNETES_SERVICE_HOST;
    try {
      oneLine(() => kubeConfigFrom({ inCluster: true }), /not running inside a Kubernetes pod/);
    } finally {
      if (saved !== undefined) process.env.KUBERNETES_SERVICE_HOST = saved;
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
