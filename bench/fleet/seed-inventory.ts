/**
 * The fleet simulator's inventory process: stores the simulated cluster in the store a
 * running Central serves, through the path a cluster watcher's first list takes
 * (StoreInventorySink.replaceKind per kind, into a LiveEvaluator that evaluates every
 * deployment: deploy policies, risk, violations). Central has no route to push a cluster's
 * objects — its watchers pull them from the apiserver — and an apiserver with 89,000
 * objects is more than this machine can give a benchmark, so this is the one part that
 * does not go over Central's API. A separate process, so Central's RSS and CPU are its own.
 *
 *   node --import tsx bench/fleet/seed-inventory.ts '{"database":…,"dataDir":…,"nodes":N,"deployments":D,"seed":S}'
 * Prints one JSON line: {objects, sinkMs, evalMs, deployments, violations}.
 */
import { createCentralContext } from '../../src/central/context.js';
import type { InventoryObject } from '../../src/central/inventory/types.js';
import { LiveEvaluator } from '../../src/central/live/evaluator.js';
import { StoreInventorySink } from '../../src/central/live/sink.js';
import { openStore } from '../../src/central/store/open.js';
import { createSource } from '../../src/central/store/sources.js';
import { clusterObjects } from '../central/inventory.js';
import { clusterName, imageCount, nodeName, nodeOf, podOf, type FleetSize } from './model.js';

export interface SeedInventoryResult { objects: number; sinkMs: number; evalMs: number; deployments: number; violations: number }

const args = JSON.parse(process.argv[2] ?? '{}') as FleetSize & { database: string; dataDir: string };
const store = await openStore({ dataDir: args.dataDir, database: args.database });
try {
  const ctx = await createCentralContext(store, undefined, { dataDir: args.dataDir });
  // A cluster whose apiserver does not answer: Central's watcher of it retries and touches nothing stored.
  const kubeconfig = 'apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "https://127.0.0.1:9"}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\nusers: [{name: u, user: {token: fleet}}]\n';
  const source = await createSource(ctx.db, { kind: 'cluster', name: clusterName(args.seed), sealedConfig: ctx.secrets.seal(JSON.stringify({ kubeconfig })) }, new Date().toISOString());
  if (!source) throw new Error(`cluster ${clusterName(args.seed)} is already in the store: use a fresh database or another --seed`);
  const images = imageCount(args.deployments);
  const byKind = clusterObjects(source.id, args.deployments, images);
  // The fleet's placement: pods on 1,000 nodes (clusterObjects packs them on 60), checked against the model's names.
  const expected = new Map<string, number>();
  for (let i = 0; i < args.deployments; i++) for (let p = 0; p < 3; p++) expected.set(`${podOf(i, p, images).namespace}/${podOf(i, p, images).name}`, nodeOf(args, i, p));
  for (const pod of byKind.get('Pod') ?? []) {
    const node = expected.get(`${pod.namespace}/${pod.name}`);
    if (node === undefined) throw new Error(`pod ${pod.namespace}/${pod.name} is not in the fleet model (bench/fleet/model.ts podOf drifted from bench/central/inventory.ts)`);
    ((pod.body.spec as Record<string, unknown>).nodeName = nodeName(node));
  }
  const nodes: InventoryObject[] = Array.from({ length: args.nodes }, (_, n) => ({
    sourceId: source.id, kind: 'Node', uid: `fleet-node-${args.seed}-${n}`, name: nodeName(n), resourceVersion: '1',
    body: { apiVersion: 'v1', kind: 'Node', metadata: { name: nodeName(n), uid: `fleet-node-${args.seed}-${n}`, labels: { 'kubernetes.io/hostname': nodeName(n), 'topology.kubernetes.io/zone': `zone-${n % 3}` } }, status: { nodeInfo: { kubeletVersion: 'v1.30.4', containerRuntimeVersion: 'containerd://1.7.20', osImage: 'Debian GNU/Linux 12 (bookworm)' } } },
  }));
  byKind.set('Node', nodes);
  const evaluator = new LiveEvaluator(ctx.db, ctx.policies, ctx.now, { debounceMs: 3_600_000, onError: (m) => console.error(m) });
  const sink = new StoreInventorySink(ctx.db, evaluator, ctx.now);
  let objects = 0;
  const t0 = performance.now();
  for (const [kind, list] of byKind) {
    await sink.replaceKind(source.id, kind, list);
    objects += list.length;
  }
  const sinkMs = performance.now() - t0;
  const t1 = performance.now();
  await evaluator.settle();
  const evalMs = performance.now() - t1;
  const count = async (table: 'deployments' | 'violations') => Number((await ctx.db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
  const result: SeedInventoryResult = { objects, sinkMs, evalMs, deployments: await count('deployments'), violations: await count('violations') };
  process.stdout.write(`${JSON.stringify(result)}\n`);
} finally {
  await store.close();
}
