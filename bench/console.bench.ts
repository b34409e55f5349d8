/**
 * bench:console — the web console in headless Chromium (Debian's /usr/bin/chromium) over a
 * Central holding 15,000 deployments fed through the real path (StoreInventorySink →
 * LiveEvaluator, as a watcher's first list does). Prints the time until `/deployments`
 * shows its first ranked rows (goal ≤ 1 s) beside the time the API's first page alone
 * takes, and the first load's bundle size (goal ≤ 600 kB gzip).
 *   npm run bench:console            (CONSOLE_BENCH_DEPLOYMENTS=N to change the size)
 * Then `/network` over a second cluster of 2,000 workloads (CONSOLE_BENCH_NETWORK=N) with
 * their NetworkPolicies and a flow per workload shipped as a sensor does: the time until
 * Cytoscape has drawn the graph (goal ≤ 2 s) beside the graph API's answer alone.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
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
import { ensureConsoleBuilt, launchBrowser, shot, signIn } from '../test/console/browser.js';
import { clusterObjects } from './central/inventory.js';
import type { IngestEvent } from '../src/central/client/ingest-types.js';
import type { ObservedFlow } from '../src/network/flow.js';

const DEPLOYMENTS = Number(process.env.CONSOLE_BENCH_DEPLOYMENTS ?? 15_000);
const RUNS = 5;
const GOAL_PAINT_MS = 1000;
const GOAL_BUNDLE_KB = 600;
const NETWORK = Number(process.env.CONSOLE_BENCH_NETWORK ?? 2000);
const GOAL_NETWORK_MS = 2000;
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
  if (NETWORK > 0) await seedNetwork(url);
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
      if (NETWORK > 0 && !(await benchNetwork(page, url, token))) failed = true;
    } finally {
      await browser.close();
    }
  } finally {
    await app.close();
  }

  // The first load: index.html and what it references (scripts, module preloads, styles);
  // chunks loaded on demand (Cytoscape for /network, YAML for /policies, …) are listed apart.
  const html = readFileSync(join(CONSOLE_DIR, 'index.html'), 'utf8');
  const first = ['index.html', ...[...html.matchAll(/(?:src|href)="\/(assets\/[^"]+\.(?:js|css))"/g)].map((m) => m[1]!)];
  const gzKb = (f: string) => gzipSync(readFileSync(join(CONSOLE_DIR, f)), { level: 9 }).length / 1024;
  const gz = first.reduce((n, f) => n + gzKb(f), 0);
  const lazy = readdirSync(join(CONSOLE_DIR, 'assets')).map((f) => `assets/${f}`).filter((f) => /\.(js|css)$/.test(f) && !first.includes(f));
  console.log(`first-load bundle: ${gz.toFixed(0)} kB gzip (${first.length} files; goal ≤ ${GOAL_BUNDLE_KB} kB); on demand: ${lazy.map((f) => `${f.replace(/^assets\//, '')} ${gzKb(f).toFixed(0)} kB`).join(', ')}`);
  if (gz > GOAL_BUNDLE_KB) failed = true;
} finally {
  await store.close();
  rmSync(work, { recursive: true, force: true });
}
if (failed) {
  console.error('bench:console: a goal was missed');
  process.exitCode = 1;
}

/**
 * A second cluster of NETWORK workloads through the same inventory path (bench/central/
 * inventory.ts's objects, their uids made this cluster's own), and one flow per workload
 * from its first pod to the next workload of its namespace (port 8080), every tenth to a
 * workload of the next namespace, every fiftieth to an external address: half the
 * namespaces have a default-deny policy, so part of the observed edges are flagged.
 */
