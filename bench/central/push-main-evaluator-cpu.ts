/**
 * The live evaluator's CPU per deployment, in this process (PostgreSQL's own CPU not counted):
 * a first full pass over N deployments (bench:central's cluster), a full pass again, and
 * targeted passes of 30 pushed images each (a 200 ms debounce at 150 pushes/s). For before/after
 * pairs, run the same file from another tree (a git worktree of the commit before).
 *   node --import tsx bench/central/push-main-evaluator-cpu.ts sqlite|postgres [N]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCentralContext } from '../../src/central/context.js';
import { syntheticDigest } from '../../src/central/images/bench-hook.js';
import { LiveEvaluator } from '../../src/central/live/evaluator.js';
import { StoreInventorySink } from '../../src/central/live/sink.js';
import { openStore } from '../../src/central/store/open.js';
import { createSource } from '../../src/central/store/sources.js';
import { freshDatabase } from '../../test/helpers/postgres.js';
import { clusterObjects } from './inventory.js';

const dialect = process.argv[2] === 'postgres' ? 'postgres' : 'sqlite';
const N = Number(process.argv[3] ?? 3000);
const dir = mkdtempSync(join(tmpdir(), 'gatehouse-evaluator-cpu-'));
const pg = dialect === 'postgres' ? await freshDatabase() : undefined;
const store = await openStore({ dataDir: dir, database: pg?.url });
const cpuMs = (from: NodeJS.CpuUsage) => { const d = process.cpuUsage(from); return (d.user + d.system) / 1000; };
try {
  const ctx = await createCentralContext(store, undefined, { dataDir: dir });
  const source = (await createSource(ctx.db, { kind: 'cluster', name: 'bench', sealedConfig: ctx.secrets.seal('{}') }, new Date().toISOString()))!;
  const evaluator = new LiveEvaluator(ctx.db, ctx.policies, ctx.now, { debounceMs: 3_600_000, onError: (m) => console.error(m) });
  const sink = new StoreInventorySink(ctx.db, evaluator, ctx.now);
  for (const [kind, list] of clusterObjects(source.id, N, N)) await sink.replaceKind(source.id, kind, list);
  let c = process.cpuUsage();
  await evaluator.settle();
  const first = cpuMs(c);
  c = process.cpuUsage();
  evaluator.invalidateAll('images');
  await evaluator.settle();
  const again = cpuMs(c);
  const PASSES = 20;
  const PER_PASS = 30;
  c = process.cpuUsage();
  for (let p = 0; p < PASSES; p++) {
    evaluator.imageChanged(Array.from({ length: PER_PASS }, (_, k) => syntheticDigest((p * PER_PASS + k) % N)));
    await evaluator.settle();
  }
  const targeted = cpuMs(c);
  console.log(`${dialect}, ${N} deployments: first pass ${(first / N).toFixed(3)} ms CPU a deployment, full pass again ${(again / N).toFixed(3)} ms, targeted passes of ${PER_PASS} ${(targeted / (PASSES * PER_PASS)).toFixed(3)} ms`);
  evaluator.stop();
} finally {
  await store.close();
  await pg?.drop();
  rmSync(dir, { recursive: true, force: true });
}
