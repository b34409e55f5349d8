/**
 * storeEventBatches (a bus fetch: one batch per node, stored together) against the one-alert
 * reference, AlertOwners.deploymentOf: on a stored cluster (Deployments with their
 * ReplicaSets, StatefulSets, DaemonSets, three pods each, evaluated into deployments), every
 * alert about a pod is given the deployment the reference gives it; a pod Central does not
 * know gets none; an id already stored by an earlier batch of the same call is a duplicate.
 */
import assert from 'node:assert/strict';
import type { EventBatch, IngestEvent } from '../../src/central/client/ingest-types.js';
import { AlertOwners } from '../../src/central/live/alert-owner.js';
import { storeEventBatches } from '../../src/central/store/events.js';
import { startTestCentral, storeTest } from '../helpers/central.js';
import { seedCluster } from './seeded-cluster.js';

await storeTest('a fetch of many nodes\' batches: alert owners as AlertOwners finds them, duplicates across batches', async (dialect) => {
  const c = await startTestCentral({ dialect });
  try {
    const { ctx } = c;
    // 20 workloads: Deployments (with ReplicaSets), StatefulSets and a DaemonSet.
    await seedCluster(ctx, 20, 5);
    const pods = (await ctx.db.selectFrom('objects').select(['namespace', 'name']).where('kind', '=', 'Pod').execute()).map((p) => ({ namespace: p.namespace!, name: p.name }));
    assert.equal(pods.length, 60);
    const alert = (id: string, pod: { namespace: string; name: string }): IngestEvent => ({
      id, type: 'alert', time: '2026-12-07T10:00:00Z',
      finding: { id: 'Terminal shell in container', kind: 'runtime', severity: 'HIGH', title: 'shell', resource: { k8s: { kind: 'Pod', namespace: pod.namespace, name: pod.name } } },
    });
    // One batch per node, as a fetch groups them; the last batch repeats the first event's id.
    const batches: EventBatch[] = pods.map((p, i) => ({ source: { kind: 'sensor', cluster: 'prod', host: `node-${i}`, node: `node-${i}` }, events: [alert(`e${i}`, p)] }));
    batches.push({ source: { kind: 'sensor', cluster: 'prod', host: 'node-x' }, events: [alert('e0', pods[1]!), alert('ghost', { namespace: 'team-0', name: 'not-there' })] });
    const results = await ctx.db.transaction().execute((trx) => storeEventBatches(trx, batches, new Date().toISOString()));
    assert.deepEqual(results.slice(0, 60).map((r) => [r.stored, r.duplicates]), pods.map(() => [1, 0]));
    assert.deepEqual([results[60]!.stored, results[60]!.duplicates], [1, 1], 'e0 of the last batch is a duplicate of the first batch\'s');

    const reference = new AlertOwners(ctx.db);
    const stored = new Map((await ctx.db.selectFrom('events').select(['id', 'deployment_id', 'host']).execute()).map((r) => [r.id, r]));
    let owned = 0;
    for (const [i, p] of pods.entries()) {
      const want = await reference.deploymentOf({ cluster: 'prod' }, alert('x', p).finding);
      assert.ok(want, `the reference finds the deployment of ${p.namespace}/${p.name}`);
      assert.equal(stored.get(`e${i}`)!.deployment_id, want, `${p.namespace}/${p.name}`);
      assert.equal(stored.get(`e${i}`)!.host, `node-${i}`, 'each event keeps its own batch\'s host');
      assert.deepEqual(results[i]!.deployments, [want]);
      owned++;
    }
    assert.equal(owned, 60);
    assert.equal(stored.get('ghost')!.deployment_id, null);
    const kinds = new Set((await ctx.db.selectFrom('deployments').select('kind').execute()).map((d) => d.kind));
    assert.deepEqual([...kinds].sort(), ['DaemonSet', 'Deployment', 'StatefulSet'], 'every workload kind was followed');
  } finally {
    await c.close();
  }
});
