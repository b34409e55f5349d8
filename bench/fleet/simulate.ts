/**
 * The fleet simulator's engine (`gatehouse simulate`, `npm run bench:scale`): drives real
 * Central processes (`gatehouse server --nats --database`), a real nats-server (JetStream)
 * and a real PostgreSQL with a simulated fleet (model.ts), deterministic from a seed:
 *  1. starts `centrals` Central processes on the database and the bus;
 *  2. pushes the fleet's images (a few hundred SBOMs with their findings) through
 *     `POST /api/v1/ingest/images`, as `image scan --server` does;
 *  3. stores the cluster (nodes, namespaces, workloads, 3 pods each) in a separate process
 *     through the watcher's sink and evaluates every deployment (seed-inventory.ts);
 *  4. runs `publishers` publisher processes (publisher.ts: the nodes' sensors) at
 *     `eventsPerSec` for `seconds`, while it asks Central for the risk list and deployment
 *     details and samples /metrics (bus lag, backlog, stored), Central's RSS and CPU and the
 *     CPU of PostgreSQL's backends serving this database;
 *  5. waits until every event JetStream acknowledged is stored (or `drainTimeoutS`).
 */
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import pg from 'pg';
import { metricValue, startCentralCli, tempDir, type CentralProcess } from '../../test/bus/helpers.js';
import { procCpuSeconds, rssMiB } from '../proc-stats.js';
import { clusterName, imageCount, imageReport } from './model.js';
import type { PublisherArgs, PublisherCounters } from './publisher.js';
import type { SeedInventoryResult } from './seed-inventory.js';

const root = join(import.meta.dirname, '..', '..');

export interface FleetOptions {
  nats: string;
  database: string;
  nodes: number;
  deployments: number;
  eventsPerSec: number;
  seconds: number;
  seed: number;
  centrals?: number;
  publishers?: number;
  /** Share of flow events among the events (default 0.3). */
  flowShare?: number;
  /** Pause between two API requests of the probe (default 100 ms). */
  apiEveryMs?: number;
  /** How long to wait for the backlog to drain after the last publish (default 120 s). */
  drainTimeoutS?: number;
  /** Extra `gatehouse server` arguments. */
  centralArgs?: string[];
  /** Node's own flags for the Central processes (--cpu-prof --cpu-prof-dir=DIR to profile them). */
  centralNodeArgs?: string[];
  /** The CLI the Centrals run (default bin/gatehouse.mjs, from source; benches pass the compiled one). */
  centralEntry?: string;
  /** nats-server's pid, when this machine runs it: its CPU over the measured window is counted per event too. */
  natsPid?: number;
  log?: (line: string) => void;
}

export interface Percentiles { n: number; p50: number; p99: number; max: number }

export interface FleetFigures {
  nodes: number; deployments: number; pods: number; images: number; objects: number; violations: number;
  imagesPushSeconds: number; inventorySinkSeconds: number; evaluationSeconds: number;
  offeredPerSec: number; ackedPerSec: number; behind: number; failed: number;
  /** Stored per second while the publishers ran, and from the first publish to the last commit. */
  storedPerSecDuringLoad: number; storedPerSecEndToEnd: number;
  acked: number; stored: number; duplicates: number; drainSeconds: number; drained: boolean;
  lagSeconds: Percentiles; backlogMax: number;
  riskList: Percentiles; detail: Percentiles;
  dbBytesPerEvent: number; dbGiBPerDayAtRate: number;
  centralRssMiB: number[]; centralRssPeakMiB: number[];
  /** Central's RSS when publishing starts (the inventory stored and evaluated): what the bus load adds is the rest. */
  centralRssBeforeMiB: number[];
  /** Heap snapshots written at the end (GATEHOUSE_BENCH_HEAP_DIR), one per Central. */
  heapSnapshots?: string[];
  /** CPU seconds per 1,000 events: Central(s) and PostgreSQL backends per event stored, publishers and nats-server (NaN when its pid is not known) per event acknowledged. */
  cpuMsPerEvent: { central: number; postgres: number; publishers: number; nats: number };
  load: [number, number, number];
}

const pct = (xs: number[]): Percentiles => {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] ?? 0;
  return { n: s.length, p50: at(0.5), p99: at(0.99), max: s.at(-1) ?? 0 };
};

