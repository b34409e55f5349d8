/**
 * Alert owners are cached per object version (store/events.ts): a pod moved to another
 * controller (a new resourceVersion) is attributed to its new deployment at the next fetch,
 * as the one-alert reference (AlertOwners.deploymentOf) attributes it — on both stores.
 */
import assert from 'node:assert/strict';
import type { EventBatch, IngestEvent } from '../../src/central/client/ingest-types.js';
import { AlertOwners } from '../../src/central/live/alert-owner.js';
import { storeEventBatches } from '../../src/central/store/events.js';
import { startTestCentral, storeTest } from '../helpers/central.js';
import { seedCluster } from './seeded-cluster.js';

await storeTest('a pod moved to another controller: its next alert goes to the new deployment', async (dialect) => {
  const c = await startTestCentral({ dialect });
  try {
    const { ctx } = c;
    const { sink, objects } = await seedCluster(ctx, 20, 5);
    const owned = (kind: string) => objects.get('Pod')!.filter((p) => (p.body.metadata as { ownerReferences?: { kind: string }[] }).ownerReferences?.[0]?.kind === kind);
    const [pod] = owned('ReplicaSet');
    const other = owned('StatefulSet')[0]!;
    assert.ok(pod && other);
    const alert = (id: string): IngestEvent => ({
      id, type: 'alert', time: '2026-12-07T10:00:00Z',
      finding: { id: 'Terminal shell in container', kind: 'runtime', severity: 'HIGH', title: 'shell', resource: { k8s: { kind: 'Pod', namespace: pod.namespace!, name: pod.name } } },
    });
    const batch = (id: string): EventBatch => ({ source: { kind: 'sensor', cluster: 'prod', host: 'node-1' }, events: [alert(id)] });
    const reference = new AlertOwners(ctx.db);
    const deploymentOf = async (id: string) => (await ctx.db.selectFrom('events').select('deployment_id').where('id', '=', id).executeTakeFirstOrThrow()).deployment_id;

    await storeEventBatches(ctx.db, [batch('before')], new Date().toISOString());
    const first = await reference.deploymentOf({ cluster: 'prod' }, alert('x').finding);
    assert.ok(first);
    assert.equal(await deploymentOf('before'), first);

    // The pod now belongs to the StatefulSet of `other` (a new version of the same object).
    const moved = structuredClone(pod);
    moved.resourceVersion = '2';
    (moved.body.metadata as Record<string, unknown>).resourceVersion = '2';
    (moved.body.metadata as Record<string, unknown>).ownerReferences = (other.body.metadata as Record<string, unknown>).ownerReferences;
    await sink.upsert(moved);
    await storeEventBatches(ctx.db, [batch('after')], new Date().toISOString());
    const second = await reference.deploymentOf({ cluster: 'prod' }, alert('y').finding);
    assert.ok(second && second !== first, 'the reference sees the move');
    assert.equal(await deploymentOf('after'), second);
  } finally {
    await c.close();
  }
});
