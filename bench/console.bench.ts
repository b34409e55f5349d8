/**
 * bench:console — the web console in headless Chromium (Debian's /usr/bin/chromium) over a
 * Central holding 15,000 deployments fed through the real path (StoreInventorySink →
 * LiveEvaluator, as a watcher's first list does). Prints the time until `/deployments`
 * shows its first ranked rows (goal ≤ 1 s) beside the time the API's first page alone
 * takes, and the first load's bundle size (goal ≤ 600 kB gzip).
 *   npm run bench:console            (CONSOLE_BENCH_DEPLOYMENTS=N to change the size)
 * `/network` with 2,000 nodes (goal ≤ 2 s) is measured once that page exists (issue 17).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { CONSOLE_DIR } from '../src/central/console.js';
import { createCentralContext } from '../src/central/context.js';
import { LiveEvaluator } from '../src/central/live/evaluator.js';
import { StoreInventorySink } from '../src/central/live/sink.js';
import { buildCentral } from '../src/central/server.js';
import { openStore } from '../src/central/store/open.js';
import { createSource } from '../src/central/store/sources.js';
import { createToken } from '../src/central/store/tokens.js';
import { ensureConsoleBuilt, launchBrowser, signIn } from '../test/console/browser.js';
import { clusterObjects } from './central/inventory.js';

const DEPLOYMENTS = Number(process.env.CONSOLE_BENCH_DEPLOYMENTS ?? 15_000);
const RUNS = 5;
const GOAL_PAINT_MS = 1000;
const GOAL_BUNDLE_KB = 600;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

ensureConsoleBuilt();
const work = mkdtempSync(join(tmpdir(), 'gatehouse-bench-console-'));
const store = await openStore({ dataDir: work });
const ctx = await createCentralContext(store, undefined, { dataDir: work });
let failed = false;
try {
  // The cluster, through the real inventory path.
  const kubeconfig = 'apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "https://127.0.0.1:9"}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\nusers: [{name: u, user: {token: bench}}]\n';
  const source = (await createSource(ctx.db, { kind: 'cluster', name: 'bench-prod', sealedConfig: ctx.secrets.seal(JSON.stringify({ kubeconfig })) }, new Date().toISOString()))!;
  const evaluator = new LiveEvaluator(ctx.db, ctx.policies, ctx.now, { debounceMs: 3_600_000, onError: (m) => console.error(m) });
  const sink = new StoreInventorySink(ctx.db, evaluator, ctx.now);
  const t0 = performance.now();
  for (const [kind, list] of clusterObjects(source.id, DEPLOYMENTS, Math.min(DEPLOYMENTS, 300))) await sink.replaceKind(source.id, kind, list);
  await evaluator.settle();
  const stored = Number((await ctx.db.selectFrom('deployments').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
  console.log(`seeded ${stored} deployments in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  const app = await buildCentral(ctx, { logger: false });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  const { token } = await createToken(ctx.db, { name: 'bench', role: 'admin' });
  try {
    // The API's first page alone (what the page asks for first).
    const apiMs: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const s = performance.now();
      const res = await fetch(`${url}/api/v1/deployments?sort=risk&limit=200`, { headers: { authorization: `Bearer ${token}` } });
      await res.json();
      apiMs.push(performance.now() - s);
    }

    const browser = await launchBrowser();
    try {
      const page = await (await browser.newContext({ viewport: { width: 1360, height: 900 } })).newPage();
      await signIn(page, url, token);
      const paintMs: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        await page.goto('about:blank');
        const s = performance.now();
        await page.goto(`${url}/deployments`);
        await page.locator('tbody tr[aria-rowindex="2"]').waitFor();
        paintMs.push(performance.now() - s);
      }
      const rows = await page.locator('tbody tr:not([aria-hidden])').count();
      const paint = median(paintMs);
      const api = median(apiMs);
      console.log(`/deployments first ranked rows: median ${paint.toFixed(0)} ms over ${RUNS} loads (first ${paintMs[0]!.toFixed(0)} ms; goal ≤ ${GOAL_PAINT_MS} ms), ${rows} rows in the DOM`);
      console.log(`API first page alone (200 rows): median ${api.toFixed(0)} ms — the page costs ${(paint / api).toFixed(1)}× the API answer`);
      if (paint > GOAL_PAINT_MS) failed = true;
    } finally {
      await browser.close();
    }
  } finally {
    await app.close();
  }

  // The first load: index.html and every asset it loads (one JS and one CSS file today).
  const files = ['index.html', ...readdirSync(join(CONSOLE_DIR, 'assets')).filter((f) => /\.(js|css)$/.test(f)).map((f) => `assets/${f}`)];
  const gz = files.reduce((n, f) => n + gzipSync(readFileSync(join(CONSOLE_DIR, f)), { level: 9 }).length, 0) / 1024;
  console.log(`first-load bundle: ${gz.toFixed(0)} kB gzip (${files.length} files; goal ≤ ${GOAL_BUNDLE_KB} kB)`);
  if (gz > GOAL_BUNDLE_KB) failed = true;
  console.log('/network with 2,000 nodes: not measured (the page is not built yet)');
} finally {
  await store.close();
  rmSync(work, { recursive: true, force: true });
}
if (failed) {
  console.error('bench:console: a goal was missed');
  process.exitCode = 1;
}
