/**
 * Endpoint resolution and graph marks beyond the basic shop (test/central/network-flows.test.ts),
 * through the real HTTP API on SQLite and PostgreSQL:
 * - a flow from a pod deleted before the flow arrived (a container that exited quickly), and
 *   from a pod never stored (its ReplicaSet found from its name), still go to the deployment;
 * - an IP reused by a new pod after the inventory changed resolves to the new owner
 *   (the index follows the objects table incrementally);
 * - a Service selecting two workloads is a `service` node;
 * - plain-host container IPs and names resolve to the host's Container deployments;
 * - mTLS from Linkerd and Istio manifests (incl. a DestinationRule that disables TLS and
 *   skip-ports) and from flows through a mesh proxy;
 * - learning: a workload whose first flow is younger than the window;
 * - retention: edges, edge-hours and flow ids older than theirs are pruned;
 * - the routes are in the OpenAPI document.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { deploymentId } from '../../src/central/live/deployments.js';
import { LiveEvaluator } from '../../src/central/live/evaluator.js';
import { StoreInventorySink } from '../../src/central/live/sink.js';
import type { ObservedFlow } from '../../src/network/flow.js';
import type { GraphEdge, NetworkGraph } from '../../src/network/graph-types.js';
import { DIALECTS, dialectSkip, startTestCentral, type TestCentral } from '../helpers/central.js';

let clock = new Date('2026-12-07T10:00:00.000Z');
const now = () => clock;
let uid = 0;

function workload(ns: string, name: string, ip: string, tpl: { labels?: Record<string, string>; annotations?: Record<string, string> } = {}) {
  const labels = { app: name, ...tpl.labels };
  const spec = { selector: { matchLabels: { app: name } }, template: { metadata: { labels, annotations: tpl.annotations ?? {} }, spec: { containers: [{ name, image: `r.example/${name}:1` }] } } };
  const dep = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace: ns, uid: `u${++uid}` }, spec };
  const rs = { apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: { name: `${name}-aa11`, namespace: ns, uid: `u${++uid}`, ownerReferences: [{ kind: 'Deployment', name, controller: true }] }, spec };
  const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: `${name}-aa11-zz`, namespace: ns, uid: `u${++uid}`, labels: { ...labels, 'pod-template-hash': 'aa11' }, ownerReferences: [{ kind: 'ReplicaSet', name: `${name}-aa11`, controller: true }] }, spec: spec.template.spec, status: { phase: 'Running', podIP: ip } };
  return [dep, rs, pod];
}

const ns = (name: string, labels: Record<string, string> = {}, annotations: Record<string, string> = {}) =>
  ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, uid: `u${++uid}`, labels: { 'kubernetes.io/metadata.name': name, ...labels }, annotations } });

function flow(local: ObservedFlow['local'], remote: ObservedFlow['remote'], extra: Partial<ObservedFlow> = {}): ObservedFlow {
  const t = new Date(clock.getTime() - 60_000).toISOString();
  return { protocol: 'TCP', direction: 'egress', local, remote, firstSeen: t, lastSeen: t, connections: 1, observedBy: 'ebpf', ...extra };
}

class Inventory {
  private readonly evaluator: LiveEvaluator;
  private readonly sink: StoreInventorySink;
  constructor(private readonly c: TestCentral, readonly sourceId: string) {
    this.evaluator = new LiveEvaluator(c.db(), c.ctx.policies, now);
    this.sink = new StoreInventorySink(c.db(), this.evaluator, now);
    this.evaluator.track(sourceId);
  }
  async put(objects: Record<string, any>[], kind?: string): Promise<void> {
    for (const o of objects) {
      const k = kind ?? o.kind;
      const name = k === 'Container' ? String(o.Name).replace(/^\//, '') : o.metadata.name;
      await this.sink.upsert({ sourceId: this.sourceId, kind: k, uid: k === 'Container' ? o.Id : o.metadata.uid, namespace: k === 'Container' ? undefined : o.metadata.namespace, name, body: o });
    }
    await this.evaluator.settle();
  }
  async remove(kind: string, uidOf: string): Promise<void> {
    await this.sink.remove(this.sourceId, kind, uidOf);
    await this.evaluator.settle();
  }
  stop(): void {
    this.evaluator.stop();
  }
}

async function source(c: TestCentral, id: string, kind: 'cluster' | 'host', name: string) {
  await c.db().insertInto('sources').values({ id, kind, name, config: '{}', state: 'up', message: null, first_seen: clock.toISOString(), last_seen: clock.toISOString() }).execute();
}

let seq = 0;
async function send(c: TestCentral, token: string, where: { cluster?: string; host?: string }, flows: ObservedFlow[]) {
  const r = await c.api('POST', '/api/v1/ingest/events', { source: { kind: 'sensor', ...where }, events: flows.map((data) => ({ id: `r${++seq}`, type: 'flow', time: data.firstSeen, data })) }, token);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.stored, flows.length);
}

for (const dialect of DIALECTS) {
  describe(`network endpoint resolution and marks [${dialect}]`, { skip: await dialectSkip(dialect) }, () => {
    test('deleted and unseen pods, reused IPs, multi-workload Services, plain hosts, mTLS, learning', async () => {
      clock = new Date('2026-12-07T10:00:00.000Z');
      const c = await startTestCentral({ dialect, now });
      const inv = new Inventory(c, 'cluster-k');
      const host = new Inventory(c, 'host-h');
      try {
        const sensor = await c.token('sensor');
        const analyst = await c.token('analyst');
        await source(c, 'cluster-k', 'cluster', 'k');
        await source(c, 'host-h', 'host', 'h1');
        const dep = (n: string, space = 'mesh') => deploymentId('cluster-k', 'Deployment', space, n);
        const [web, webRs, webPod] = workload('mesh', 'web', '10.1.0.1');
        const [api, , apiPod] = workload('mesh', 'api', '10.1.0.2');
        const [legacy, legacyRs] = workload('mesh', 'legacy', '10.1.0.3', { annotations: { 'linkerd.io/inject': 'disabled' } });
        const [mail, mailRs, mailPod] = workload('mesh', 'mail', '10.1.0.4', { annotations: { 'config.linkerd.io/skip-inbound-ports': '25' } });
        const [shopA, shopARs, shopAPod] = workload('istio', 'cart', '10.2.0.1');
        const [shopB, shopBRs, shopBPod] = workload('istio', 'pay', '10.2.0.2', { labels: { role: 'pay' } });
        const [shopC, shopCRs, shopCPod] = workload('istio', 'ledger', '10.2.0.3', { labels: { role: 'pay' } });
        const [plain, plainRs, plainPod] = workload('plain', 'batch', '10.3.0.1');
        await inv.put([
          ns('mesh', {}, { 'linkerd.io/inject': 'enabled' }), ns('istio', { 'istio-injection': 'enabled' }), ns('plain'),
          // api's ReplicaSet is not stored (yet): its pod's pod-template-hash leads to the Deployment.
          web!, webRs!, webPod!, api!, apiPod!, legacy!, legacyRs!, mail!, mailRs!, mailPod!,
          shopA!, shopARs!, shopAPod!, shopB!, shopBRs!, shopBPod!, shopC!, shopCRs!, shopCPod!, plain!, plainRs!, plainPod!,
          { apiVersion: 'v1', kind: 'Service', metadata: { name: 'payments', namespace: 'istio', uid: `u${++uid}` }, spec: { selector: { role: 'pay' }, clusterIP: '10.96.1.1', ports: [{ port: 80 }] } },
          { apiVersion: 'v1', kind: 'Service', metadata: { name: 'ledger', namespace: 'istio', uid: `u${++uid}` }, spec: { selector: { app: 'ledger' }, clusterIP: '10.96.1.2', ports: [{ port: 80 }] } },
          { apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: 'ledger-plain', namespace: 'istio', uid: `u${++uid}` }, spec: { host: 'ledger', trafficPolicy: { tls: { mode: 'DISABLE' } } } },
        ]);
        // The web pod goes away before its flows arrive (a quick exit).
        await inv.remove('Pod', webPod!.metadata.uid);

        clock = new Date('2026-12-07T10:05:00.000Z');
        await send(c, sensor, { cluster: 'k' }, [
          flow({ ip: '10.1.0.1', port: 5000, pod: { namespace: 'mesh', name: 'web-aa11-zz' } }, { ip: '10.1.0.2', port: 8080 }),
          // Never stored: its ReplicaSet (web-aa11) is, so the pod name leads to it.
          flow({ ip: '10.1.0.9', port: 5001, pod: { namespace: 'mesh', name: 'web-aa11-q7' } }, { ip: '10.1.0.2', port: 8080 }),
          flow({ ip: '10.1.0.2', port: 5002, pod: { namespace: 'mesh', name: 'api-aa11-zz' } }, { ip: '10.1.0.4', port: 25 }),
          flow({ ip: '10.1.0.2', port: 5003, pod: { namespace: 'mesh', name: 'api-aa11-zz' } }, { ip: '10.1.0.4', port: 587 }),
          flow({ ip: '10.2.0.1', port: 5004, pod: { namespace: 'istio', name: 'cart-aa11-zz' } }, { ip: '10.96.1.1', port: 80 }),
          flow({ ip: '10.2.0.1', port: 5005, pod: { namespace: 'istio', name: 'cart-aa11-zz' } }, { ip: '10.96.1.2', port: 80 }),
          flow({ ip: '10.2.0.1', port: 5006, pod: { namespace: 'istio', name: 'cart-aa11-zz' } }, { ip: '10.2.0.2', port: 8443 }),
          flow({ ip: '10.3.0.1', port: 5007, pod: { namespace: 'plain', name: 'batch-aa11-zz' } }, { ip: '10.2.0.2', port: 8443 }),
          // The proxy made it: mTLS evidence where the manifests cannot tell (an external peer).
          flow({ ip: '10.1.0.2', port: 5008, pod: { namespace: 'mesh', name: 'api-aa11-zz' }, process: { name: 'linkerd2-proxy' } }, { ip: '203.0.113.7', port: 443 }),
          flow({ ip: '10.1.0.2', port: 5009, pod: { namespace: 'mesh', name: 'api-aa11-zz' } }, { ip: '203.0.113.8', port: 443 }),
        ]);
        // A new pod of `legacy` takes the address 10.1.0.1 the web pod left.
        const legacyPod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'legacy-bb22-yy', namespace: 'mesh', uid: `u${++uid}`, labels: { app: 'legacy' }, ownerReferences: [{ kind: 'ReplicaSet', name: 'legacy-aa11', controller: true }] }, spec: {}, status: { phase: 'Running', podIP: '10.1.0.1' } };
        clock = new Date('2026-12-07T10:10:00.000Z');
        await inv.put([legacyPod]);
        await send(c, sensor, { cluster: 'k' }, [flow({ ip: '10.1.0.2', port: 5010, pod: { namespace: 'mesh', name: 'api-aa11-zz' } }, { ip: '10.1.0.1', port: 9000 })]);

        // A plain host: two containers on a bridge network.
        const container = (id: string, name: string, ip: string) => ({ Id: id, Name: `/${name}`, Config: { Image: `r.example/${name}:1`, Labels: {} }, NetworkSettings: { IPAddress: ip, Networks: { bridge: { IPAddress: ip } } } });
        await host.put([container('a'.repeat(64), 'nginx', '172.17.0.2'), container('b'.repeat(64), 'redis', '172.17.0.3')], 'Container');
        await send(c, sensor, { host: 'h1' }, [
          flow({ ip: '172.17.0.2', port: 40000, container: { id: 'a'.repeat(12) } }, { ip: '172.17.0.3', port: 6379 }),
          flow({ ip: '172.17.0.3', port: 6379 }, { ip: '172.17.0.2', port: 40001 }, { direction: 'ingress' }),
        ]);

        clock = new Date('2026-12-07T10:20:00.000Z');
        const g = (await c.api('GET', '/api/v1/network/graph?since=1h', undefined, analyst)).body as NetworkGraph;
        const edge = (from: string, to: string, port: number): GraphEdge => {
          const e = g.edges.find((x) => x.source === from && x.target === to && x.port === port);
          assert.ok(e, `edge ${from} → ${to}:${port} in ${JSON.stringify(g.edges.map((x) => `${x.source}>${x.target}:${x.port}`))}`);
          return e;
        };
        const webApi = edge(dep('web'), dep('api'), 8080);
        assert.equal(webApi.observed?.connections, 2, 'the deleted pod and the never-stored pod both count for web');
        assert.equal(webApi.mtls, 'mtls', 'both in the Linkerd-injected namespace');
        assert.equal(edge(dep('api'), dep('mail'), 25).mtls, 'plaintext', 'mail skips the proxy on inbound 25');
        assert.equal(edge(dep('api'), dep('mail'), 587).mtls, 'mtls');
        assert.equal(edge(dep('api'), dep('legacy'), 9000).mtls, 'plaintext', 'the reused address is legacy now, which opts out of Linkerd');
        const svc = g.nodes.find((n) => n.kind === 'service');
        assert.equal(svc?.label, 'istio/payments', 'a Service selecting two workloads stays a Service');
        assert.equal(edge(dep('cart', 'istio'), svc!.id, 80).mtls, 'unknown', 'the manifests do not say which backend');
        assert.equal(edge(dep('cart', 'istio'), dep('ledger', 'istio'), 80).mtls, 'plaintext', "ledger's Service IP resolves to ledger; its DestinationRule disables TLS");
        assert.equal(edge(dep('cart', 'istio'), dep('pay', 'istio'), 8443).mtls, 'mtls', 'two sidecars: Istio auto mTLS');
        assert.equal(edge(dep('batch', 'plain'), dep('pay', 'istio'), 8443).mtls, 'plaintext', 'no sidecar at the source');
        assert.equal(edge(dep('api'), 'external:203.0.113.7/32', 443).mtls, 'mtls', 'through the proxy');
        assert.equal(edge(dep('api'), 'external:203.0.113.8/32', 443).mtls, 'unknown');

        const nginx = deploymentId('host-h', 'Container', '', 'nginx');
        const redis = deploymentId('host-h', 'Container', '', 'redis');
        const hostEdge = edge(nginx, redis, 6379);
        assert.equal(hostEdge.observed?.connections, 2, 'the same edge seen from both containers');
        assert.equal(hostEdge.allowed, true, 'no NetworkPolicy on a plain host');
        assert.equal(g.nodes.find((n) => n.id === nginx)?.label, 'h1/nginx');

        // Learning: every flow here is younger than the 1 h window.
        assert.equal(g.nodes.find((n) => n.id === dep('web'))?.learning, true);
        clock = new Date('2026-12-07T12:00:00.000Z');
        const later = (await c.api('GET', '/api/v1/network/graph?since=24h', undefined, analyst)).body as NetworkGraph;
        assert.equal(later.nodes.find((n) => n.id === dep('web'))?.learning, undefined, 'out of the window two hours later');
        assert.equal(later.edges.length, g.edges.length);
        const focus = (await c.api('GET', `/api/v1/network/graph?deployment=${dep('api')}&since=24h`, undefined, analyst)).body as NetworkGraph;
        assert.ok(focus.edges.length > 0 && focus.edges.every((e) => e.source === dep('api') || e.target === dep('api')), 'a deployment focus keeps its own edges');
        const nsFocus = (await c.api('GET', '/api/v1/network/graph?namespace=istio&since=24h', undefined, analyst)).body as NetworkGraph;
        assert.deepEqual(new Set(nsFocus.edges.map((e) => e.port)), new Set([80, 8443]));

        // Paging of /network/flows: every edge once.
        const seen: string[] = [];
        let cursor: string | null = null;
        do {
          const page: { status: number; body: { items: { id: string }[]; nextCursor: string | null } } = await c.api('GET', `/api/v1/network/flows?since=24h&limit=3${cursor ? `&cursor=${cursor}` : ''}`, undefined, analyst);
          assert.equal(page.status, 200);
          seen.push(...page.body.items.map((i) => i.id));
          cursor = page.body.nextCursor;
        } while (cursor);
        assert.equal(seen.length, new Set(seen).size);
        assert.equal(seen.length, later.edges.filter((e) => e.observed).length);

        // Retention: a month later, a new flow prunes the edges, hours and ids not seen for 30 (ids: 7) days.
        clock = new Date('2027-01-08T12:00:00.000Z');
        await send(c, sensor, { host: 'h1' }, [flow({ ip: '172.17.0.2', port: 40002, container: { id: 'a'.repeat(12) } }, { ip: '172.17.0.3', port: 6379 })]);
        assert.equal((await c.db().selectFrom('flow_edges').select('edge_key').execute()).length, 1, 'only the new edge is left');
        assert.equal((await c.db().selectFrom('flow_edge_hours').select('edge_key').execute()).length, 1);
        assert.equal((await c.db().selectFrom('flow_ids').select('id').execute()).length, 1);

        const doc = (await c.api('GET', '/api/v1/openapi.json')).body;
        assert.ok(doc.paths['/api/v1/network/graph']?.get && doc.paths['/api/v1/network/flows']?.get, 'both routes in the OpenAPI document');
      } finally {
        inv.stop();
        host.stop();
        await c.close();
      }
    });
  });
}