function peakMiB(pid: number): number {
  try {
    return Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
}

/** CPU seconds of the PostgreSQL backends connected to `dbName` (their process titles name the database). */
function postgresCpu(dbName: string): Map<number, number> {
  const out = new Map<number, number>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8');
      if (cmd.startsWith('postgres: ') && cmd.split(' ').includes(dbName)) out.set(Number(d), procCpuSeconds(Number(d)));
    } catch {
      // gone
    }
  }
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A request again after a socket error: fetch reuses a keep-alive connection that Central may
 * have closed while idle (minutes of setup), which fails at once with "other side closed" or
 * EPIPE. Every request here is idempotent (GETs, image pushes by digest).
 */
async function again<T>(fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      if (attempt >= 3 || !(e instanceof TypeError && /fetch failed/.test(e.message))) throw e;
    }
  }
}

/**
 * GATEHOUSE_BENCH_HEAP_DIR=DIR: the Centrals run with --heapsnapshot-signal, and once the run's
 * figures are taken (so the snapshot's pause is in none of them) each writes a heap snapshot
 * there: what holds Central's RSS under bus load (bench/fleet/heap-summary.ts reads them).
 */
const HEAP_DIR = process.env.GATEHOUSE_BENCH_HEAP_DIR;

async function writeHeapSnapshots(pids: number[], log: (l: string) => void): Promise<string[]> {
  const out: string[] = [];
  for (const pid of pids) {
    const before = new Set(readdirSync(HEAP_DIR!));
    process.kill(pid, 'SIGUSR2');
    // Written when the file stops growing (a snapshot of a ~500 MiB heap takes tens of seconds here).
    let file: string | undefined;
    let size = -1;
    for (let t = 0; t < 600; t++) {
      await sleep(1000);
      file ??= readdirSync(HEAP_DIR!).find((f) => f.endsWith('.heapsnapshot') && !before.has(f));
      if (!file) continue;
      const now = statSync(join(HEAP_DIR!, file)).size;
      if (now === size && now > 0) break;
      size = now;
    }
    if (file) out.push(join(HEAP_DIR!, file));
    log(`heap snapshot of Central ${pid}: ${file ?? 'none written'}`);
  }
  return out;
}

