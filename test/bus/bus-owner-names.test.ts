/**
 * Alert owners with names kept between fetches (store/owner-names.ts): over rounds of inventory
 * changes — pods moved to another controller, deleted, re-created under the same name with a
 * new uid and owner, ReplicaSets deleted, names first alerted on before they exist — every
 * stored alert's deployment equals the one-alert reference (AlertOwners.deploymentOf) read
 * right after the fetch, with one NetworkIndex (so one name cache) across all fetches. Both stores.
 */
import assert from 'node:assert/strict';
import type { EventBatch, IngestEvent } from '../../src/central/client/ingest-types.js';
import type { InventoryObject } from '../../src/central/inventory/types.js';
import { AlertOwners } from '../../src/central/live/alert-owner.js';
import { NetworkIndex } from '../../src/central/network/endpoints.js';
import { storeEventBatches } from '../../src/central/store/events.js';
import { startTestCentral, storeTest } from '../helpers/central.js';
import { seedCluster } from './seeded-cluster.js';

type Meta = { name?: string; uid?: string; resourceVersion?: string; ownerReferences?: { kind: string; name: string; controller?: boolean }[] };
const meta = (o: InventoryObject) => o.body.metadata as Meta;

await storeTest('alert owners with names kept between fetches equal the one-alert reference through inventory changes', async (dialect) => {
  const c = await startTestCentral({ dialect });
  try {
    const { ctx } = c;
    const { sourceId, evaluator, sink, objects } = await seedCluster(ctx, 60, 5);
    const pods = new Map(objects.get('Pod')!.map((p) => [p.name, p]));
    const replicaSets = objects.get('ReplicaSet') ?? [];
    const owners = [...new Set([...pods.values()].map((p) => JSON.stringify(meta(p).ownerReferences ?? [])))].map((s) => JSON.parse(s) as Meta['ownerReferences']);
    assert.ok(pods.size > 100 && replicaSets.length > 5 && owners.length > 10);

    let seed = 7;
    const r = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)]!;
    const network = new NetworkIndex();
    const reference = new AlertOwners(ctx.db);
    let n = 0;
    let version = 1;
    const names = [...pods.keys()];
    const unborn = Array.from({ length: 10 }, (_, i) => `late-pod-${i}`);
    let checked = 0;
    let attributed = 0;

    for (let round = 0; round < 8; round++) {
      if (round > 0) {
        for (let k = 0; k < 6; k++) {
          const what = Math.floor(r() * 5);
          const name = pick(names);
          const p = pods.get(name);
          if (what === 0 && p) {
            // Moved to another controller (a new version of the same object).
            const moved = structuredClone(p);
            moved.resourceVersion = String(++version);
            Object.assign(meta(moved), { resourceVersion: moved.resourceVersion, ownerReferences: pick(owners) });
            pods.set(name, moved);
            await sink.upsert(moved);
          } else if (what === 1 && p) {
            pods.delete(name);
            await sink.remove(sourceId, 'Pod', p.uid);
          } else if (what === 2) {
            // Re-created under the same name: a new uid, maybe another owner.
            const base = p ?? objects.get('Pod')!.find((x) => x.name === name)!;
            const again = structuredClone(base);
            again.uid = `${base.uid}-r${++version}`;
            again.resourceVersion = String(version);
            Object.assign(meta(again), { uid: again.uid, resourceVersion: again.resourceVersion, ownerReferences: pick(owners) });
            if (p) await sink.remove(sourceId, 'Pod', p.uid);
            pods.set(name, again);
            await sink.upsert(again);
          } else if (what === 3 && replicaSets.length) {
            const rs = replicaSets.splice(Math.floor(r() * replicaSets.length), 1)[0]!;
            await sink.remove(sourceId, 'ReplicaSet', rs.uid);
          } else {
            // A pod first alerted on while it did not exist.
            const late = unborn.shift();
            if (late) {
              const base = pick(objects.get('Pod')!);
              const born = structuredClone(base);
              born.uid = `born-${late}`;
              born.name = late;
              Object.assign(meta(born), { uid: born.uid, name: late });
              pods.set(late, born);
              names.push(late);
              await sink.upsert(born);
            }
          }
        }
        await evaluator.settle();
      }
      // A fetch: one batch per node, alerts on known, deleted, re-created and not yet existing pods.
      const batches: EventBatch[] = [];
      const asked: { id: string; event: IngestEvent }[] = [];
      for (let node = 0; node < 4; node++) {
        const events: IngestEvent[] = [];
        for (let k = 0; k < 40; k++) {
          const name = r() < 0.1 ? pick([...unborn, 'never-a-pod']) : pick(names);
          const ns = pods.get(name)?.namespace ?? objects.get('Pod')!.find((x) => x.name === name)?.namespace ?? 'team-0';
          const event: IngestEvent = {
            id: `e${n++}`, type: 'alert', time: '2026-12-07T10:00:00Z',
            finding: { id: 'Terminal shell in container', kind: 'runtime', severity: 'HIGH', title: 'shell', resource: { k8s: { kind: 'Pod', namespace: ns, name } } },
          };
          events.push(event);
          asked.push({ id: event.id, event });
        }
        batches.push({ source: { kind: 'sensor', cluster: 'prod', host: `node-${node}` }, events });
      }
      await storeEventBatches(ctx.db, batches, new Date().toISOString(), network);
      const stored = new Map((await ctx.db.selectFrom('events').select(['id', 'deployment_id']).where('id', 'in', asked.map((a) => a.id)).execute()).map((x) => [x.id, x.deployment_id]));
      for (const a of asked) {
        const want = (await reference.deploymentOf({ cluster: 'prod' }, a.event.finding)) ?? null;
        assert.equal(stored.get(a.id), want, `round ${round}, alert on ${a.event.finding!.resource.k8s!.name}`);
        checked++;
        if (want) attributed++;
      }
    }
    assert.ok(checked === 8 * 160 && attributed > checked / 2, `${attributed} of ${checked} alerts attributed`);
  } finally {
    await c.close();
  }
});
