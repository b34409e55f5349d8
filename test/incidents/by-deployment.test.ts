/**
 * GET /api/v1/incidents?deployment=ID on both stores: alerts pushed as the sensor pushes them
 * open incidents in the correlator; a Central deployment (a cluster's Deployment, a plain
 * host's container) lists exactly the incidents whose workloads are its own — not those of a
 * workload with a longer name that starts the same, nor another host's. An unknown
 * deployment is a 404.
 */
import assert from 'node:assert/strict';
import { alertEvent } from '../../src/cli/central-push.js';
import { incidentService } from '../../src/central/incidents/service.js';
import { deploymentId } from '../../src/central/live/deployments.js';
import type { Alert } from '../../src/runtime/alerts/alert.js';
import { startTestCentral, storeTest, type TestCentral } from '../helpers/central.js';
import { at, shellAlert, T0, unrelatedA, WEB_POD } from './scenario.js';

async function source(c: TestCentral, id: string, kind: 'cluster' | 'host') {
  const now = new Date(T0).toISOString();
  await c.db().insertInto('sources').values({ id, kind, name: id, config: 'sealed', state: 'up', message: null, first_seen: now, last_seen: now }).execute();
}

async function deployment(c: TestCentral, sourceId: string, kind: string, namespace: string, name: string): Promise<string> {
  const now = new Date(T0).toISOString();
  const id = deploymentId(sourceId, kind, namespace, name);
  await c.db().insertInto('deployments').values({ id, source_id: sourceId, namespace, kind, name, labels: '{}', images: '[]', risk_score: 1, risk: '{}', first_seen: now, last_seen: now, deleted_at: null }).execute();
  return id;
}

/** A plain-host container's alert (no pod). */
function hostAlert(time: string, container: string, image: string): Alert {
  return {
    time, rule: 'Terminal shell in container', priority: 'Notice', source: 'syscall', hostname: 'node-b', output: `${time}: shell`,
    output_fields: { 'evt.type': 'execve', 'proc.name': 'sh', 'proc.pid': 5150, 'proc.ppid': 5100, 'container.id': `${container}00000000`.slice(0, 12), 'container.name': container, 'container.image.repository': image },
    tags: ['T1059'],
  };
}

await storeTest('incidents by deployment: exactly those involving its workload', async (dialect) => {
  const c = await startTestCentral({ dialect, now: () => new Date(T0 + 120_000) });
  try {
    const sensor = await c.token('sensor');
    const push = async (source: Record<string, string>, alerts: Alert[]) => {
      const r = await c.api('POST', '/api/v1/ingest/events', { source: { kind: 'sensor', ...source }, events: alerts.map((a) => alertEvent('sensor', a)) }, sensor);
      assert.equal(r.status, 200, JSON.stringify(r.body));
    };
    await source(c, 'default', 'cluster');
    await source(c, 'node-b', 'host');
    const web = await deployment(c, 'default', 'Deployment', 'shop', 'web');
    const webby = await deployment(c, 'default', 'Deployment', 'shop', 'webby');
    const api = await deployment(c, 'node-b', 'Container', '', 'api');
    const cache = await deployment(c, 'default', 'Deployment', 'shop', 'cache');

    await push({ cluster: 'default', host: 'node-a' }, [shellAlert(at(1)) as unknown as Alert, unrelatedA(at(3)) as unknown as Alert]);
    await push({ host: 'node-b' }, [hostAlert(at(5), 'api', 'registry.local/api')]);
    await incidentService(c.ctx).idle();
    const all = (await c.api('GET', '/api/v1/incidents?limit=100')).body.items as { id: string; workloads: string[] }[];
    const holding = (w: string) => all.filter((i) => i.workloads.some((x) => x.startsWith(w))).map((i) => i.id).sort();
    assert.ok(holding(`k8s:default/shop/Deployment/web/`).length >= 1, JSON.stringify(all.map((i) => i.workloads)));

    const analyst = await c.token('analyst');
    const by = async (id: string) => {
      const r = await c.api('GET', `/api/v1/incidents?deployment=${encodeURIComponent(id)}`, undefined, analyst);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      return (r.body.items as { id: string }[]).map((i) => i.id).sort();
    };
    assert.deepEqual(await by(web), holding('k8s:default/shop/Deployment/web/'), `the pod ${WEB_POD} belongs to Deployment web`);
    assert.deepEqual(await by(cache), holding('k8s:default/shop/Deployment/cache/'));
    assert.notDeepEqual(await by(web), await by(cache));
    assert.deepEqual(await by(webby), [], 'a name that starts the same is another workload');
    assert.deepEqual(await by(api), holding('host:node-b/'));
    assert.equal((await by(api)).length, 1);
    assert.equal((await c.api('GET', '/api/v1/incidents?deployment=nope', undefined, analyst)).status, 404);
  } finally {
    await c.close();
  }
});