export async function runFleet(o: FleetOptions): Promise<FleetFigures> {
  const log = o.log ?? (() => undefined);
  const centralsN = o.centrals ?? 1;
  const publishersN = o.publishers ?? 2;
  const images = imageCount(o.deployments);
  const dbName = new URL(o.database).pathname.slice(1);
  const centrals: CentralProcess[] = [];
  const client = new pg.Client({ connectionString: o.database });
  await client.connect();
  try {
    // No vulnerability DB for Central: it must not re-match the fleet's SBOMs while it is measured.
    const env = { GATEHOUSE_DB: join(tempDir('fleet-novuln'), 'none.db') };
    for (let i = 0; i < centralsN; i++) centrals.push(await startCentralCli(['--database', o.database, '--nats', o.nats, '--log-level', 'warn', ...(o.centralArgs ?? [])], env, [...(o.centralNodeArgs ?? []), ...(HEAP_DIR ? ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${HEAP_DIR}`] : [])], o.centralEntry));
    log(`${centralsN} Central(s) up; pushing ${images} images with SBOMs`);

    const tImages = performance.now();
    let nextImage = 0;
    await Promise.all(Array.from({ length: 4 }, async (_, w) => {
      while (nextImage < images) {
        const i = nextImage++;
        const res = await again(() => centrals[(i + w) % centrals.length]!.post('/api/v1/ingest/images', imageReport(o.seed, i)));
        if (res.status !== 200) throw new Error(`image push ${i}: ${res.status} ${res.text.slice(0, 300)}`);
      }
    }));
    const imagesPushSeconds = (performance.now() - tImages) / 1000;

    log(`storing ${o.deployments} workloads, ${o.deployments * 3} pods on ${o.nodes} nodes and evaluating them`);
    const seedRun = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'bench', 'fleet', 'seed-inventory.ts'), JSON.stringify({ database: o.database, dataDir: tempDir('fleet-seed'), nodes: o.nodes, deployments: o.deployments, seed: o.seed })], { encoding: 'utf8', maxBuffer: 1 << 24 });
    if (seedRun.status !== 0) throw new Error(`inventory process failed: ${seedRun.stderr.trim().split('\n').slice(-5).join(' | ')}`);
    const seed = JSON.parse(seedRun.stdout.trim().split('\n').pop()!) as SeedInventoryResult;

    // Deployment ids for the detail probe: the first pages of the risk list.
    const ids: string[] = [];
    let cursor: string | undefined;
    for (let p = 0; p < 4; p++) {
      const page = JSON.parse((await again(() => centrals[0]!.get(`/api/v1/deployments?sort=risk&limit=50${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`))).text) as { items: { id: string }[]; nextCursor?: string };
      ids.push(...page.items.map((x) => x.id));
      if (!page.nextCursor) break;
      cursor = page.nextCursor;
    }
    if (!ids.length) throw new Error('Central lists no deployments after the inventory was stored');

    const dbSize = async () => Number((await client.query<{ s: string }>('SELECT pg_database_size(current_database()) AS s')).rows[0]!.s);
    const size0 = await dbSize();
    const storedNow = async () => {
      let stored = 0;
      let duplicates = 0;
      let lag = 0;
      let pending = 0;
      for (const c of centrals) {
        const t = (await c.get('/metrics').catch(() => ({ text: '' }))).text;
        stored += metricValue(t, 'gatehouse_central_bus_events_total', 'outcome="stored"');
        duplicates += metricValue(t, 'gatehouse_central_bus_events_total', 'outcome="duplicate"');
        lag = Math.max(lag, metricValue(t, 'gatehouse_central_bus_lag_seconds'));
        pending = Math.max(pending, metricValue(t, 'gatehouse_central_bus_consumer_pending'));
      }
      return { stored, duplicates, lag, pending };
    };
    const base = await storedNow();
    const cpuCentral0 = centrals.map((c) => procCpuSeconds(c.pid));
    const rssBefore = centrals.map((c) => rssMiB(c.pid));
    const pg0 = postgresCpu(dbName);
    const nats0 = o.natsPid === undefined ? NaN : procCpuSeconds(o.natsPid);

    log(`publishing ${o.eventsPerSec} events/s for ${o.seconds} s from ${publishersN} publisher processes`);
    const run = `sim${o.seed}-${Date.now().toString(36)}`;
    const counters: PublisherCounters[] = Array.from({ length: publishersN }, () => ({ offered: 0, acked: 0, duplicates: 0, failed: 0, behind: 0, cpuSeconds: 0 }));
    const started = performance.now();
    const wallStarted = Date.now();
    const exits = Array.from({ length: publishersN }, (_, index) => {
      const args: PublisherArgs = { nats: o.nats, cluster: clusterName(o.seed), run, index, of: publishersN, rate: o.eventsPerSec / publishersN, seconds: o.seconds, flowShare: o.flowShare ?? 0.3, nodes: o.nodes, deployments: o.deployments, seed: o.seed };
      const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'bench', 'fleet', 'publisher.ts'), JSON.stringify(args)], { stdio: ['ignore', 'pipe', 'pipe'] });
      let err = '';
      child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-2000)));
      createInterface({ input: child.stdout }).on('line', (l) => {
        try {
          counters[index] = JSON.parse(l) as PublisherCounters;
        } catch {
          // not a counters line
        }
      });
      return new Promise<void>((resolve, reject) => child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`publisher ${index} exited ${code}: ${err.trim().split('\n').slice(-3).join(' | ')}`)))));
    });

    // The API probe: the risk list's first page and a deployment's detail in turn, as a console user does.
    const riskList: number[] = [];
    const detail: number[] = [];
    let probing = true;
    const probe = (async () => {
      for (let k = 0; probing; k++) {
        const c = centrals[k % centrals.length]!;
        const t = performance.now();
        const res = await again(() => (k % 2 === 0 ? c.get('/api/v1/deployments?sort=risk&limit=50') : c.get(`/api/v1/deployments/${encodeURIComponent(ids[k % ids.length]!)}`)));
        if (res.status !== 200) throw new Error(`API probe: ${res.status} ${res.text.slice(0, 200)}`);
        (k % 2 === 0 ? riskList : detail).push(performance.now() - t);
        await sleep(o.apiEveryMs ?? 100);
      }
    })();
    const lags: number[] = [];
    let backlogMax = 0;
    const rssPeak = centrals.map(() => 0);
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        await sleep(1000);
        const s = await storedNow();
        lags.push(s.lag);
        // In events: JetStream's pending count is in messages, and a message holds a batch (session 6).
        const ackedSoFar = counters.reduce((n, c) => n + c.acked, 0);
        backlogMax = Math.max(backlogMax, ackedSoFar - (s.stored + s.duplicates - base.stored - base.duplicates));
        centrals.forEach((c, i) => (rssPeak[i] = Math.max(rssPeak[i]!, rssMiB(c.pid))));
      }
    })();

    let publishError: unknown;
    await Promise.all(exits).catch((e: unknown) => (publishError = e));
    const publishedAt = performance.now();
    const atPublishEnd = await storedNow();
    probing = false;
    await probe;
    if (publishError) throw publishError;
    const acked = counters.reduce((n, c) => n + c.acked, 0);
    log(`published: ${acked} acknowledged; waiting for Central to store them`);
    let drained = false;
    let last = atPublishEnd;
    const drainUntil = performance.now() + (o.drainTimeoutS ?? 120) * 1000;
    while (performance.now() < drainUntil) {
      last = await storedNow();
      if (last.stored + last.duplicates - base.stored - base.duplicates >= acked) {
        drained = true;
        break;
      }
      await sleep(250);
    }
    const storedAt = performance.now();
    sampling = false;
    await sampler;
    const stored = last.stored - base.stored;
    const cpuCentral = centrals.reduce((n, c, i) => n + procCpuSeconds(c.pid) - cpuCentral0[i]!, 0);
    let cpuPg = 0;
    for (const [pid, cpu] of postgresCpu(dbName)) cpuPg += cpu - (pg0.get(pid) ?? 0);
    const cpuPublishers = counters.reduce((n, c) => n + c.cpuSeconds, 0);
    // The same window as Central's and PostgreSQL's: from before the first publish to the last commit.
    const cpuNats = o.natsPid === undefined ? NaN : procCpuSeconds(o.natsPid) - nats0;
    const grown = (await dbSize()) - size0;
    // The publishing window by the publishers' own clocks: their start-up (tsx, the fleet model) is not publishing time.
    const firstStart = Math.min(...counters.map((c) => c.startedAt ?? Infinity));
    const lastEnd = Math.max(...counters.map((c) => c.endedAt ?? 0));
    const pubSecs = Number.isFinite(firstStart) && lastEnd > firstStart ? (lastEnd - firstStart) / 1000 : (publishedAt - started) / 1000;
    const startupSecs = Number.isFinite(firstStart) ? Math.max(0, (firstStart - wallStarted) / 1000) : 0;
    const perEvent = stored > 0 ? grown / stored : 0;
    const ms = (cpu: number) => (stored > 0 ? (cpu * 1000) / stored : 0);
    // The publishers and nats-server handled every acknowledged event, stored or not: per stored
    // event a run that did not drain would over-state them (by 2× in a run that stored half).
    const perAcked = (cpu: number) => (acked > 0 ? (cpu * 1000) / acked : 0);
    const heapSnapshots = HEAP_DIR ? await writeHeapSnapshots(centrals.map((c) => c.pid), log) : undefined;
    const load = (readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number)) as [number, number, number];
    return {
      nodes: o.nodes, deployments: seed.deployments, pods: o.deployments * 3, images, objects: seed.objects, violations: seed.violations,
      imagesPushSeconds, inventorySinkSeconds: seed.sinkMs / 1000, evaluationSeconds: seed.evalMs / 1000,
      offeredPerSec: counters.reduce((n, c) => n + c.offered, 0) / pubSecs, ackedPerSec: acked / pubSecs,
      behind: counters.reduce((n, c) => n + c.behind, 0), failed: counters.reduce((n, c) => n + c.failed, 0),
      storedPerSecDuringLoad: (atPublishEnd.stored - base.stored) / pubSecs, storedPerSecEndToEnd: stored / ((storedAt - started) / 1000 - startupSecs),
      acked, stored, duplicates: last.duplicates - base.duplicates, drainSeconds: (storedAt - publishedAt) / 1000, drained,
      lagSeconds: pct(lags), backlogMax, riskList: pct(riskList), detail: pct(detail),
      dbBytesPerEvent: perEvent, dbGiBPerDayAtRate: (perEvent * o.eventsPerSec * 86_400) / 2 ** 30,
      centralRssMiB: centrals.map((c) => rssMiB(c.pid)), centralRssPeakMiB: centrals.map((c, i) => Math.max(rssPeak[i]!, peakMiB(c.pid))),
      centralRssBeforeMiB: rssBefore, ...(heapSnapshots ? { heapSnapshots } : {}),
      cpuMsPerEvent: { central: ms(cpuCentral), postgres: ms(cpuPg), publishers: perAcked(cpuPublishers), nats: perAcked(cpuNats) },
      load,
    };
  } catch (e) {
    // What Central said last says why a request failed (it exited, it refused).
    const said = centrals.map((c, i) => `Central ${i} (pid ${c.pid}): ${c.output().slice(-1500)}`).join('\n');
    throw new Error(`${(e as Error).message}${said ? `\n${said}` : ''}`, { cause: e });
  } finally {
    for (const c of centrals) await c.stop();
    await client.end().catch(() => undefined);
  }
}

/** The figures as aligned lines, each beside its goal or the anchor's sizing. */
export function describeFigures(f: FleetFigures, eventsPerSec: number): string[] {
  const l = (k: string, v: string, anchor = '') => `${k.padEnd(36)} ${v.padEnd(52)} ${anchor}`.trimEnd();
  const p = (x: Percentiles, unit = 'ms', d = 1) => `p50 ${x.p50.toFixed(d)} / p99 ${x.p99.toFixed(d)} / max ${x.max.toFixed(d)} ${unit} (${x.n})`;
  return [
    l('fleet', `${f.nodes} nodes, ${f.deployments} deployments, ${f.pods} pods, ${f.images} images`, 'RHACS sizing: < 50k deployments'),
    l('setup', `images ${f.imagesPushSeconds.toFixed(1)} s, sink ${f.inventorySinkSeconds.toFixed(1)} s, evaluation ${f.evaluationSeconds.toFixed(1)} s (${f.objects} objects, ${f.violations} violations)`),
    l('offered / acknowledged by JetStream', `${f.offeredPerSec.toFixed(0)} / ${f.ackedPerSec.toFixed(0)} events/s (target ${eventsPerSec}; ${f.behind} not made, ${f.failed} failed)`),
    l('stored while publishing', `${f.storedPerSecDuringLoad.toFixed(0)} events/s`, 'goal ≥ 10,000 events/s'),
    l('stored end to end', `${f.storedPerSecEndToEnd.toFixed(0)} events/s (${f.stored} stored, ${f.duplicates} duplicates, drain ${f.drainSeconds.toFixed(1)} s${f.drained ? '' : ', NOT drained'})`),
    l('bus lag (oldest event of a batch)', p(f.lagSeconds, 's', 2), 'goal ≤ 2 s'),
    l('backlog (acknowledged, not stored), max', `${f.backlogMax} events`),
    l('risk list first page under load', p(f.riskList), 'goal p99 ≤ 200 ms'),
    l('deployment detail under load', p(f.detail), 'goal p99 ≤ 200 ms'),
    l('PostgreSQL growth', `${f.dbBytesPerEvent.toFixed(0)} B/event; ${f.dbGiBPerDayAtRate.toFixed(0)} GiB/day at ${eventsPerSec}/s`, 'RHACS DB: 32 cores / 32 GiB'),
    l('Central RSS before publishing', `${f.centralRssBeforeMiB.map((x) => x.toFixed(0)).join(', ')} MiB${f.heapSnapshots ? `; heap snapshots ${f.heapSnapshots.join(', ')}` : ''}`, ''),
    l('Central RSS now / peak', `${f.centralRssMiB.map((x) => x.toFixed(0)).join(', ')} / ${f.centralRssPeakMiB.map((x) => x.toFixed(0)).join(', ')} MiB`, 'RHACS Central: 6 cores / 16 GiB'),
    l('CPU ms per event (stored / acked)', `Central ${f.cpuMsPerEvent.central.toFixed(3)}, PostgreSQL ${f.cpuMsPerEvent.postgres.toFixed(3)}, publishers ${f.cpuMsPerEvent.publishers.toFixed(3)}, nats-server ${Number.isNaN(f.cpuMsPerEvent.nats) ? 'not measured' : f.cpuMsPerEvent.nats.toFixed(3)}`),
    l('machine load (1/5/15 min)', f.load.map((x) => x.toFixed(2)).join(' ')),
  ];
}
