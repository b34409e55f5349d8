/**
 * Identity policies over what really talks: a real Central (SQLite and PostgreSQL) fed the
 * way its inventory is (the store sink and live evaluator make the deployments), images
 * pushed through the ingest API, flows through `POST /api/v1/ingest/events`. The observed
 * edges of `GET /api/v1/network/graph`, with `GET /api/v1/identities` as their sources, go
 * through the one policy engine with the payments example: the signed main-built caller is
 * allowed, the unsigned feature-branch caller is blocked, traffic elsewhere is not judged.
 */
import assert from 'node:assert/strict';
import { LiveEvaluator } from '../../src/central/live/evaluator.js';
import { StoreInventorySink } from '../../src/central/live/sink.js';
import { deploymentId } from '../../src/central/live/deployments.js';
import type { ServiceIdentity } from '../../src/identity/types.js';
import type { ObservedFlow } from '../../src/network/flow.js';
import type { NetworkGraph } from '../../src/network/graph-types.js';
import { compilePolicySet, evaluate } from '../../src/policy/evaluate.js';
import { loadPacks, resolvePackInput } from '../../src/policy/pack.js';
import { graphConnections } from '../../src/subjects/graph-connections.js';
import { subjects } from '../../src/subjects/index.js';
import { startTestCentral, storeTest, type TestCentral } from '../helpers/central.js';

const T0 = '2026-12-07T08:00:00.000Z';
const NOW = new Date('2026-12-07T10:00:00.000Z');
let uid = 0;

/** A Deployment, its ReplicaSet and a running Pod with an address. */
function app(namespace: string, name: string, ip: string, image: string, pod: { serviceAccount?: string; annotations?: Record<string, string>; labels?: Record<string, string> } = {}) {
  const labels = { app: name, ...pod.labels };
  const meta = (kind: string, n: string, extra: Record<string, unknown> = {}) => ({ apiVersion: kind === 'Pod' ? 'v1' : 'apps/v1', kind, metadata: { name: n, namespace, uid: `u${++uid}`, labels, ...extra } });
  const template = { metadata: { labels, ...(pod.annotations ? { annotations: pod.annotations } : {}) }, spec: { ...(pod.serviceAccount ? { serviceAccountName: pod.serviceAccount } : {}), containers: [{ name, image }] } };
  const dep = { ...meta('Deployment', name), spec: { selector: { matchLabels: { app: name } }, template } };
  const rs = { ...meta('ReplicaSet', `${name}-5c6d7`, { ownerReferences: [{ kind: 'Deployment', name, controller: true, apiVersion: 'apps/v1', uid: dep.metadata.uid }] }), spec: dep.spec };
  const p = { ...meta('Pod', `${name}-5c6d7-abcde`, { ownerReferences: [{ kind: 'ReplicaSet', name: rs.metadata.name, controller: true, apiVersion: 'apps/v1', uid: rs.metadata.uid }] }), spec: template.spec, status: { phase: 'Running', podIP: ip, podIPs: [{ ip }] } };
  return [dep, rs, p];
}

async function feed(c: TestCentral, sourceId: string, objects: Record<string, any>[]): Promise<void> {
  const evaluator = new LiveEvaluator(c.db(), c.ctx.policies, () => NOW);
  const sink = new StoreInventorySink(c.db(), evaluator, () => NOW);
  evaluator.track(sourceId);
  for (const o of objects) await sink.upsert({ sourceId, kind: o.kind, uid: o.metadata.uid, namespace: o.metadata.namespace || undefined, name: o.metadata.name, body: o });
  await evaluator.settle();
  evaluator.stop();
}

const flow = (from: { ip: string; pod: string; ns: string }, to: { ip: string; port: number }): ObservedFlow => ({
  protocol: 'TCP', direction: 'egress', firstSeen: T0, lastSeen: '2026-12-07T08:00:05.000Z', connections: 2, observedBy: 'ebpf',
  local: { ip: from.ip, port: 41000, pod: { namespace: from.ns, name: from.pod } }, remote: to,
});

