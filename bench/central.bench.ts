/**
 * `npm run bench:central [-- --quick] [--store sqlite|postgres] [--cpu-prof-dir DIR]`: Central at the size the
 * issue names (15,000 deployments, 45,000 pods) on SQLite and PostgreSQL side by side.
 * The anchor: Red Hat ACS sizes Central for under 25,000 deployments at 2 cores / 8 GiB plus
 * 12–24 cores / 32 GiB for its PostgreSQL; Gatehouse aims to hold 15,000 on one 2-core machine.
 *
 * Per store: a setup process (bench/central/seed.ts) seeds N stored SBOMs, times their
 * re-match, and feeds the cluster through StoreInventorySink into a LiveEvaluator (timed);
 * then `gatehouse server` runs as its own process (its RSS alone, from /proc) and is
 * measured over HTTP on loopback with the admin token. The floor, measured in the same run:
 * Central's unauthenticated health route (one loopback round trip through fastify, no store).
 * --quick: a tenth of the size, for a smoke run; --store sqlite|postgres: one store only;
 * --cpu-prof-dir DIR: Central's CPU profile (node --cpu-prof) for finding what a miss costs, and the
 * setup process's (re-match, evaluation) in DIR/setup. --distinct-lists: every stored SBOM its
 * own package list (re-match works once per distinct list; by default the fleet has 70).
 * --from-source: Central through tsx, as a checkout without a build runs it; by default Central
 * runs compiled (bench/compiled-cli.ts), as `npm ci` and the container image install it.
 * --skip-rematch: the SBOMs are seeded but their re-match is not timed (a shorter run for ingest,
 * list, detail and RSS). --heap-snapshots DIR: Central's main-thread heap snapshot (SIGUSR2) before
 * ingest and after each ingest row, to see what holds its memory. Ingest starts once Central is idle (it evaluates the stored cluster at
 * start); each pushed scan is a new build of a deployed image's tag, so the live evaluator
 * re-scores the one or two deployments running it, as a CI push of a running service does.
 * Ingest has three rows of 600 pushes each: whole bodies (an old client); by address with the
 * SBOM's component list already in Central (rebuilds, the CI case); by address with every
 * push's list new (one package's version is the push's own: 409, then whole). The last two
 * follow `image scan --server`'s protocol (src/cli/central-push.ts), so neither can be read alone.
 * bench/central/push-cpu.ts measures an image worker's CPU a push in one thread.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { addressedImageReport, type ImageReport } from '../src/central/client/ingest-types.js';
import { buildImageFixture, ingestReport, type ImageFixture } from './central/fixtures.js';
import { compiledCli } from './compiled-cli.js';
import type { RematchFigures, SeedResult } from './central/seed.js';
import { cachedPath, cacheHas } from '../test/helpers/components.js';
import { freshDatabase, postgresAvailable, type FreshDatabase } from '../test/helpers/postgres.js';

const quick = process.argv.includes('--quick');
const argValue = (flag: string) => (process.argv.includes(flag) ? process.argv[process.argv.indexOf(flag) + 1] : undefined);
const only = argValue('--store');
/** --cpu-prof-dir DIR: Central runs with node's --cpu-prof, its profile written there at its stop. */
const cpuProfDir = argValue('--cpu-prof-dir');
/** --distinct-lists: every stored SBOM a package list of its own (re-match's worst case; by default 70 lists over the fleet, as images on shared bases). */
const distinctLists = process.argv.includes('--distinct-lists');
/** --skip-rematch: no re-match timing (the SBOMs are still seeded): a shorter run for ingest, list, detail and RSS. */
const skipRematch = process.argv.includes('--skip-rematch');
const fromSource = process.argv.includes('--from-source');
/** --heap-snapshots DIR: Central's main-thread heap snapshot written there before ingest and after each ingest row (what holds its RSS). */
const heapSnapshotDir = argValue('--heap-snapshots');
if (heapSnapshotDir) mkdirSync(heapSnapshotDir, { recursive: true });
const centralEntry = fromSource ? join(import.meta.dirname, '..', 'bin', 'gatehouse.mjs') : compiledCli();
const DEPLOYMENTS = quick ? 1_500 : 15_000;
const INGEST_SCANS = quick ? 100 : 600;
const LIST_REQUESTS = quick ? 100 : 300;
/** Each full-run re-match stops here and projects 15,000 from its rate (the goal is 60 s; a bad miss would take the run past 10 minutes per store). */
const REMATCH_BUDGET_MS = quick ? 600_000 : 240_000;
const DETAIL_REQUESTS = quick ? 200 : 500;
const root = join(import.meta.dirname, '..');

