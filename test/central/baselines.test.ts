/**
 * Behavioural baselines kept by Central (src/central/api/baselines.ts, src/central/store/
 * baselines.ts), on SQLite and a real PostgreSQL 15: two sensors' pushes for replicas of one
 * workload on two hosts merge into one baseline; a retried push is not counted twice; the
 * merged window locks it; lock, unlock and accept through the API (and their roles); a
 * deviation seen on two hosts is shown merged and accepting it clears it on both; bad input
 * (malformed push, unknown workload, wrong role) is one line and stores nothing.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startTestCentral, storeTest, type TestCentral } from '../helpers/central.js';
import { runCli } from '../helpers/cli.js';
import { deploymentId } from '../../src/central/live/deployments.js';
import type { BaselineDelta } from '../../src/runtime/baseline/merge.js';
import type { WorkloadIdentity } from '../../src/runtime/baseline/identity.js';

const WL = { id: 'k8s:prod/shop/Deployment/web/nginx', kind: 'Deployment' as const, namespace: 'shop', name: 'web', container: 'nginx', cluster: 'prod' };
const enc = encodeURIComponent(WL.id);
const S = 1_000_000_000n;
const T0 = 1_800_000_000n * S;

function delta(over: Partial<BaselineDelta> = {}): BaselineDelta {
  return {
    workload: WL, epoch: 0, learnMs: 60_000, firstSeenNs: String(T0), lastSeenNs: String(T0 + 10n * S), events: 10, replicas: ['c1'], hist: [[20, 2]],
    items: [{ ch: 'exec', keys: ['/usr/sbin/nginx [-g TEXT(daemon)] parent=container-runtime user=root', '/usr/sbin/nginx parent=container-runtime', '/usr/sbin/nginx', 'class=other'], n: 3 }],
    deviations: [], ...over,
  };
}

const curl = { ch: 'exec' as const, keys: ['/usr/bin/curl [-s URL(http)] parent=/bin/sh user=root', '/usr/bin/curl parent=/bin/sh', '/usr/bin/curl', 'class=network-tool'] };
const dev = (host: string, count: number) => ({ item: `exec:${curl.keys[0]!}`, channel: 'exec' as const, keys: curl.keys, score: count === 1 ? 14 : 12, count, firstSeen: '2027-01-15T08:00:00.000Z', lastSeen: '2027-01-15T08:01:00.000Z', containers: [`${host}-c`] });

async function push(c: TestCentral, host: string, pushId: string, baselines: BaselineDelta[], token?: string) {
  return c.api('POST', '/api/v1/ingest/baselines', { host, pushId, baselines }, token);
}

await storeTest('two hosts\' pushes merge into one baseline; a retry is not counted twice; the merged window locks it', async (dialect) => {
  const c = await startTestCentral({ dialect });
  try {
    const sensor = await c.token('sensor');
    let r = await push(c, 'node-a', 'push-a-0001', [delta()], sensor);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.baselines[0].state, 'learning');
    // node-b: another replica, another item, a later window end (still inside 60 s)
    const other = { ch: 'net' as const, keys: ['tcp out IP:5432 exe=/usr/sbin/nginx', 'tcp out IP:5432', 'tcp'], n: 2 };
    r = await push(c, 'node-b', 'push-b-0001', [delta({ replicas: ['c2'], events: 5, firstSeenNs: String(T0 + 5n * S), lastSeenNs: String(T0 + 30n * S), items: [delta().items[0]!, other] })], sensor);
    assert.equal(r.status, 200);
    // the same push again (a retry after a lost answer): nothing counted twice
    r = await push(c, 'node-b', 'push-b-0001', [delta({ replicas: ['c2'], events: 5, items: [other] })], sensor);
    assert.equal(r.status, 200);
    const merged = r.body.baselines[0].baseline;
    assert.equal(merged.events, 15);
    assert.equal(merged.channels.exec.counts['/usr/sbin/nginx'], 6, 'counts add over hosts');
    assert.equal(merged.channels.exec.distinct['/usr/sbin/nginx'], 1, 'an item both hosts learned is one distinct item');
    assert.equal(merged.channels.net.counts['tcp'], 2);
    assert.deepEqual([...merged.replicas].sort(), ['c1', 'c2']);
    assert.equal(merged.firstSeenNs, String(T0));
    assert.equal(merged.lastSeenNs, String(T0 + 30n * S));

    const list = await c.api('GET', '/api/v1/baselines', undefined, await c.token('analyst'));
    assert.equal(list.status, 200);
    assert.equal(list.body.items.length, 1);
    const row = list.body.items[0];
    assert.equal(row.workload, WL.id);
    assert.deepEqual([row.cluster, row.namespace, row.kind, row.name, row.container, row.state], ['prod', 'shop', 'Deployment', 'web', 'nginx', 'learning']);
    assert.equal(row.observations, 15);
    assert.equal(row.items.exec, 1);
    assert.equal(row.items.net, 1);
    assert.deepEqual(row.hosts, ['node-a', 'node-b']);
    assert.equal(row.learnUntil, new Date(Number(T0 / 1_000_000n) + 60_000).toISOString());

    // node-a's events reach past the merged window (first event T0 on node-a + 60 s): Central locks
    r = await push(c, 'node-a', 'push-a-0002', [delta({ items: [], events: 1, lastSeenNs: String(T0 + 61n * S), hist: [] })], sensor);
    assert.equal(r.body.baselines[0].state, 'locked');
    assert.ok(r.body.baselines[0].baseline.calibration.threshold >= 10);
    // a locked baseline learns nothing from pushes
    r = await push(c, 'node-b', 'push-b-0002', [delta({ items: [{ ...curl, n: 1 }], events: 1 })], sensor);
    assert.equal(r.body.baselines[0].baseline.channels.exec.counts['/usr/bin/curl'], undefined);
    const locked = await c.api('GET', '/api/v1/baselines?state=locked');
    assert.equal(locked.body.items.length, 1);
    assert.equal((await c.api('GET', '/api/v1/baselines?state=learning')).body.items.length, 0);
  } finally {
    await c.close();
  }
});

await storeTest('lock, unlock, accept through the API; deviations per host shown merged; roles', async (dialect) => {
  const c = await startTestCentral({ dialect });
  try {
    const sensor = await c.token('sensor');
    const analyst = await c.token('analyst');
    await push(c, 'node-a', 'push-a-0001', [delta()], sensor);
    assert.equal((await c.api('POST', `/api/v1/baselines/${enc}/lock`, undefined, analyst)).status, 403, 'an analyst reads, never changes');
    assert.equal((await c.api('POST', `/api/v1/baselines/${enc}/lock`, undefined, sensor)).status, 403);
    let r = await c.api('POST', `/api/v1/baselines/${enc}/lock`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.state, 'locked');
    assert.equal(r.body.changed, true);
    assert.equal((await c.api('POST', `/api/v1/baselines/${enc}/lock`)).body.changed, false);
    // both hosts saw curl while locked
    await push(c, 'node-a', 'push-a-0002', [delta({ items: [], events: 1, deviations: [dev('node-a', 1)] })], sensor);
    r = await push(c, 'node-b', 'push-b-0001', [delta({ items: [], events: 1, replicas: ['c2'], deviations: [dev('node-b', 2)] })], sensor);
    assert.equal(r.body.baselines[0].state, 'locked', 'the sensor learns the lifecycle from the answer');
    const show = await c.api('GET', `/api/v1/baselines/${enc}`, undefined, analyst);
    assert.equal(show.status, 200);
    assert.equal(show.body.deviations.length, 1);
    const d = show.body.deviations[0];
    assert.equal(d.count, 3);
    assert.equal(d.score, 14);
    assert.deepEqual(d.hosts, ['node-a', 'node-b']);
    assert.deepEqual(d.replicas.sort(), ['node-a-c', 'node-b-c']);
    assert.equal(show.body.items.exec[0]?.count, 3, JSON.stringify(show.body.items));
    assert.deepEqual(show.body.hosts.map((h: any) => [h.host, h.deviations]), [['node-a', 1], ['node-b', 1]]);
    assert.equal((await c.api('GET', '/api/v1/baselines')).body.items[0].deviations, 1);

    // accept: an unknown item is a 404 naming the deviations; the real one moves into the baseline
    r = await c.api('POST', `/api/v1/baselines/${enc}/accept`, { item: 'exec:/bin/nope' });
    assert.equal(r.status, 404);
    assert.match(r.body.message, /'exec:\/bin\/nope' is not a deviation .*curl/);
    assert.equal((await c.api('POST', `/api/v1/baselines/${enc}/accept`, { item: d.item }, analyst)).status, 403);
    r = await c.api('POST', `/api/v1/baselines/${enc}/accept`, { item: d.item });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body.accepted, [d.item]);
    const after = await c.api('GET', `/api/v1/baselines/${enc}`);
    assert.equal(after.body.deviations.length, 0);
    assert.ok(after.body.items.exec.some((i: any) => i.item === curl.keys[0] && i.count === 3), 'accepted with the summed count');
    // a host that has not adopted the accept yet pushes the deviation again: Central drops it (known now)
    r = await push(c, 'node-b', 'push-b-0002', [delta({ items: [], events: 1, deviations: [dev('node-b', 3)] })], sensor);
    assert.equal((await c.api('GET', `/api/v1/baselines/${enc}`)).body.deviations.length, 0);
    assert.equal(r.body.baselines[0].baseline.channels.exec.counts[curl.keys[0]!], 3);

    // unlock: a new epoch; a push of the old epoch adds counts but not its window bounds
    r = await c.api('POST', `/api/v1/baselines/${enc}/unlock`);
    assert.equal(r.body.state, 'learning');
    r = await push(c, 'node-a', 'push-a-0003', [delta({ epoch: 0, events: 2 })], sensor);
    assert.equal(r.body.baselines[0].epoch, 1);
    assert.equal(r.body.baselines[0].baseline.firstSeenNs, '0', 'a stale window does not start the new one');
    r = await push(c, 'node-a', 'push-a-0004', [delta({ epoch: 1, events: 2, firstSeenNs: String(T0 + 100n * S), lastSeenNs: String(T0 + 101n * S) })], sensor);
    assert.equal(r.body.baselines[0].baseline.firstSeenNs, String(T0 + 100n * S));
    assert.equal(r.body.baselines[0].state, 'learning');
  } finally {
    await c.close();
  }
});

await storeTest('bad input: malformed pushes, unknown workloads and wrong roles store nothing', async (dialect) => {
  const c = await startTestCentral({ dialect });
  try {
    const sensor = await c.token('sensor');
    const analyst = await c.token('analyst');
    const bad: Array<[string, unknown, RegExp]> = [
      ['unknown field', { host: 'h', pushId: 'push-0001', baselines: [delta()], extra: 1 }, /unknown field "extra"/],
      ['bad channel', { host: 'h', pushId: 'push-0001', baselines: [delta({ items: [{ ch: 'nope' as any, keys: ['x'], n: 1 }] })] }, /baselines\/0\/items\/0\/ch/],
      ['bad time', { host: 'h', pushId: 'push-0001', baselines: [delta({ firstSeenNs: 'yesterday' })] }, /firstSeenNs/],
      ['bad id', { host: 'h', pushId: 'push-0001', baselines: [delta({ workload: { ...WL, id: 'web' } })] }, /workload\/id/],
      ['inconsistent deviation', { host: 'h', pushId: 'push-0001', baselines: [delta({ deviations: [{ ...dev('h', 1), item: 'exec:other' }] })] }, /item must be/],
      ['twice', { host: 'h', pushId: 'push-0001', baselines: [delta(), delta()] }, /appears twice/],
      ['not JSON', '{"host":', /./],
    ];
    for (const [what, body, message] of bad) {
      const r = await c.api('POST', '/api/v1/ingest/baselines', body, sensor);
      assert.equal(r.status, 400, `${what}: ${JSON.stringify(r.body)}`);
      assert.match(r.body.message, message, what);
      assert.ok(!r.body.message.includes('\n'), 'one line');
    }
    assert.equal((await push(c, 'h', 'push-0001', [delta()], analyst)).status, 403, 'an analyst cannot push');
    assert.equal((await push(c, 'h', 'push-0001', [delta()], '')).status, 401);
    assert.equal((await c.db().selectFrom('baselines').select('workload').execute()).length, 0, 'nothing stored');
    assert.equal((await c.db().selectFrom('baseline_hosts').select('host').execute()).length, 0);
    for (const path of [`/api/v1/baselines/${enc}`]) {
      const r = await c.api('GET', path);
      assert.equal(r.status, 404);
      assert.match(r.body.message, /no baseline for workload 'k8s:prod\/shop\/Deployment\/web\/nginx'/);
    }
    for (const action of ['lock', 'unlock', 'accept']) {
      const r = await c.api('POST', `/api/v1/baselines/${enc}/${action}`, action === 'accept' ? {} : undefined);
      assert.equal(r.status, 404, action);
    }
    assert.equal((await c.api('GET', '/api/v1/baselines?deployment=nope')).status, 404);
    assert.equal((await c.api('GET', '/api/v1/baselines?state=done')).status, 400);
    assert.equal((await c.api('GET', '/api/v1/baselines', undefined, '')).status, 401);
  } finally {
    await c.close();
  }
});

test('CLI against Central: unknown workload, wrong role, both sources, one line each (exit 2)', async () => {
  const c = await startTestCentral();
  try {
    const sensor = await c.token('sensor');
    assert.equal((await push(c, 'node-a', 'push-a-0001', [delta()], sensor)).status, 200);
    const env = { GATEHOUSE_SERVER: c.url, GATEHOUSE_TOKEN: c.adminToken };
    const unknown = await runCli(['baseline', 'show', 'shop/Deployment/nope/nginx'], { env });
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /404 no baseline for workload 'k8s:default\/shop\/Deployment\/nope\/nginx'/);
    assert.equal(unknown.stderr.trim().split('\n').length, 1);
    const analyst = await runCli(['baseline', 'lock', WL.id], { env: { ...env, GATEHOUSE_TOKEN: await c.token('analyst') } });
    assert.equal(analyst.code, 2);
    assert.match(analyst.stderr, /403 role "analyst" may not do this/);
    assert.equal((await c.api('GET', `/api/v1/baselines/${enc}`)).body.state, 'learning', 'nothing changed');
    const both = await runCli(['baseline', 'list', '--server', c.url, '--baseline-dir', '/tmp'], { env });
    assert.equal(both.code, 2);
    assert.match(both.stderr, /not both/);
    const shown = await runCli(['baseline', 'show', 'prod/shop/Deployment/web/nginx'.replace('prod/', ''), '--cluster', 'prod'], { env });
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /state: +learning/);
    assert.match(shown.stdout, /\/usr\/sbin\/nginx \[-g TEXT\(daemon\)\] parent=container-runtime user=root +3/);
  } finally {
    await c.close();
  }
});

await storeTest('list: ?deployment= maps a Central deployment to its containers\' baselines (cluster and plain host); pages by cursor', async (dialect) => {
  const c = await startTestCentral({ dialect });
  try {
    const now = new Date().toISOString();
    for (const [id, kind] of [['prod', 'cluster'], ['build-1', 'host']] as const) {
      await c.db().insertInto('sources').values({ id, kind, name: id, config: 'sealed', state: 'up', message: null, first_seen: now, last_seen: now }).execute();
    }
    const addDeployment = async (source: string, kind: string, namespace: string, name: string) => {
      const id = deploymentId(source, kind, namespace, name);
      await c.db().insertInto('deployments').values({ id, source_id: source, namespace, kind, name, labels: '{}', images: '[]', risk_score: 1, risk: '{}', first_seen: now, last_seen: now, deleted_at: null }).execute();
      return id;
    };
    const web = await addDeployment('prod', 'Deployment', 'shop', 'web');
    const app = await addDeployment('build-1', 'Container', '', 'app');
    const wl = (id: string, w: Partial<WorkloadIdentity>) => ({ ...delta(), workload: { name: 'x', container: 'x', ...w, id } as any });
    const sensor = await c.token('sensor');
    const r = await push(c, 'node-a', 'push-a-0001', [
      delta(), // k8s:prod/shop/Deployment/web/nginx
      wl('k8s:prod/shop/Deployment/web/sidecar', { ...WL, container: 'sidecar' }),
      wl('k8s:prod/shop/Deployment/webx/nginx', { ...WL, name: 'webx' }),
      wl('k8s:prod/other/Deployment/web/nginx', { ...WL, namespace: 'other' }),
      wl('host:build-1/registry.local/app/app', { kind: 'Container', name: 'app', container: 'app', image: 'registry.local/app', host: 'build-1' }),
      wl('host:build-2/registry.local/app/app', { kind: 'Container', name: 'app', container: 'app', image: 'registry.local/app', host: 'build-2' }),
    ], sensor);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const ids = async (q: string) => (await c.api('GET', `/api/v1/baselines${q}`)).body.items.map((i: any) => i.workload);
    assert.deepEqual(await ids(`?deployment=${encodeURIComponent(web)}`), ['k8s:prod/shop/Deployment/web/nginx', 'k8s:prod/shop/Deployment/web/sidecar']);
    assert.deepEqual(await ids(`?deployment=${encodeURIComponent(app)}`), ['host:build-1/registry.local/app/app']);
    const hostRow = (await c.api('GET', `/api/v1/baselines?deployment=${encodeURIComponent(app)}`)).body.items[0];
    assert.equal(hostRow.host, 'build-1');
    assert.equal(hostRow.cluster, undefined);
    // pages of two, in workload order, nothing twice or missed
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: any = await c.api('GET', `/api/v1/baselines?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      assert.ok(page.body.items.length <= 2);
      seen.push(...page.body.items.map((i: any) => i.workload));
      cursor = page.body.nextCursor;
    } while (cursor);
    assert.equal(seen.length, 6);
    assert.deepEqual(seen, [...seen].sort());
    assert.equal((await c.api('GET', '/api/v1/baselines?cursor=garbage')).status, 400);
  } finally {
    await c.close();
  }
});
