/**
 * Observed flows through Central's real HTTP API (POST /api/v1/ingest/events, type `flow`),
 * on SQLite and PostgreSQL: resolution of both ends through the stored inventory (pod IP →
 * ReplicaSet → Deployment, Service ClusterIP → its one workload, the flow's own pod after it
 * was deleted, plain-host container IPs, everything else an external /32 with its DNS name),
 * aggregation into edges, duplicates dropped, malformed flows rejected with nothing stored,
 * and the graph's flags on a small shop.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LiveEvaluator } from '../../src/central/live/evaluator.js';
import { StoreInventorySink } from '../../src/central/live/sink.js';
import { deploymentId } from '../../src/central/live/deployments.js';
import type { ObservedFlow } from '../../src/network/flow.js';
import type { NetworkGraph } from '../../src/network/graph-types.js';
import { DIALECTS, dialectSkip, startTestCentral, type TestCentral } from '../helpers/central.js';

const T0 = '2026-12-07T08:00:00.000Z';
const NOW = new Date('2026-12-07T10:00:00.000Z');

let uidSeq = 0;
const meta = (kind: string, namespace: string, name: string, extra: Record<string, unknown> = {}) =>
  ({ apiVersion: kind === 'Deployment' || kind === 'ReplicaSet' ? 'apps/v1' : kind === 'NetworkPolicy' ? 'networking.k8s.io/v1' : 'v1', kind, metadata: { name, namespace, uid: `uid-${++uidSeq}`, ...extra } });

/** A Deployment, its ReplicaSet and one running Pod with an address. */
function app(namespace: string, name: string, ip: string, port: number) {
  const labels = { app: name };
  const dep = { ...meta('Deployment', namespace, name, { labels }), spec: { selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [{ name, image: `registry.example/${name}:1`, ports: [{ containerPort: port }] }] } } } };
  const rs = { ...meta('ReplicaSet', namespace, `${name}-7d9f8`, { labels, ownerReferences: [{ kind: 'Deployment', name, controller: true, apiVersion: 'apps/v1', uid: dep.metadata.uid }] }), spec: dep.spec };
  const pod = {
    ...meta('Pod', namespace, `${name}-7d9f8-x2x2x`, { labels, ownerReferences: [{ kind: 'ReplicaSet', name: `${name}-7d9f8`, controller: true, apiVersion: 'apps/v1', uid: rs.metadata.uid }] }),
    spec: dep.spec.template.spec, status: { phase: 'Running', podIP: ip, podIPs: [{ ip }] },
  };
  return [dep, rs, pod];
}

const shop = [
  { ...meta('Namespace', '', 'shop'), metadata: { name: 'shop', uid: 'ns-shop', labels: { 'kubernetes.io/metadata.name': 'shop' } } },
  ...app('shop', 'frontend', '10.244.0.10', 8080),
  ...app('shop', 'backend', '10.244.0.11', 9090),
  ...app('shop', 'db', '10.244.0.12', 5432),
  { ...meta('Service', 'shop', 'backend'), spec: { selector: { app: 'backend' }, clusterIP: '10.96.0.20', clusterIPs: ['10.96.0.20'], ports: [{ port: 80, targetPort: 9090 }] } },
  // backend: ingress from frontend on 9090 only; db: ingress from backend on 5432 only.
  { ...meta('NetworkPolicy', 'shop', 'backend-in'), spec: { podSelector: { matchLabels: { app: 'backend' } }, policyTypes: ['Ingress'], ingress: [{ from: [{ podSelector: { matchLabels: { app: 'frontend' } } }], ports: [{ port: 9090 }] }] } },
  { ...meta('NetworkPolicy', 'shop', 'db-in'), spec: { podSelector: { matchLabels: { app: 'db' } }, policyTypes: ['Ingress'], ingress: [{ from: [{ podSelector: { matchLabels: { app: 'backend' } } }], ports: [{ port: 5432, protocol: 'TCP' }] }] } },
];

function flow(p: Partial<ObservedFlow> & Pick<ObservedFlow, 'local' | 'remote'>): ObservedFlow {
  return { protocol: 'TCP', direction: 'egress', firstSeen: T0, lastSeen: '2026-12-07T08:00:10.000Z', connections: 3, observedBy: 'ebpf', ...p };
}

const pod = (name: string) => ({ namespace: 'shop', name });

