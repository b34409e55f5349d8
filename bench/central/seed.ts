/**
 * bench:central's setup process: opens the store Central will serve (migrations run), seeds
 * N stored SBOMs (the images helper's bench hook) and times their re-match, then feeds the
 * cluster through the real path — StoreInventorySink.replaceKind per kind, as a watcher's
 * first list does, into a LiveEvaluator — and times the evaluation of every deployment.
 * Then one more full pass, as an image push causes. Prints one JSON line of figures. A separate process, so Central's RSS is its own.
 *
 *   node --import tsx bench/central/seed.ts '{"dataDir":…,"database":…,"deployments":N,"sbomFile":…,"dbPath":…}'
 */
import { readFileSync } from 'node:fs';
import { createCentralContext } from '../../src/central/context.js';
import { seedStoredSboms } from '../../src/central/images/bench-hook.js';
import { openVulnDb } from '../../src/central/images/db-version.js';
import { rematchAll } from '../../src/central/images/rematch.js';
import { LiveEvaluator } from '../../src/central/live/evaluator.js';
import { StoreInventorySink } from '../../src/central/live/sink.js';
import { openStore } from '../../src/central/store/open.js';
import { createSource } from '../../src/central/store/sources.js';
import { clusterObjects } from './inventory.js';

export interface SeedArgs {
  dataDir: string; database?: string; deployments: number; sbomFile: string; dbPath: string;
  /** The next day's DB (fixtures.ts): every image is re-matched against it after the first match. */
  laterDbPath: string;
  /** The re-match stops after this long (its rate is then projected); images left are stale. */
  rematchBudgetMs: number;
  /** Every stored SBOM's package list its own (bench-hook sbomCopy), not 70 lists over the fleet. */
  distinctLists?: boolean;
  /** --skip-rematch: the SBOMs are seeded but not matched (a run that measures ingest, list and detail only). */
  skipRematch?: boolean;
}
export interface RematchFigures { images: number; of: number; ms: number; cpuSeconds: number; vulnerabilities: number; changed: number; failed: number; perSecond: number }
export interface SeedResult {
  /** The first match of every stored SBOM (every finding new). */
  rematch: RematchFigures;
  /** Re-matching them all after a DB update (the goal): every image gains a few findings. */
  update: RematchFigures;
  objects: number; sinkMs: number; evalMs: number; deployments: number; violations: number;
  /** A full pass again, as one image push causes (the evaluator re-evaluates everything on 'image'). */
  reEvalMs: number;
}

const args = JSON.parse(process.argv[2] ?? '{}') as SeedArgs;
const store = await openStore({ dataDir: args.dataDir, database: args.database });
try {
  const ctx = await createCentralContext(store, undefined, { dataDir: args.dataDir });
  const sbom = JSON.parse(readFileSync(args.sbomFile, 'utf8')) as Record<string, unknown>;
  await seedStoredSboms(ctx.db, sbom, args.deployments, undefined, args.distinctLists);
  const timedRematch = async (dbPath: string): Promise<RematchFigures> => {
    const cpu0 = process.cpuUsage();
    const vulnDb = openVulnDb(dbPath);
    try {
      // Checked per image: a run past the budget stops and its rate is projected.
      const stop = new AbortController();
      const deadline = performance.now() + args.rematchBudgetMs;
      const r = await rematchAll(ctx, { db: vulnDb.db, version: vulnDb.version, signal: stop.signal, onImage: () => { if (performance.now() > deadline) stop.abort(); } });
      // The process's CPU: the main thread's and the image workers'.
      const cpu = process.cpuUsage(cpu0);
      return { images: r.images, of: args.deployments, ms: r.ms, cpuSeconds: (cpu.user + cpu.system) / 1e6, vulnerabilities: r.vulnerabilities, changed: r.changed, failed: r.failed, perSecond: Math.round((r.images / Math.max(r.ms, 1)) * 1000) };
    } finally {
      vulnDb.db.close();
    }
  };
  const skipped: RematchFigures = { images: 0, of: 0, ms: 0, cpuSeconds: 0, vulnerabilities: 0, changed: 0, failed: 0, perSecond: 0 };
  const rematch = args.skipRematch ? skipped : await timedRematch(args.dbPath);
  const update = args.skipRematch ? skipped : await timedRematch(args.laterDbPath);

  // A cluster nobody listens for: Central's watcher of it fails and retries, touching nothing stored.
  const kubeconfig = 'apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "https://127.0.0.1:9"}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\nusers: [{name: u, user: {token: bench}}]\n';
  const source = await createSource(ctx.db, { kind: 'cluster', name: 'bench-prod', sealedConfig: ctx.secrets.seal(JSON.stringify({ kubeconfig })) }, new Date().toISOString());
  if (!source) throw new Error('source bench-prod exists: the store is not fresh');
  const evaluator = new LiveEvaluator(ctx.db, ctx.policies, ctx.now, { debounceMs: 3_600_000, onError: (m) => console.error(m) });
  const sink = new StoreInventorySink(ctx.db, evaluator, ctx.now);
  const byKind = clusterObjects(source.id, args.deployments, args.deployments);
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
  const t2 = performance.now();
  evaluator.invalidateAll('images');
  await evaluator.settle();
  const reEvalMs = performance.now() - t2;
  const deployments = Number((await ctx.db.selectFrom('deployments').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
  const violations = Number((await ctx.db.selectFrom('violations').select((eb) => eb.fn.countAll<number>().as('n')).where('state', '=', 'active').executeTakeFirstOrThrow()).n);
  const result: SeedResult = {
    rematch, update,
    objects, sinkMs, evalMs, reEvalMs, deployments, violations,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
} finally {
  await store.close();
}