const GOALS = { listP99: 50, detailP99: 20, ingestPerSec: 200, rematchSec: 60, rssMb: 500 };

interface IngestFigures { perSecond: number; scans: number; seconds: number; cpuSeconds: number; parsePerSecond: number; bodyKb: number; sentKb: number; resent: number }

interface ApiFigures {
  floor: { p50: number; p99: number };
  firstPage: { p50: number; p99: number };
  deepPage: { p50: number; p99: number; depth: number };
  detail: { p50: number; p99: number };
  /** Central's event-loop delay over the API rows (prom-client's monitor, reset at each scrape of /metrics), ms. */
  loopDelay: { p50: number; p99: number; max: number };
}

interface StoreFigures {
  store: string;
  seed: SeedResult;
  /** The API rows right after start, while Central evaluates the stored fleet. */
  apiStarting: ApiFigures;
  /** The API rows once Central is idle: the goals' rows. */
  apiSteady: ApiFigures;
  /** Whole bodies as an old client sends them; by address with the list in Central; by address with every list new (409, then whole). */
  ingest: IngestFigures;
  ingestKnown: IngestFigures;
  ingestNew: IngestFigures;
  startMs: number;
  rssBeforeIngestMb: number;
  rssPeakMb: number;
  rssEndMb: number;
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
};
const summary = (xs: number[]) => ({ p50: pct(xs, 50), p99: pct(xs, 99) });

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

