/**
 * What incident correlation costs Central and its store per bus event, with the store: the
 * fleet's events (bench/fleet/model.ts) in fetches of --fetch events, each fetch's node batches
 * emitted as the `event-batch` notices the consumer emits after its commit, so the incident
 * service and the flow feed (as in Central) correlate them and write the changed incidents;
 * the next fetch starts when that write is done (the worst case: no fetches coalesce). The
 * events themselves are not stored (bench/fleet/ingest-cost.ts measures that). Prints CPU ms
 * per event of this process (Central's share) and of the database's backends, the incident
 * rows written per fetch and their body size.
 *
 *   node --import tsx bench/bus-cpu-incidents.bench.ts [--store postgres|sqlite] [--deployments 15000]
 *     [--nodes 1000] [--events 40000] [--fetch 2000] [--rate 10000] [--warm 10000]
 * --warm N: events correlated and written before the measured ones (timelines fill as in a run).
 */
import type { EventBatch } from '../src/central/client/ingest-types.js';
import { createCentralContext } from '../src/central/context.js';
import { incidentFlowsJob } from '../src/central/incidents/flow-feed.js';
import { EVENT_BATCH_NOTICE, incidentService } from '../src/central/incidents/service.js';
import { openStore } from '../src/central/store/open.js';
import { freshDatabase } from '../test/helpers/postgres.js';
import { tempDir } from '../test/bus/helpers.js';
import { NodeEventMaker, clusterName, nodeName, podsByNode, prng } from './fleet/model.js';
import { postgresBackendsCpu } from './proc-stats.js';

const arg = (f: string, d: number) => (process.argv.includes(f) ? Number(process.argv[process.argv.indexOf(f) + 1]) : d);
const STORE = process.argv.includes('--store') ? process.argv[process.argv.indexOf('--store') + 1] : 'postgres';
const DEPLOYMENTS = arg('--deployments', 15_000);
const NODES = arg('--nodes', 1000);
const EVENTS = arg('--events', 40_000);
const WARM = arg('--warm', 10_000);
const FETCH = arg('--fetch', 2000);
const RATE = arg('--rate', 10_000);
const SEED = 21;

const pgDb = STORE === 'postgres' ? await freshDatabase() : undefined;
const dataDir = tempDir('bus-cpu-incidents');
const store = await openStore({ ...(pgDb ? { database: pgDb.url } : {}), dataDir });
let clock = Date.parse('2026-12-07T22:00:00Z');
const ctx = await createCentralContext(store, () => new Date(clock), { dataDir });
const service = incidentService(ctx, { onError: (e) => console.error(`write failed: ${String(e)}`) });
const abort = new AbortController();
const noop = () => undefined;
const job = incidentFlowsJob(ctx, abort.signal, { log: { error: noop, warn: noop, info: noop, debug: noop } } as never);

const byNode = podsByNode({ nodes: NODES, deployments: DEPLOYMENTS, seed: SEED });
const maker = new NodeEventMaker('run', DEPLOYMENTS, prng(5), { flowShare: 0.3 });
const seq = new Array<number>(NODES).fill(0);
let cursor = 0;

async function fetches(events: number): Promise<void> {
  for (let done = 0; done < events; done += FETCH) {
    const time = new Date(clock).toISOString();
    const batches = new Map<number, EventBatch>();
    for (let k = 0; k < FETCH; k++) {
      const n = cursor++ % NODES;
      let b = batches.get(n);
      if (!b) batches.set(n, (b = { source: { kind: 'sensor', cluster: clusterName(SEED), node: nodeName(n) }, events: [] }));
      b.events.push(maker.event(n, ++seq[n]!, byNode[n]!, time));
    }
    for (const b of batches.values()) ctx.events.emit(EVENT_BATCH_NOTICE, b);
    await service.idle();
    clock += (FETCH / RATE) * 1000;
  }
}

try {
  await fetches(WARM);
  const c0 = process.cpuUsage();
  const pg0 = pgDb ? postgresBackendsCpu(pgDb.name) : 0;
  const t0 = performance.now();
  await fetches(EVENTS);
  const secs = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  const pgCpu = pgDb ? postgresBackendsCpu(pgDb.name) - pg0 : 0;
  const rows = await store.db.selectFrom('incidents').select((eb) => [eb.fn.countAll<number>().as('n'), eb.fn.sum<number>(eb.fn('length', ['body'])).as('bytes')]).executeTakeFirstOrThrow();
  // Timelines are rows of their own since migration 0016: a body is its head and its entries.
  const entries = await store.db.selectFrom('incident_timeline').select((eb) => eb.fn.sum<number>(eb.fn('length', ['entries'])).as('bytes')).executeTakeFirstOrThrow();
  rows.bytes = Number(rows.bytes) + Number(entries.bytes ?? 0);
  const mem = process.memoryUsage();
  console.log(`${EVENTS} events after ${WARM} (${DEPLOYMENTS} deployments, ${NODES} nodes, ${STORE}), fetches of ${FETCH}: ${secs.toFixed(1)} s; incidents stored ${rows.n}, mean body ${(Number(rows.bytes) / Number(rows.n) / 1024).toFixed(1)} KiB`);
  console.log(`CPU ms per event: Central ${(((c.user + c.system) / 1000) / EVENTS).toFixed(4)}${pgDb ? `, PostgreSQL ${((pgCpu * 1000) / EVENTS).toFixed(4)}` : ''}; heap used ${(mem.heapUsed / 2 ** 20).toFixed(0)} MiB, RSS ${(mem.rss / 2 ** 20).toFixed(0)} MiB`);
} finally {
  abort.abort();
  await job;
  await service.stop();
  await store.close();
  await pgDb?.drop().catch((e: Error) => console.error(`could not drop ${pgDb.name}: ${e.message}`));
}