async function feed(c: TestCentral, sourceId: string, objects: Record<string, any>[]): Promise<void> {
  const evaluator = new LiveEvaluator(c.db(), c.ctx.policies, () => NOW);
  const sink = new StoreInventorySink(c.db(), evaluator, () => NOW);
  evaluator.track(sourceId);
  for (const o of objects) await sink.upsert({ sourceId, kind: o.kind, uid: o.metadata.uid, namespace: o.metadata.namespace || undefined, name: o.metadata.name, body: o });
  await evaluator.settle();
  evaluator.stop();
}

async function addSource(c: TestCentral, id: string, kind: 'cluster' | 'host', name: string): Promise<void> {
  await c.db().insertInto('sources').values({ id, kind, name, config: '{}', state: 'up', message: null, first_seen: T0, last_seen: T0 }).execute();
}

for (const dialect of DIALECTS) {
  describe(`network flows [${dialect}]`, { skip: await dialectSkip(dialect) }, () => {
    test('flows resolve to deployments, Services and external addresses; duplicates are dropped; the graph flags what policies miss', async () => {
      const c = await startTestCentral({ dialect, now: () => NOW });
      try {
        await addSource(c, 'cluster-lab', 'cluster', 'lab');
        await feed(c, 'cluster-lab', shop);
        const dep = (name: string) => deploymentId('cluster-lab', 'Deployment', 'shop', name);
        const deployments = (await c.api('GET', '/api/v1/deployments?limit=50')).body.items as { id: string; name: string }[];
        assert.deepEqual(deployments.map((d) => d.id).sort(), ['frontend', 'backend', 'db'].map(dep).sort(), 'the evaluator made the three deployments');

        const flows = [
          // frontend → the backend Service's ClusterIP: the Service's one workload.
          flow({ local: { ip: '10.244.0.10', port: 40001, pod: pod('frontend-7d9f8-x2x2x') }, remote: { ip: '10.96.0.20', port: 9090 } }),
          // backend → db by pod IP, seen on the backend's node.
          flow({ local: { ip: '10.244.0.11', port: 40002, pod: pod('backend-7d9f8-x2x2x') }, remote: { ip: '10.244.0.12', port: 5432 }, bytes: 1000 }),
          // db accepted it too (the same edge from the other end; counts add up).
          flow({ direction: 'ingress', local: { ip: '10.244.0.12', port: 5432, pod: pod('db-7d9f8-x2x2x') }, remote: { ip: '10.244.0.11', port: 40002 }, connections: 2, bytes: 500 }),
          // frontend → db directly: no policy allows it.
          flow({ local: { ip: '10.244.0.10', port: 40003 }, remote: { ip: '10.244.0.12', port: 5432 } }),
          // frontend → the internet, with the DNS name the sensor saw.
          flow({ local: { ip: '10.244.0.10', port: 40004, pod: pod('frontend-7d9f8-x2x2x') }, remote: { ip: '93.184.216.34', port: 443, dns: 'example.com' } }),
        ];
        const batch = { source: { kind: 'sensor', cluster: 'lab', node: 'n1' }, events: flows.map((data, i) => ({ id: `f${i}`, type: 'flow', time: T0, data })) };
        const first = await c.api('POST', '/api/v1/ingest/events', batch, await c.token('sensor'));
        assert.equal(first.status, 200, JSON.stringify(first.body));
        assert.deepEqual(first.body, { stored: 5, duplicates: 0 });
        const again = await c.api('POST', '/api/v1/ingest/events', batch, await c.token('sensor'));
        assert.deepEqual(again.body, { stored: 0, duplicates: 5 });
        assert.equal((await c.db().selectFrom('events').select('id').execute()).length, 0, 'flows are not rows of the events table');

        const analyst = await c.token('analyst');
        const list = await c.api('GET', '/api/v1/network/flows?since=2026-12-07T00:00:00Z&limit=100', undefined, analyst);
        assert.equal(list.status, 200, JSON.stringify(list.body));
        const edges = new Map<string, any>(list.body.items.map((e: any) => [`${e.source.label}>${e.destination.label}:${e.protocol}/${e.port}`, e]));
        assert.deepEqual([...edges.keys()].sort(), [
          'shop/backend>shop/db:TCP/5432',
          'shop/frontend>example.com:TCP/443',
          'shop/frontend>shop/backend:TCP/9090',
          'shop/frontend>shop/db:TCP/5432',
        ]);
        const bdb = edges.get('shop/backend>shop/db:TCP/5432');
        assert.equal(bdb.source.id, dep('backend'));
        assert.equal(bdb.destination.id, dep('db'));
        assert.equal(bdb.connections, 5, 'both ends of one edge add up (3 + 2), the duplicate batch did not');
        assert.equal(bdb.bytes, 1500);
        const ext = edges.get('shop/frontend>example.com:TCP/443');
        assert.equal(ext.destination.kind, 'external');
        assert.equal(ext.destination.cidr, '93.184.216.34/32');
        assert.equal(ext.destination.dns, 'example.com');

        const graph = await c.api('GET', '/api/v1/network/graph?cluster=lab&since=24h', undefined, analyst);
        assert.equal(graph.status, 200, JSON.stringify(graph.body));
        const g = graph.body as NetworkGraph;
        const byId = new Map(g.edges.map((e) => [`${e.source}>${e.target}:${e.protocol}/${e.port ?? '*'}`, e]));
        assert.equal(byId.get(`${dep('frontend')}>${dep('backend')}:TCP/9090`)?.allowed, true);
        assert.equal(byId.get(`${dep('backend')}>${dep('db')}:TCP/5432`)?.flag, undefined);
        const bad = byId.get(`${dep('frontend')}>${dep('db')}:TCP/5432`);
        assert.equal(bad?.allowed, false);
        assert.equal(bad?.flag, 'observed-not-allowed');
        assert.equal(byId.get(`${dep('frontend')}>external:93.184.216.34/32:TCP/443`)?.allowed, true, 'frontend has no egress policy');
        assert.equal(g.counts.observedNotAllowed, 1);
        // Allowed but never seen: nothing, both policies' grants are used (backend 9090 from frontend, db 5432 from backend).
        assert.equal(g.counts.allowedNotObserved, 0, JSON.stringify(g.edges.filter((e) => e.flag === 'allowed-not-observed')));
        const nodes = new Map(g.nodes.map((n) => [n.id, n]));
        assert.equal(nodes.get(dep('db'))?.label, 'shop/db');
        assert.equal(nodes.get(dep('db'))?.learning, undefined, 'first flow 2 h ago: out of the 1 h window');
        assert.equal(nodes.get('external:93.184.216.34/32')?.dns, 'example.com');

        assert.equal((await c.api('GET', '/api/v1/network/graph', undefined, await c.token('sensor'))).status, 403);
        assert.equal((await c.api('GET', '/api/v1/network/graph?cluster=nope', undefined, analyst)).status, 404);
        assert.equal((await c.api('GET', '/api/v1/network/graph?since=yesterday', undefined, analyst)).status, 400);
      } finally {
        await c.close();
      }
    });

    test('malformed flow events are rejected with one clear line and nothing is stored', async () => {
      const c = await startTestCentral({ dialect, now: () => NOW });
      try {
        const sensor = await c.token('sensor');
        const good = flow({ local: { ip: '10.0.0.1', port: 1 }, remote: { ip: '10.0.0.2', port: 80 } });
        const cases: [string, unknown, RegExp][] = [
          ['unknown field', { ...good, extra: 1 }, /unknown field "extra" in \/events\/1\/data/],
          ['unknown nested field', { ...good, remote: { ...good.remote, zone: 'x' } }, /unknown field "zone" in \/events\/1\/data\/remote/],
          ['missing protocol', { ...good, protocol: undefined }, /must have required property 'protocol'/],
          ['bad port', { ...good, remote: { ip: '10.0.0.2', port: 70000 } }, /port must be <= 65535/],
          ['not an address', { ...good, remote: { ip: '10.0.0.999', port: 80 } }, /remote\.ip "10\.0\.0\.999" is not an IP address/],
          ['time order', { ...good, firstSeen: '2026-12-07T09:00:00Z', lastSeen: '2026-12-07T08:00:00Z' }, /firstSeen .* is after lastSeen/],
          ['no data', undefined, /must have required property 'data'/],
          ['huge dns', { ...good, remote: { ...good.remote, dns: 'a'.repeat(300) } }, /must NOT have more than 253 characters/],
        ];
        for (const [what, data, message] of cases) {
          const ok = { id: `ok-${what}`, type: 'flow', time: T0, data: good };
          const r = await c.api('POST', '/api/v1/ingest/events', { source: { kind: 'sensor', cluster: 'lab' }, events: [ok, { id: `bad-${what}`, type: 'flow', time: T0, data }] }, sensor);
          assert.equal(r.status, 400, `${what}: ${JSON.stringify(r.body)}`);
          assert.match(r.body.message, message, what);
          assert.ok(!r.body.message.includes('\n'), 'one line');
        }
        assert.equal((await c.db().selectFrom('flow_edges').select('edge_key').execute()).length, 0, 'nothing stored');
        assert.equal((await c.db().selectFrom('flow_ids').select('id').execute()).length, 0, 'no id claimed');
      } finally {
        await c.close();
      }
    });
  });
}
