/**
 * A cluster source "prod" in a test Central with bench/central/inventory.ts's synthetic
 * workloads stored through the real inventory sink and evaluated once: the set-up of the
 * alert-owner tests (which deployment a pod's alert belongs to).
 */
import { clusterObjects } from '../../bench/central/inventory.js';
import type { CentralContext } from '../../src/central/context.js';
import type { InventoryObject } from '../../src/central/inventory/types.js';
import { LiveEvaluator } from '../../src/central/live/evaluator.js';
import { StoreInventorySink } from '../../src/central/live/sink.js';
import { createSource } from '../../src/central/store/sources.js';

export interface SeededCluster {
  sourceId: string;
  evaluator: LiveEvaluator;
  sink: StoreInventorySink;
  /** The stored objects by kind, as clusterObjects made them. */
  objects: Map<string, InventoryObject[]>;
}

export async function seedCluster(ctx: CentralContext, workloads: number, images: number): Promise<SeededCluster> {
  const source = (await createSource(ctx.db, { kind: 'cluster', name: 'prod', sealedConfig: ctx.secrets.seal('{}') }, new Date().toISOString()))!;
  const evaluator = new LiveEvaluator(ctx.db, ctx.policies, ctx.now, { debounceMs: 3_600_000 });
  const sink = new StoreInventorySink(ctx.db, evaluator, ctx.now);
  const objects = clusterObjects(source.id, workloads, images);
  for (const [kind, list] of objects) await sink.replaceKind(source.id, kind, list);
  await evaluator.settle();
  return { sourceId: source.id, evaluator, sink, objects };
}