async function seedNetwork(url: string): Promise<void> {
  const t0 = performance.now();
  const source = (await createSource(ctx.db, { kind: 'cluster', name: 'bench-net', sealedConfig: ctx.secrets.seal(JSON.stringify({ kubeconfig: 'apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n' })) }, new Date().toISOString()))!;
  const evaluator = new LiveEvaluator(ctx.db, ctx.policies, ctx.now, { debounceMs: 3_600_000, onError: (m) => console.error(m) });
  const sink = new StoreInventorySink(ctx.db, evaluator, ctx.now);
  const own = (uid: string) => `net-${uid}`;
  const pods: { namespace: string; name: string; ip: string }[] = [];
  for (const [kind, list] of clusterObjects(source.id, NETWORK, Math.min(NETWORK, 300))) {
    // Its own uids and namespace names (net-N): the objects of both clusters are otherwise the same.
    const objects = list.map((o) => {
      const copy = JSON.parse(JSON.stringify(o).replaceAll('"team-', '"net-').replaceAll('/team-', '/net-')) as typeof o;
      const meta = (copy.body.metadata ?? {}) as { uid?: string; ownerReferences?: { uid: string }[] };
      const body: Record<string, unknown> = { ...copy.body, metadata: { ...meta, uid: own(o.uid), ...(meta.ownerReferences ? { ownerReferences: meta.ownerReferences.map((r) => ({ ...r, uid: own(r.uid) })) } : {}) } };
      return { ...copy, uid: own(o.uid), body };
    });
    if (kind === 'Pod') {
      for (const o of objects) {
        const ip = (o.body.status as { podIP?: string } | undefined)?.podIP;
        if (ip && o.name && /-0-x\d+$/.test(o.name)) pods.push({ namespace: o.namespace ?? '', name: o.name, ip });
      }
    }
    await sink.replaceKind(source.id, kind, objects);
  }
  await evaluator.settle();
  const { token: sensor } = await createToken(ctx.db, { name: 'bench-sensor', role: 'sensor' });
  const now = Date.now() - 600_000;
  const events: IngestEvent[] = [];
  pods.forEach((p, i) => {
    const peer = i % 10 === 9 ? pods[(i + 50) % pods.length]! : pods[Math.floor(i / 50) * 50 + ((i + 1) % 50)] ?? pods[0]!;
    const remote = i % 50 === 49 ? { ip: `198.51.100.${i % 250}`, port: 443 } : { ip: peer.ip, port: 8080 };
    const data: ObservedFlow = {
      protocol: 'TCP', direction: 'egress', local: { ip: p.ip, port: 40000 + (i % 20000), pod: { namespace: p.namespace, name: p.name } },
      remote, firstSeen: new Date(now).toISOString(), lastSeen: new Date(now + 60_000).toISOString(), connections: 1 + (i % 17), observedBy: 'ebpf',
    };
    events.push({ id: `bench-flow-${i}`, type: 'flow', time: data.lastSeen, data: data as unknown as Record<string, unknown> });
  });
  for (let i = 0; i < events.length; i += 500) {
    const res = await fetch(`${url}/api/v1/ingest/events`, {
      method: 'POST', headers: { authorization: `Bearer ${sensor}`, 'content-type': 'application/json' },
      body: JSON.stringify({ source: { kind: 'sensor', cluster: 'bench-net' }, events: events.slice(i, i + 500) }),
    });
    if (res.status !== 200) throw new Error(`flow ingest: ${res.status} ${await res.text()}`);
  }
  console.log(`seeded the network cluster: ${NETWORK} workloads, ${events.length} flows in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

/** /network?cluster=bench-net: navigation to Cytoscape's first drawn frame, against the graph API alone. */
async function benchNetwork(page: import('playwright-core').Page, url: string, token: string): Promise<boolean> {
  const path = '/api/v1/network/graph?cluster=bench-net';
  const apiMs: number[] = [];
  let counts = '';
  for (let i = 0; i < RUNS; i++) {
    const s = performance.now();
    const res = await fetch(url + path, { headers: { authorization: `Bearer ${token}` } });
    const g = (await res.json()) as { counts?: Record<string, number>; message?: string };
    if (res.status !== 200) throw new Error(`${path}: ${res.status} ${g.message ?? ''}`);
    apiMs.push(performance.now() - s);
    counts = JSON.stringify(g.counts);
  }
  const pageMs: number[] = [];
  const drawMs: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    await page.goto('about:blank');
    const s = performance.now();
    await page.goto(`${url}/network?cluster=bench-net`);
    // Polled through the DevTools protocol (waitForFunction compiles strings in the page: the CSP forbids it).
    while (!(await page.evaluate<boolean>("performance.getEntriesByName('network-graph-rendered').length > 0"))) await new Promise((r) => setTimeout(r, 10));
    pageMs.push(performance.now() - s);
    drawMs.push(await page.evaluate<number>("performance.getEntriesByName('network-graph-rendered')[0].detail.ms"));
    if (process.env.CONSOLE_BENCH_DETAIL) console.log(await page.evaluate<string>("JSON.stringify(performance.getEntriesByType('mark').filter((m) => m.name.startsWith('network-')).map((m) => [m.name, Math.round(m.startTime), m.detail]))"));
  }
  await shot(page, 'network-2000');
  const paint = median(pageMs);
  console.log(`/network over ${NETWORK} workloads (${counts}): graph drawn in a median ${paint.toFixed(0)} ms over ${RUNS} loads (first ${pageMs[0]!.toFixed(0)} ms; goal ≤ ${GOAL_NETWORK_MS} ms), of which Cytoscape (chunk load, elements, layout, first frame) ${median(drawMs).toFixed(0)} ms`);
  console.log(`graph API alone: median ${median(apiMs).toFixed(0)} ms; machine load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} (${availableParallelism()} CPUs)`);
  return paint <= GOAL_NETWORK_MS;
}