/** CPU seconds (user+system) a process has used: steadier than wall time on a shared machine. */
function cpuSecondsOf(pid: number, thread?: number): number {
  const fields = readFileSync(thread === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${thread}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ');
  // After "pid (comm) ": state is field 3, utime 14 and stime 15 (clock ticks, 100 per second on Linux).
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** VmHWM (peak) and VmRSS of a process, in MB. */
function memoryOf(pid: number): { peak: number; now: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
  return { peak: kb('VmHWM') / 1024, now: kb('VmRSS') / 1024 };
}

/** With --heap-snapshots: Central writes its main thread's heap snapshot (SIGUSR2); waits until the file stops growing. */
async function heapSnapshot(pid: number, what: string): Promise<void> {
  if (!heapSnapshotDir) return;
  const before = new Set(readdirSync(heapSnapshotDir));
  process.kill(pid, 'SIGUSR2');
  for (let last = -1; ;) {
    await new Promise((r) => setTimeout(r, 2000));
    const file = readdirSync(heapSnapshotDir).find((f) => !before.has(f) && f.endsWith('.heapsnapshot'));
    if (!file) continue;
    const size = statSync(join(heapSnapshotDir, file)).size;
    if (size === last && size > 0) {
      process.stdout.write(`heap snapshot (${what}): ${join(heapSnapshotDir, file)}, ${(size / 2 ** 20).toFixed(0)} MB\n`);
      return;
    }
    last = size;
  }
}

/** Waits until the process used under 0.05 CPU s in a second (or `maxMs` passed); the seconds waited. */
async function untilIdle(pid: number, maxMs: number): Promise<number> {
  const t = performance.now();
  for (let last = cpuSecondsOf(pid); performance.now() - t < maxMs;) {
    await new Promise((r) => setTimeout(r, 1000));
    const now = cpuSecondsOf(pid);
    if (now - last < 0.05) break;
    last = now;
  }
  return (performance.now() - t) / 1000;
}

async function timed(n: number, fn: (i: number) => Promise<void>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn(i);
    out.push(performance.now() - t);
  }
  return out;
}

/** A push's bodies: by address (what `image scan --server` sends first), and whole. */
interface PushBodies { addressed?: string; whole: string }
function pushBodies(report: ImageReport, byAddress: boolean): PushBodies {
  const addressed = byAddress ? addressedImageReport(report) : undefined;
  return { whole: JSON.stringify(report), ...(addressed ? { addressed: JSON.stringify(addressed) } : {}) };
}

/** Central's event-loop delay (what a main-thread stall adds to every request) since the last scrape: /metrics resets prom-client's monitor at each scrape. */
async function loopDelay(url: string, headers: Record<string, string>): Promise<ApiFigures['loopDelay']> {
  const r = await fetch(`${url}/metrics`, { headers });
  const text = await r.text();
  const ms = (q: string) => 1000 * Number(new RegExp(`^gatehouse_nodejs_eventloop_lag_${q}_seconds(?:\\{[^}]*\\})? (\\S+)`, 'm').exec(text)?.[1] ?? NaN);
  return { p50: ms('p50'), p99: ms('p99'), max: ms('max') };
}

/** The API rows: /healthz (the floor), the risk list's first and 101st pages, random deployments' detail. */
async function apiRows(url: string, headers: Record<string, string>, get: (path: string) => Promise<any>, store: string, when: string): Promise<ApiFigures> {
  await loopDelay(url, headers);
  const floor = await timed(LIST_REQUESTS, async () => { await (await fetch(`${url}/healthz`)).arrayBuffer(); });
  const firstPage = await timed(LIST_REQUESTS, async () => { await get('/api/v1/deployments?sort=risk&limit=50'); });
  // A deep page: the cursor after 100 pages (or the last one there is).
  let cursor: string | null = null;
  let depth = 0;
  const ids: string[] = [];
  for (let p = 0; p < Math.min(100, Math.ceil(DEPLOYMENTS / 50) - 1); p++) {
    const page = await get(`/api/v1/deployments?sort=risk&limit=50${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    for (const it of page.items as { id: string }[]) ids.push(it.id);
    if (!page.nextCursor) break;
    cursor = page.nextCursor as string;
    depth = p + 1;
  }
  const deepPage = await timed(LIST_REQUESTS, async () => { await get(`/api/v1/deployments?sort=risk&limit=50&cursor=${encodeURIComponent(cursor!)}`); });
  let seedRandom = 7;
  const rnd = () => (seedRandom = (Math.imul(seedRandom, 1103515245) + 12345) >>> 0) / 2 ** 32;
  const detail = await timed(DETAIL_REQUESTS, async () => { await get(`/api/v1/deployments/${ids[Math.floor(rnd() * ids.length)]}`); });
  const delay = await loopDelay(url, headers);
  process.stdout.write(`[${store}] API rows ${when}: risk list p99 ${pct(firstPage, 99).toFixed(1)} ms, detail p99 ${pct(detail, 99).toFixed(1)} ms; Central's event-loop delay p50 ${delay.p50.toFixed(1)} ms, p99 ${delay.p99.toFixed(1)} ms, max ${delay.max.toFixed(1)} ms\n`);
  return { floor: summary(floor), firstPage: summary(firstPage), deepPage: { ...summary(deepPage), depth }, detail: summary(detail), loopDelay: delay };
}

async function runStore(store: 'sqlite' | 'postgres', fx: ImageFixture, work: string, sbomFile: string): Promise<StoreFigures | string> {
  let pg: FreshDatabase | undefined;
  if (store === 'postgres') {
    if (!(await postgresAvailable())) return 'PostgreSQL not reachable (run .ci/setup.d/80-postgres.sh, or set GATEHOUSE_TEST_POSTGRES_URL)';
    pg = await freshDatabase();
  }
  const dataDir = join(work, store);
  mkdirSync(dataDir, { recursive: true });
  let central: ChildProcess | undefined;
  try {
    process.stdout.write(`[${store}] seeding ${DEPLOYMENTS} SBOMs and ${DEPLOYMENTS} deployments…\n`);
    const seedRun = spawnSync(process.execPath, [...(cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', join(cpuProfDir, 'setup')] : []), '--import', 'tsx', join(root, 'bench', 'central', 'seed.ts'), JSON.stringify({ dataDir, database: pg?.url, deployments: DEPLOYMENTS, sbomFile, dbPath: fx.dbPath, laterDbPath: fx.laterDbPath, rematchBudgetMs: REMATCH_BUDGET_MS, distinctLists, skipRematch })], { encoding: 'utf8', maxBuffer: 1 << 24 });
    if (seedRun.status !== 0) throw new Error(`seed process failed: ${seedRun.stderr.trim().split('\n').slice(-5).join(' | ')}`);
    const seed = JSON.parse(seedRun.stdout.trim().split('\n').pop()!) as SeedResult;

    const token = randomBytes(32).toString('hex');
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const t0 = performance.now();
    // Central's log goes to a file, as a container runtime or journald takes it: a pipe read by
    // this process (busy sending pushes on the same two cores) fills, and pino's synchronous
    // writes then spin in Central (~2 ms a push in a profile).
    const logFile = join(work, `central-${store}.log`);
    const logFd = openSync(logFile, 'w');
    const diagnostics = [...(cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', cpuProfDir] : []), ...(heapSnapshotDir ? ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${heapSnapshotDir}`] : [])];
    central = spawn(process.execPath, [...diagnostics, centralEntry, 'server', '--insecure-http', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir, ...(pg ? ['--database', pg.url] : [])], {
      // No vulnerability DB for Central: images the budget left stale must not be re-matched while it is measured.
      env: { ...process.env, GATEHOUSE_ADMIN_TOKEN: token, GATEHOUSE_DB: join(work, 'no-vuln.db') }, stdio: ['ignore', 'ignore', logFd],
    });
    closeSync(logFd);
    const stderrTail = () => readFileSync(logFile, 'utf8').slice(-2000);
    const headers = { authorization: `Bearer ${token}` };
    const get = async (path: string) => {
      const r = await fetch(`${url}${path}`, { headers });
      const body = await r.text();
      if (r.status !== 200) throw new Error(`GET ${path}: ${r.status} ${body.slice(0, 200)}`);
      return JSON.parse(body) as any;
    };
    for (;;) {
      if (central.exitCode !== null) throw new Error(`Central exited: ${stderrTail().trim().split('\n').slice(-3).join(' | ')}`);
      try {
        await get('/api/v1/deployments?limit=1');
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    const startMs = performance.now() - t0;
    const pid = central.pid!;
    let peak = 0;
    const sampler = setInterval(() => { peak = Math.max(peak, memoryOf(pid).peak); }, 500);

    // The API rows twice: right after start, while Central still evaluates the stored fleet (what
    // users see after a restart), and once it is idle (steady state, which the goals are about).
    const apiStarting = await apiRows(url, headers, get, store, 'while Central evaluates the stored fleet at start');
    // Ingest: distinct digests, four requests in flight; three rows (IngestFigures).
    const rows = {
      whole: Array.from({ length: INGEST_SCANS }, (_, k) => pushBodies(ingestReport(fx, DEPLOYMENTS, `${store}-whole`, k), false)),
      known: Array.from({ length: INGEST_SCANS }, (_, k) => pushBodies(ingestReport(fx, DEPLOYMENTS, `${store}-known`, k), true)),
      fresh: Array.from({ length: INGEST_SCANS }, (_, k) => pushBodies(ingestReport(fx, DEPLOYMENTS, `${store}-new`, k, true), true)),
    };
    const bodies = rows.whole.map((b) => b.whole);
    // The ingest floor: JSON.parse of the same bodies on one core (the least any server must do per scan).
    for (const b of bodies.slice(0, 20)) JSON.parse(b); // warm-up, as Central is warm by the time it is measured
    const cp = process.cpuUsage();
    for (const b of bodies) JSON.parse(b);
    const parseCpu = process.cpuUsage(cp);
    const parsePerSecond = bodies.length / ((parseCpu.user + parseCpu.system) / 1e6);
    // Central evaluates the stored cluster at start (15,000 deployments): ingest is measured once that is done.
    const settled = await untilIdle(pid, 120_000);
    const rssBeforeIngestMb = memoryOf(pid).peak;
    const apiSteady = await apiRows(url, headers, get, store, 'at steady state (Central idle)');
    process.stdout.write(`[${store}] Central's RSS peak before ingest: ${rssBeforeIngestMb.toFixed(0)} MB, now ${memoryOf(pid).now.toFixed(0)} MB (idle after ${settled.toFixed(0)} s more)\n`);
    await heapSnapshot(pid, `${store}, before ingest`);
    const post = async (body: string) => {
      const r = await fetch(`${url}/api/v1/ingest/images`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body });
      return { status: r.status, text: await r.text() };
    };
    const ingestRow = async (label: string, pushes: PushBodies[]): Promise<IngestFigures> => {
      let next = 0;
      let sent = 0;
      let resent = 0;
      const cpu0 = cpuSecondsOf(pid);
      // The main thread alone (its task id is the process id): what serves every other request.
      const main0 = cpuSecondsOf(pid, pid);
      const ti = performance.now();
      const from = process.hrtime.bigint() / 1000n;
      await Promise.all(Array.from({ length: 4 }, async () => {
        while (next < pushes.length) {
          const push = pushes[next++]!;
          // The protocol of `image scan --server` (src/cli/central-push.ts): by address first, whole on 409.
          let r = push.addressed ? await post(push.addressed) : undefined;
          sent += push.addressed?.length ?? 0;
          if (!r || (r.status === 409 && r.text.includes('missing-content'))) {
            if (r) resent++;
            r = await post(push.whole);
            sent += push.whole.length;
          }
          if (r.status !== 200) throw new Error(`ingest (${label}): ${r.status} ${r.text.slice(0, 300)}`);
        }
      }));
      const seconds = (performance.now() - ti) / 1000;
      const cpuSeconds = cpuSecondsOf(pid) - cpu0;
      const to = process.hrtime.bigint() / 1000n;
      // Work a push leaves to Central's jobs runs after its answer: wait until Central is idle, to count it too.
      await untilIdle(pid, 30_000);
      const untilIdleCpu = cpuSecondsOf(pid) - cpu0;
      const mainCpu = cpuSecondsOf(pid, pid) - main0;
      process.stdout.write(`[${store}] ingest, ${label}: ${(pushes.length / seconds).toFixed(0)}/s; Central's CPU until idle ${untilIdleCpu.toFixed(2)} s for ${pushes.length} scans (${(pushes.length / untilIdleCpu).toFixed(0)} per CPU s, ${(untilIdleCpu / pushes.length * 1000).toFixed(1)} ms a push, main thread ${(mainCpu / pushes.length * 1000).toFixed(1)} ms); ${resent} sent again whole; RSS peak ${memoryOf(pid).peak.toFixed(0)} MB, now ${memoryOf(pid).now.toFixed(0)} MB (monotonic µs ${from}–${to}, for --cpu-prof-dir)\n`);
      // After the row's figures: writing a snapshot takes memory of its own (the RSS figures after it say so).
      await heapSnapshot(pid, `${store}, after ${label}`);
      return { perSecond: pushes.length / seconds, scans: pushes.length, seconds, cpuSeconds, parsePerSecond, bodyKb: bodies[0]!.length / 1024, sentKb: sent / pushes.length / 1024, resent };
    };
    const ingest = await ingestRow('whole bodies (old client)', rows.whole);
    const ingestKnown = await ingestRow('by address, list in Central', rows.known);
    const ingestNew = await ingestRow('by address, every list new', rows.fresh);
    clearInterval(sampler);
    const mem = memoryOf(pid);
    return {
      store, seed, apiStarting, apiSteady,
      ingest, ingestKnown, ingestNew, startMs, rssBeforeIngestMb, rssPeakMb: Math.max(peak, mem.peak), rssEndMb: mem.now,
    };
  } finally {
    if (central && central.exitCode === null) {
      const exited = new Promise((r) => central!.once('exit', r));
      central.kill('SIGTERM');
      // With --cpu-prof-dir the main thread writes a profile of the whole run at exit: tens of seconds on a loaded machine.
      await Promise.race([exited, new Promise((r) => setTimeout(r, cpuProfDir ? 120_000 : 10_000))]);
      if (central.exitCode === null) central.kill('SIGKILL');
    }
    // A leftover database is swept by the setup script (gatehouse_test_ prefix); its error must not hide the figures.
    await pg?.drop().catch((e: Error) => console.log(`[${store}] could not drop ${pg!.name}: ${e.message}`));
  }
}

function table(results: (StoreFigures | { store: string; skipped: string })[]): void {
  const ms = (x: number) => `${x.toFixed(1)} ms`;
  const verdict = (ok: boolean) => (ok ? 'PASS' : 'MISS');
  const rematchCell = (r: RematchFigures, goal: boolean) => {
    if (r.of === 0) return 'not measured (--skip-rematch)';
    const projected = 15_000 / Math.max(r.perSecond, 1);
    const stopped = r.images < r.of ? `, stopped at the budget of ${r.of}` : '';
    const failed = r.failed ? `, ${r.failed} failed` : '';
    return `${(r.ms / 1000).toFixed(1)} s (${r.cpuSeconds.toFixed(1)} CPU s) for ${r.images}${stopped}, ${r.changed} changed${failed} (${r.perSecond}/s${r.images < 15_000 ? `, 15,000 in ~${projected.toFixed(0)} s` : ''})${goal ? ` ${verdict(projected <= GOALS.rematchSec)}` : ''}`;
  };
  const ingestCell = (i: IngestFigures) => `${i.perSecond.toFixed(0)}/s (${i.scans} in ${i.seconds.toFixed(1)} s; Central ${i.cpuSeconds.toFixed(1)} CPU s = ${(i.scans / Math.max(i.cpuSeconds, 0.01)).toFixed(0)}/CPU s; ${i.sentKb.toFixed(0)} KB sent a push${i.resent ? `, ${i.resent} sent again whole` : ''}) ${verdict(i.perSecond >= GOALS.ingestPerSec)}`;
  // The goals are about Central at steady state; the start-up rows say what a restart costs the API.
  const apiTableRows = (when: string, api: (f: StoreFigures) => ApiFigures, goal: boolean): [string, string, (f: StoreFigures) => string][] => {
    const g = (text: string) => (goal ? text : `informative (${text} at steady state)`);
    const v = (ok: boolean) => (goal ? ` ${verdict(ok)}` : '');
    return [
      [`floor: GET /healthz p50/p99, ${when}`, 'floor', (f) => `${ms(api(f).floor.p50)} / ${ms(api(f).floor.p99)}`],
      [`risk list, first page p50/p99, ${when}`, g(`p99 <= ${GOALS.listP99} ms`), (f) => `${ms(api(f).firstPage.p50)} / ${ms(api(f).firstPage.p99)}${v(api(f).firstPage.p99 <= GOALS.listP99)}`],
      [`risk list, deep page p50/p99, ${when}`, g(`p99 <= ${GOALS.listP99} ms`), (f) => `${ms(api(f).deepPage.p50)} / ${ms(api(f).deepPage.p99)} (page ${api(f).deepPage.depth + 1})${v(api(f).deepPage.p99 <= GOALS.listP99)}`],
      [`deployment detail p50/p99, ${when}`, g(`p99 <= ${GOALS.detailP99} ms`), (f) => `${ms(api(f).detail.p50)} / ${ms(api(f).detail.p99)}${v(api(f).detail.p99 <= GOALS.detailP99)}`],
      [`Central's event-loop delay over those rows p50/p99/max, ${when}`, 'informative', (f) => `${ms(api(f).loopDelay.p50)} / ${ms(api(f).loopDelay.p99)} / ${ms(api(f).loopDelay.max)}`],
    ];
  };
  const rows: [string, string, (f: StoreFigures) => string][] = [
    ['initial evaluation (seed process)', 'informative', (f) => `${(f.seed.evalMs / 1000).toFixed(1)} s for ${f.seed.deployments} (${Math.round(f.seed.deployments / (f.seed.evalMs / 1000))}/s), ${f.seed.violations} violations`],
    ['full pass again (what one image push causes)', 'informative', (f) => `${(f.seed.reEvalMs / 1000).toFixed(1)} s`],
    ['sink write of all objects', 'informative', (f) => `${(f.seed.sinkMs / 1000).toFixed(1)} s for ${f.seed.objects} objects`],
    ['Central start to first answer', 'informative', (f) => `${(f.startMs / 1000).toFixed(1)} s`],
    ...apiTableRows('at steady state', (f) => f.apiSteady, true),
    ...apiTableRows('while Central evaluates the stored fleet at start', (f) => f.apiStarting, false),
    ['floor: JSON.parse of the scan bodies', 'floor', (f) => `${f.ingest.parsePerSecond.toFixed(0)} per CPU s (${f.ingest.bodyKb.toFixed(0)} KB each)`],
    ['ingest, 500-package scans, 4 in flight: whole bodies (old client)', `>= ${GOALS.ingestPerSec}/s`, (f) => ingestCell(f.ingest)],
    ['ingest, by address, list already in Central (rebuilds, CI)', `>= ${GOALS.ingestPerSec}/s`, (f) => ingestCell(f.ingestKnown)],
    ['ingest, by address, every list new (409, then whole)', `>= ${GOALS.ingestPerSec}/s`, (f) => ingestCell(f.ingestNew)],
    ['first match of stored SBOMs (all new)', 'informative', (f) => rematchCell(f.seed.rematch, false)],
    ['re-match after a DB update', `15,000 in <= ${GOALS.rematchSec} s`, (f) => rematchCell(f.seed.update, true)],
    ["Central's RSS peak (VmHWM) / at end", `<= ${GOALS.rssMb} MB`, (f) => `${f.rssPeakMb.toFixed(0)} / ${f.rssEndMb.toFixed(0)} MB (${f.rssBeforeIngestMb.toFixed(0)} before ingest) ${verdict(f.rssPeakMb <= GOALS.rssMb)}`],
  ];
  const header = ['measure', 'goal', ...results.map((r) => r.store)];
  const body = rows.map(([name, goal, cell]) => [name, goal, ...results.map((r) => ('skipped' in r ? `skipped: ${r.skipped}` : cell(r)))]);
  const widths = header.map((_, c) => Math.max(...[header, ...body].map((row) => row[c]!.length)));
  for (const row of [header, widths.map((w) => '-'.repeat(w)), ...body]) console.log(row.map((cell, c) => cell.padEnd(widths[c]!)).join(' | '));
}

if (!cacheHas('oci', 'index.json')) {
  console.log('bench:central skipped: test images not built (bash .ci/setup.d/40-test-images.sh)');
} else {
  const work = mkdtempSync(join(tmpdir(), 'gatehouse-bench-central-'));
  try {
    const fx = await buildImageFixture(cachedPath('oci'), join(root, '..', 'shared', 'vulndata', 'pypa', 'vulns'), work);
    const sbomFile = join(work, 'sbom.json');
    writeFileSync(sbomFile, JSON.stringify(fx.sbom));
    console.log(`bench:central${quick ? ' --quick' : ''}: ${DEPLOYMENTS} deployments, ${DEPLOYMENTS * 3} pods; images of ${fx.packages} packages with ${fx.findings.length} vulnerability findings, stored SBOMs with ${distinctLists ? 'a package list each' : '70 package lists'}; ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB; Central ${fromSource ? 'from source (tsx)' : `compiled (${centralEntry})`}`);
    const results: (StoreFigures | { store: string; skipped: string })[] = [];
    for (const store of ['sqlite', 'postgres'] as const) {
      if (only && only !== store) continue;
      const r = await runStore(store, fx, work, sbomFile);
      results.push(typeof r === 'string' ? { store, skipped: r } : r);
    }
    table(results);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
