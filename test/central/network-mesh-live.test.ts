/**
 * The network graph's mTLS marks from Istio objects of a live cluster: a real kube-apiserver
 * (test/helpers/kube-cluster.ts) with Istio's PeerAuthentication and DestinationRule CRDs
 * (minimal structural schemas), a sidecar-injected namespace with three workloads behind
 * Services, added to a real Central through the API. Central's live inventory watches the
 * two CRDs, so (through flows pushed to the ingest API and read back from the graph API):
 * - cart → pay is plaintext: pay's PeerAuthentication disables mTLS;
 * - cart → ledger is plaintext: ledger's DestinationRule disables TLS;
 * - cart → orders is mTLS (both sidecars, nothing disables it);
 * - deleting the DestinationRule in the cluster makes cart → ledger mTLS.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { startLiveInventory, type LiveInventory } from '../../src/central/live/job.js';
import { deploymentId } from '../../src/central/live/deployments.js';
import type { ObservedFlow } from '../../src/network/flow.js';
import type { NetworkGraph } from '../../src/network/graph-types.js';
import { missing } from '../helpers/components.js';
import { kubeBinariesPresent, kubeRequest, startCluster, type TestCluster } from '../helpers/kube-cluster.js';
import { startTestCentral, type TestCentral } from '../helpers/central.js';

const crd = (group: string, kind: string, plural: string) => ({
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: `${plural}.${group}` },
  spec: {
    group,
    scope: 'Namespaced',
    names: { plural, singular: kind.toLowerCase(), kind, listKind: `${kind}List` },
    // both versions served, as Istio's CRDs do
    versions: ['v1', 'v1beta1'].map((name) => ({ name, served: true, storage: name === 'v1', schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } })),
  },
});

const quiet = { info: () => undefined, warn: (o: object) => console.error('live:', JSON.stringify(o)) };
const NS = 'shop';

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const skip =
  missing(kubeBinariesPresent(), 'kube-apiserver and kine (built by .ci/setup.d/66-kube.sh)');

describe('mTLS marks from a live cluster\'s Istio objects', { skip, timeout: 300_000 }, () => {
  let cluster: TestCluster;
  let c: TestCentral;
  let live: LiveInventory;
  const ips = new Map<string, string>();

  async function create(path: string, body: Record<string, any>): Promise<any> {
    for (let i = 0; ; i++) {
      const r = await kubeRequest(cluster, 'POST', path, body);
      if (r.status === 201 || r.status === 200) return r.body;
      // a CRD is served a moment after it is created
      if (r.status !== 404 || i > 100) throw new Error(`POST ${path}: HTTP ${r.status} ${JSON.stringify(r.body)}`);
      await new Promise((res) => setTimeout(res, 200));
    }
  }

  /** A Deployment, its ReplicaSet and one pod (owner references with the real uids), and a Service on port 80. */
  async function workload(name: string): Promise<void> {
    const labels = { app: name };
    const template = { metadata: { labels }, spec: { containers: [{ name, image: `registry.example/${name}:1`, ports: [{ containerPort: 8080 }] }] } };
    const dep = await create(`/apis/apps/v1/namespaces/${NS}/deployments`, { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace: NS }, spec: { selector: { matchLabels: labels }, template } });
    const owner = (o: any) => [{ apiVersion: o.apiVersion, kind: o.kind, name: o.metadata.name, uid: o.metadata.uid, controller: true }];
    const rs = await create(`/apis/apps/v1/namespaces/${NS}/replicasets`, {
      apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: { name: `${name}-5d8f`, namespace: NS, ownerReferences: owner(dep) },
      spec: { selector: { matchLabels: { ...labels, 'pod-template-hash': '5d8f' } }, template: { ...template, metadata: { labels: { ...labels, 'pod-template-hash': '5d8f' } } } },
    });
    await create(`/api/v1/namespaces/${NS}/pods`, {
      apiVersion: 'v1', kind: 'Pod', metadata: { name: `${name}-5d8f-x1`, namespace: NS, labels: { ...labels, 'pod-template-hash': '5d8f' }, ownerReferences: owner(rs) }, spec: template.spec,
    });
    const svc = await create(`/api/v1/namespaces/${NS}/services`, { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: NS }, spec: { selector: labels, ports: [{ port: 80, targetPort: 8080 }] } });
    ips.set(name, svc.spec.clusterIP);
  }

  before(async () => {
    cluster = await startCluster();
    for (const d of [crd('security.istio.io', 'PeerAuthentication', 'peerauthentications'), crd('networking.istio.io', 'DestinationRule', 'destinationrules')]) {
      await create('/apis/apiextensions.k8s.io/v1/customresourcedefinitions', d);
    }
    await create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS, labels: { 'istio-injection': 'enabled' } } });
    for (const n of ['cart', 'pay', 'ledger', 'orders']) await workload(n);
    // written as v1 (the storage version): Central lists them as v1beta1, the same objects
    await create(`/apis/security.istio.io/v1/namespaces/${NS}/peerauthentications`, {
      apiVersion: 'security.istio.io/v1', kind: 'PeerAuthentication', metadata: { name: 'pay-plain', namespace: NS },
      spec: { selector: { matchLabels: { app: 'pay' } }, mtls: { mode: 'DISABLE' } },
    });
    await create(`/apis/networking.istio.io/v1/namespaces/${NS}/destinationrules`, {
      apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: 'ledger-plain', namespace: NS },
      spec: { host: 'ledger', trafficPolicy: { tls: { mode: 'DISABLE' } } },
    });
    c = await startTestCentral({ dialect: 'sqlite' });
    live = startLiveInventory(c.ctx, quiet, { debounceMs: 50 });
  });
  after(async () => {
    await live?.stop();
    await c?.close();
    await cluster?.stop();
  });

  test('PeerAuthentication and DestinationRule from the cluster decide the edges\' mTLS, and follow deletions', async () => {
    const added = await c.api('POST', '/api/v1/clusters', { name: 'lab', kubeconfig: readFileSync(cluster.kubeconfig, 'utf8') });
    assert.equal(added.status, 201, JSON.stringify(added.body));
    const sourceId = added.body.id as string;
    await live.sync();
    const stored = async (kind: string) => (await c.db().selectFrom('objects').select('name').where('source_id', '=', sourceId).where('kind', '=', kind).where('deleted_at', 'is', null).execute()).map((r) => r.name);
    await until('the Istio objects and the pods stored', async () => {
      await live.evaluator.settle();
      return (await stored('PeerAuthentication')).includes('pay-plain') && (await stored('DestinationRule')).includes('ledger-plain') && (await stored('Pod')).length === 4 && (await stored('Service')).length >= 4;
    });
    const clusters = await c.api('GET', '/api/v1/clusters');
    assert.doesNotMatch(JSON.stringify(clusters.body), /PeerAuthentication|DestinationRule/, 'served kinds are not reported as skipped');

    const sensor = await c.token('sensor');
    const analyst = await c.token('analyst');
    let seq = 0;
    const push = async () => {
      const t = new Date(Date.now() - 60_000).toISOString();
      const flows: ObservedFlow[] = ['pay', 'ledger', 'orders'].map((to) => ({
        protocol: 'TCP', direction: 'egress', local: { ip: '10.244.0.9', port: 0, pod: { namespace: NS, name: 'cart-5d8f-x1' }, process: { name: 'cart' } },
        remote: { ip: ips.get(to)!, port: 80 }, firstSeen: t, lastSeen: t, connections: 1, observedBy: 'ebpf',
      }));
      const r = await c.api('POST', '/api/v1/ingest/events', { source: { kind: 'sensor', cluster: 'lab' }, events: flows.map((data) => ({ id: `mesh-${++seq}`, type: 'flow', time: data.firstSeen, data })) }, sensor);
      assert.equal(r.status, 200, JSON.stringify(r.body));
    };
    await push();
    const dep = (n: string) => deploymentId(sourceId, 'Deployment', NS, n);
    const marks = async () => {
      const g = (await c.api('GET', `/api/v1/network/graph?cluster=lab&namespace=${NS}&since=24h`, undefined, analyst)).body as NetworkGraph;
      const out: Record<string, string | undefined> = {};
      for (const to of ['pay', 'ledger', 'orders']) out[to] = g.edges.find((e) => e.source === dep('cart') && e.target === dep(to) && e.port === 80)?.mtls;
      return out;
    };
    assert.deepEqual(await marks(), { pay: 'plaintext', ledger: 'plaintext', orders: 'mtls' });

    // The DestinationRule deleted in the cluster: the watch removes it, and the edge is mTLS again.
    const del = await kubeRequest(cluster, 'DELETE', `/apis/networking.istio.io/v1/namespaces/${NS}/destinationrules/ledger-plain`);
    assert.equal(del.status, 200, JSON.stringify(del.body));
    await until('the DestinationRule gone from the store', async () => !(await stored('DestinationRule')).includes('ledger-plain'));
    await push();
    assert.deepEqual(await marks(), { pay: 'plaintext', ledger: 'mtls', orders: 'mtls' });
  });
});
