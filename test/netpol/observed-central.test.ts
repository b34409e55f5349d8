/**
 * POST /api/v1/network/policies/generate end to end, on a real Central (SQLite and
 * PostgreSQL): a cluster's objects written through Central's own inventory sink and live
 * evaluator (the deployments), flows ingested through the ingest API as a sensor sends them
 * (pod IPs resolved by Central), then policies generated from the observation. The policies
 * are loaded back with the workloads and analysed by `netpol analyze`: the connections are
 * exactly the observed ones (worked out by hand below) plus the learning workload kept open;
 * the simulation shows the existing policy's extra port removed; the CLI (`netpol generate
 * --observed --server`) prints the same policies; bad bodies are one-line 400s.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { runCli } from '../helpers/cli.js';
import { startTestCentral, storeTest } from '../helpers/central.js';
import { LiveEvaluator } from '../../src/central/live/evaluator.js';
import { StoreInventorySink } from '../../src/central/live/sink.js';
import { connlistFromPaths } from '../../src/kube/netpol/index.js';
import type { ObservedFlow } from '../../src/network/flow.js';

const NO_CENTRAL_ENV = { GATEHOUSE_SERVER: undefined, GATEHOUSE_TOKEN: undefined, GATEHOUSE_CA: undefined };
const NS = 'shop';
const APPS: { name: string; ip: string; port: number }[] = [
  { name: 'web', ip: '10.1.0.5', port: 8080 },
  { name: 'api', ip: '10.1.0.9', port: 8080 },
  { name: 'db', ip: '10.1.0.12', port: 5432 },
  { name: 'newbie', ip: '10.1.0.20', port: 8080 },
];

function objects(): Record<string, any>[] {
  const out: Record<string, any>[] = [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS, uid: 'ns-shop' } }];
  for (const a of APPS) {
    const labels = { app: a.name };
    const podSpec = { containers: [{ name: a.name, image: `registry.example/${a.name}:1`, ports: [{ containerPort: a.port }] }] };
    out.push({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: a.name, namespace: NS, uid: `d-${a.name}` }, spec: { selector: { matchLabels: labels }, template: { metadata: { labels }, spec: podSpec } } });
    out.push({ apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: { name: `${a.name}-5d8f7c9b4`, namespace: NS, uid: `rs-${a.name}`, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: a.name, uid: `d-${a.name}`, controller: true }] }, spec: { selector: { matchLabels: labels }, template: { metadata: { labels }, spec: podSpec } } });
    out.push({ apiVersion: 'v1', kind: 'Pod', metadata: { name: `${a.name}-5d8f7c9b4-x7k2p`, namespace: NS, uid: `p-${a.name}`, labels, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `${a.name}-5d8f7c9b4`, uid: `rs-${a.name}`, controller: true }] }, spec: podSpec, status: { phase: 'Running', podIP: a.ip, podIPs: [{ ip: a.ip }] } });
  }
  // Today: db takes 5432 and 6000 from api (6000 never used).
  out.push({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'db-in', namespace: NS, uid: 'np-db' }, spec: { podSelector: { matchLabels: { app: 'db' } }, policyTypes: ['Ingress'], ingress: [{ from: [{ podSelector: { matchLabels: { app: 'api' } } }], ports: [{ port: 5432 }, { port: 6000 }] }] } });
  return out;
}

const pod = (name: string) => ({ namespace: NS, name: `${name}-5d8f7c9b4-x7k2p` });
const ipOf = (name: string) => APPS.find((a) => a.name === name)!.ip;

function flows(now: number): ObservedFlow[] {
  const old = new Date(now - 3 * 3_600_000).toISOString();
  const recent = new Date(now - 5 * 60_000).toISOString();
  const last = new Date(now - 60_000).toISOString();
  const f = (name: string, direction: 'egress' | 'ingress', localPort: number, remoteIp: string, remotePort: number, first = old): ObservedFlow => ({
    protocol: 'TCP', direction, local: { ip: ipOf(name), port: localPort, pod: pod(name), process: { name: name } }, remote: { ip: remoteIp, port: remotePort },
    firstSeen: first, lastSeen: last, connections: 4, observedBy: 'ebpf',
  });
  return [
    f('web', 'egress', 41000, ipOf('api'), 8080),
    f('api', 'ingress', 8080, ipOf('web'), 41000),
    f('api', 'egress', 42000, ipOf('db'), 5432),
    f('db', 'ingress', 5432, ipOf('api'), 42000),
    f('api', 'egress', 43000, '93.184.216.34', 443),
    // newbie started talking five minutes ago: inside its baseline window.
    f('newbie', 'egress', 44000, ipOf('web'), 8080, recent),
  ];
}

await storeTest('policies generated from flows ingested into Central allow exactly what was observed; the simulation and the CLI agree', async (dialect) => {
  const c = await startTestCentral({ dialect });
  const work = mkdtempSync(join(tmpdir(), 'gatehouse-observed-central-'));
  let evaluator: LiveEvaluator | undefined;
  try {
    const at = new Date().toISOString();
    await c.db().insertInto('sources').values({ id: 'cluster-prod', kind: 'cluster', name: 'prod', config: '{}', state: 'up', message: null, first_seen: at, last_seen: at }).execute();
    evaluator = new LiveEvaluator(c.db(), c.ctx.policies, c.ctx.now, { debounceMs: 10 });
    const sink = new StoreInventorySink(c.db(), evaluator, c.ctx.now);
    for (const body of objects()) await sink.upsert({ sourceId: 'cluster-prod', kind: body.kind, uid: body.metadata.uid, namespace: body.metadata.namespace, name: body.metadata.name, body });
    for (let i = 0; i < 200; i++) {
      const n = await c.db().selectFrom('deployments').select('id').where('source_id', '=', 'cluster-prod').where('deleted_at', 'is', null).execute();
      if (n.length === APPS.length) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const sensor = await c.token('sensor');
    const analyst = await c.token('analyst');
    const events = flows(Date.now()).map((data, i) => ({ id: `flow-${i}`, type: 'flow', time: data.lastSeen, data }));
    const ing = await c.api('POST', '/api/v1/ingest/events', { source: { kind: 'sensor', cluster: 'prod', node: 'node-1' }, events }, sensor);
    assert.equal(ing.status, 200, JSON.stringify(ing.body));
    assert.equal(ing.body.stored, events.length);

    const r = await c.api('POST', '/api/v1/network/policies/generate', { since: '24h' }, analyst);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.cluster, 'prod');
    assert.deepEqual(r.body.learning, [{ workload: 'shop/newbie[Deployment]', openPolicy: 'gatehouse-learning-newbie-deployment' }]);
    assert.match(r.body.yaml, /# LEARNING: shop\/newbie\[Deployment\] is still in its baseline window/);
    assert.deepEqual(r.body.simulation.cutObserved, []);
    assert.ok(r.body.simulation.removed.some((x: any) => x.src === 'shop/api[Deployment]' && x.dst === 'shop/db[Deployment]' && x.connections === 'TCP 6000'), JSON.stringify(r.body.simulation.removed));
    assert.deepEqual(r.body.unobserved, []);

    // Re-analysed with the workloads: exactly the observed connections, newbie open.
    const workloads = objects().filter((o) => o.kind === 'Namespace' || o.kind === 'Deployment');
    writeFileSync(join(work, 'workloads.yaml'), workloads.map((o) => stringify(o)).join('---\n'));
    writeFileSync(join(work, 'policies.yaml'), r.body.yaml);
    const got = (await connlistFromPaths([join(work, 'workloads.yaml'), join(work, 'policies.yaml')], 'txt')).split('\n').filter(Boolean).sort();
    assert.deepEqual(got, [
      '0.0.0.0-255.255.255.255[External] => shop/newbie[Deployment] : All Connections',
      'shop/api[Deployment] => 93.184.216.34-93.184.216.34[External] : TCP 443',
      'shop/api[Deployment] => shop/db[Deployment] : TCP 5432',
      'shop/newbie[Deployment] => 0.0.0.0-93.184.216.33[External] : All Connections',
      'shop/newbie[Deployment] => 93.184.216.34-93.184.216.34[External] : All Connections',
      'shop/newbie[Deployment] => 93.184.216.35-255.255.255.255[External] : All Connections',
      'shop/newbie[Deployment] => shop/web[Deployment] : TCP 8080',
      'shop/web[Deployment] => shop/api[Deployment] : TCP 8080',
    ]);

    // Enforcing the learning workload too: its open policy goes, its observed edge stays.
    const enf = await c.api('POST', '/api/v1/network/policies/generate', { learning: 'enforce', cluster: 'prod' }, analyst);
    assert.equal(enf.status, 200, JSON.stringify(enf.body));
    assert.ok(!enf.body.policies.some((p: any) => p.metadata.name.startsWith('gatehouse-learning-')));
    assert.deepEqual(enf.body.learning, [{ workload: 'shop/newbie[Deployment]' }]);

    const doc = await c.api('GET', '/api/v1/openapi.json');
    assert.ok(doc.body.paths['/api/v1/network/policies/generate'].post.requestBody, 'documented in the OpenAPI document');

    // Bad bodies: one line each.
    const unknown = await c.api('POST', '/api/v1/network/policies/generate', { since: '24h', sinze: 1 }, analyst);
    assert.equal(unknown.status, 400);
    assert.match(unknown.body.message, /unknown field "sinze"/);
    const badSince = await c.api('POST', '/api/v1/network/policies/generate', { since: 'yesterday' }, analyst);
    assert.equal(badSince.status, 400);
    const noCluster = await c.api('POST', '/api/v1/network/policies/generate', { cluster: 'nope' }, analyst);
    assert.equal(noCluster.status, 404);
    const badIntent = await c.api('POST', '/api/v1/network/policies/generate', { intent: 'connections: [{from: shop/ghost, to: shop/api}]' }, analyst);
    assert.equal(badIntent.status, 400);
    assert.match(badIntent.body.message, /no workload shop\/ghost/);
    const asSensor = await c.api('POST', '/api/v1/network/policies/generate', {}, sensor);
    assert.equal(asSensor.status, 403);

    // The CLI asks Central the same.
    const cli = await runCli(['netpol', 'generate', '--observed', '--since', '24h', '--server', c.url, '--token', analyst, '--format', 'json'], { env: NO_CENTRAL_ENV });
    assert.equal(cli.code, 0, cli.stderr);
    assert.deepEqual(JSON.parse(cli.stdout).policies, r.body.policies);
    assert.match(cli.stderr, /shop\/newbie\[Deployment\] is still in its baseline window/);
    // Manifest intent merged in: an intent file sent along, env inference off.
    const intentFile = join(work, 'intent.yaml');
    writeFileSync(intentFile, 'connections:\n  - {from: shop/db, to: shop/web, ports: ["TCP 9999"]}\n');
    const withIntent = await runCli(['netpol', 'generate', '--observed', '--server', c.url, '--token', analyst, '--intent', intentFile, '--no-env', '--format', 'json'], { env: NO_CENTRAL_ENV });
    assert.equal(withIntent.code, 0, withIntent.stderr);
    const dbPolicy = JSON.parse(withIntent.stdout).policies.find((p: any) => p.metadata.name === 'gatehouse-allow-db-deployment');
    assert.deepEqual(dbPolicy.spec.egress, [{ to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': NS } }, podSelector: { matchLabels: { app: 'web' } } }], ports: [{ protocol: 'TCP', port: 9999 }] }]);
    // Open today (neither end isolated): all but the intended port is removed.
    assert.ok(JSON.parse(withIntent.stdout).simulation.removed.some((x: any) => x.src === 'shop/db[Deployment]' && x.dst === 'shop/web[Deployment]' && x.connections === 'SCTP 1-65535,TCP 1-9998,10000-65535,UDP 1-65535'));
    const sim = await runCli(['netpol', 'generate', '--observed', '--simulate', '--server', c.url, '--token', analyst], { env: NO_CENTRAL_ENV });
    assert.equal(sim.code, 0, sim.stderr);
    assert.match(sim.stdout, /observed connections that would be cut off: 0/);
    assert.match(sim.stdout, /shop\/api\[Deployment\] => shop\/db\[Deployment\] : TCP 6000/);
  } finally {
    evaluator?.stop();
    rmSync(work, { recursive: true, force: true });
    await c.close();
  }
});