await storeTest('observed edges into payments, judged by the caller\'s service identity through the one policy engine', async (dialect) => {
  const c = await startTestCentral({ dialect, now: () => NOW });
  try {
    const ci = await c.token('ci');
    const push = async (digest: string, ref: string, signature: Record<string, unknown>, findings: unknown[]) => {
      const r = await c.api('POST', '/api/v1/ingest/images', { image: { digest, refs: [ref] }, signature, findings }, ci);
      assert.equal(r.status, 200, JSON.stringify(r.body));
    };
    await push(`sha256:${'a'.repeat(64)}`, 'registry.example/shop/checkout:2', { verified: true, signers: ['release'] }, [{ id: 'CVE-2024-9', kind: 'vulnerability', severity: 'MEDIUM', title: 'x', resource: { image: { ref: 'x' } } }]);
    await push(`sha256:${'b'.repeat(64)}`, 'registry.example/shop/legacy:0.9', { verified: false, message: 'no signature' }, []);
    await push(`sha256:${'c'.repeat(64)}`, 'registry.example/payments/api:5', { verified: true, signers: ['release'] }, []);

    await c.db().insertInto('sources').values({ id: 'cluster-prod', kind: 'cluster', name: 'prod', config: '{}', state: 'up', message: null, first_seen: T0, last_seen: T0 }).execute();
    await feed(c, 'cluster-prod', [
      ...app('shop', 'checkout', '10.244.1.10', 'registry.example/shop/checkout:2', { serviceAccount: 'checkout', annotations: { 'org.opencontainers.image.revision': '9e1d2c3' }, labels: { 'gatehouse.dev/branch': 'main' } }),
      ...app('shop', 'legacy', '10.244.1.11', 'registry.example/shop/legacy:0.9', { labels: { 'gatehouse.dev/branch': 'feature-x' } }),
      ...app('payments', 'api', '10.244.2.10', 'registry.example/payments/api:5', { serviceAccount: 'payments-api' }),
    ]);
    const flows = [
      flow({ ip: '10.244.1.10', pod: 'checkout-5c6d7-abcde', ns: 'shop' }, { ip: '10.244.2.10', port: 8443 }),
      flow({ ip: '10.244.1.11', pod: 'legacy-5c6d7-abcde', ns: 'shop' }, { ip: '10.244.2.10', port: 8443 }),
      flow({ ip: '10.244.1.11', pod: 'legacy-5c6d7-abcde', ns: 'shop' }, { ip: '10.244.1.10', port: 8080 }),
    ];
    const sent = await c.api('POST', '/api/v1/ingest/events', { source: { kind: 'sensor', cluster: 'prod', node: 'n1' }, events: flows.map((data, i) => ({ id: `flow-${i}`, type: 'flow', time: T0, data })) }, await c.token('sensor'));
    assert.deepEqual(sent.body, { stored: 3, duplicates: 0 });

    const analyst = await c.token('analyst');
    const graph = (await c.api('GET', '/api/v1/network/graph?cluster=prod&since=24h', undefined, analyst)).body as NetworkGraph;
    const identities = (await c.api('GET', '/api/v1/identities?cluster=prod&trustDomain=prod.example', undefined, analyst)).body.items as ServiceIdentity[];
    assert.equal(identities.length, 3);

    const reg = subjects();
    const loaded = await loadPacks([resolvePackInput('policies/examples/payments-trusted-callers.yaml')], reg);
    const set = compilePolicySet(loaded.policies, reg, { exceptions: loaded.exceptions });
    const verdicts = new Map<string, { decision: string; violations: string[]; enforcement: string[] }>();
    for (const { connection } of graphConnections(graph, identities, { observedOnly: true })) {
      const v = evaluate({ kind: 'connection', value: connection }, set, { stage: 'runtime' });
      verdicts.set(`${connection.source.workload.name}>${connection.destination.namespace}/${connection.destination.workload}:${connection.destination.port}`, { decision: v.decision, violations: v.violations.map((f) => f.id), enforcement: v.enforcement });
    }
    assert.deepEqual(Object.fromEntries(verdicts), {
      'checkout>payments/api:8443': { decision: 'allow', violations: [], enforcement: [] },
      'legacy>payments/api:8443': { decision: 'deny', violations: ['payments-untrusted-caller'], enforcement: ['block'] },
      'legacy>shop/checkout:8080': { decision: 'allow', violations: [], enforcement: [] },
    });
    const conn = graphConnections(graph, identities).find((g) => g.connection.source.workload.name === 'checkout')!.connection;
    assert.equal(conn.source.spiffeId, 'spiffe://prod.example/ns/shop/sa/checkout');
    assert.equal(conn.destination.spiffeId, 'spiffe://prod.example/ns/payments/sa/payments-api');
    assert.equal(conn.source.id, deploymentId('cluster-prod', 'Deployment', 'shop', 'checkout'));
    assert.equal(conn.source.build.revision, '9e1d2c3');
  } finally {
    await c.close();
  }
});
