/**
 * What one bus event costs Central to store, without the bus: the fleet's inventory in a
 * fresh PostgreSQL database (seed-inventory.ts), then batches of the fleet's events (the
 * publishers' mix) in batch messages of --per-message events of one node (as BusPublisher sends
 * a sensor's batch; 1 = the older one-event messages), parsed as the consumer parses them
 * (parseBusPayload) and stored as it
 * stores them (ingestBusBatches: storeEventBatch in one transaction). Prints CPU ms per
 * event of this process (Central's share) and of the database's backends, and events/s.
 *
 *   node --import tsx bench/fleet/ingest-cost.ts [--deployments 1000] [--events 20000] [--batch 1000] [--per-message 2] [--flow-share 0.3] [--settled] [--stats]
 * (--batch: events per fetch, i.e. per transaction)
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { createCentralContext } from '../../src/central/context.js';
import { ingestBusBatches, parseBusPayload, batchesOf, type ParsedBusPayload } from '../../src/central/bus/ingest.js';
import { networkIndexOf } from '../../src/central/network/endpoints.js';
import { openStore } from '../../src/central/store/open.js';
import type { BusBatchMessage } from '../../src/central/client/bus-publisher.js';
import type { IngestEvent } from '../../src/central/client/ingest-types.js';
import { freshDatabase } from '../../test/helpers/postgres.js';
import { tempDir } from '../../test/bus/helpers.js';
import { postgresBackendsCpu } from '../proc-stats.js';
import { clusterName, imageCount, nodeEvent, nodeName, podOf, podsByNode, prng } from './model.js';
import pg from 'pg';

const arg = (flag: string, dflt: number) => (process.argv.includes(flag) ? Number(process.argv[process.argv.indexOf(flag) + 1]) : dflt);
const DEPLOYMENTS = arg('--deployments', 1000);
const EVENTS = arg('--events', 20_000);
const BATCH = arg('--batch', 1000);
const FLOW_SHARE = arg('--flow-share', 0.3);
const NODES = arg('--nodes', 1000);
const PER_MESSAGE = Math.max(1, arg('--per-message', 2));
const SEED = 7;
/** --stats: also print which tables and indexes the stored events made PostgreSQL read (pg_stat_user_*, this run only). */
const STATS = process.argv.includes('--stats');
/**
 * --settled: measure the steady state. Central's network index reads the whole inventory once
 * when it starts, then re-reads the objects stamped within its re-read window (5 s) at each
 * refresh until they are older than that; the seed has just stamped every object, so without
 * this the first seconds of the run re-read all 45,000 pods at every fetch (a start-up cost).
 * With it: wait past the window, read the index once, then measure.
 */
const SETTLED = process.argv.includes('--settled');

type TableReads = Map<string, number>;

/** Rows read per table (sequential scans) and per index, from the statistics views (no superuser needed). */
async function tableReads(url: string): Promise<TableReads> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    // The statistics of other backends reach the views when they flush (at most a second after a transaction).
    await new Promise((r) => setTimeout(r, 1500));
    const out: TableReads = new Map();
    for (const r of (await client.query<{ relname: string; n: string }>('select relname, seq_tup_read as n from pg_stat_user_tables')).rows) out.set(`${r.relname} (seq scan)`, Number(r.n));
    for (const r of (await client.query<{ indexrelname: string; n: string; scans: string }>('select indexrelname, idx_tup_read as n, idx_scan as scans from pg_stat_user_indexes')).rows) {
      out.set(r.indexrelname, Number(r.n));
      out.set(`${r.indexrelname} scans`, Number(r.scans));
    }
    return out;
  } finally {
    await client.end();
  }
}

function printReads(before: TableReads, after: TableReads, events: number): void {
  const rows = [...after].filter(([k]) => !k.endsWith(' scans')).map(([k, v]) => ({ k, rows: v - (before.get(k) ?? 0), scans: (after.get(`${k} scans`) ?? 0) - (before.get(`${k} scans`) ?? 0) }))
    .filter((r) => r.rows > 0).sort((a, b) => b.rows - a.rows).slice(0, 12);
  console.log('rows read per event (table scans and index entries), top 12:');
  for (const r of rows) console.log(`  ${r.k}: ${(r.rows / events).toFixed(2)}${r.k.endsWith('(seq scan)') ? '' : ` (${r.scans} scans)`}`);
}

const db = await freshDatabase();
try {
  const dataDir = tempDir('ingest-cost');
  const seed = spawnSync(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'seed-inventory.ts'), JSON.stringify({ database: db.url, dataDir, nodes: NODES, deployments: DEPLOYMENTS, seed: SEED })], { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (seed.status !== 0) throw new Error(seed.stderr);
  const store = await openStore({ database: db.url, dataDir });
  const ctx = await createCentralContext(store, undefined, { dataDir });
  const byNode = podsByNode({ nodes: NODES, deployments: DEPLOYMENTS, seed: SEED });
  const images = imageCount(DEPLOYMENTS);
  const r = prng(SEED);
  const cluster = clusterName(SEED);
  const payloads: { events: number; data: Uint8Array }[] = [];
  const enc = new TextEncoder();
  const open = new Map<number, IngestEvent[]>();
  const flush = (node: number) => {
    const events = open.get(node);
    if (!events?.length) return;
    open.delete(node);
    payloads.push({ events: events.length, data: enc.encode(JSON.stringify({ source: { kind: 'sensor', cluster, host: nodeName(node), node: nodeName(node) }, events } satisfies BusBatchMessage)) });
  };
  for (let k = 0; k < EVENTS; k++) {
    const node = k % NODES;
    if (!byNode[node]!.length) continue;
    const event = nodeEvent('cost', node, k, byNode[node]!, (i) => podOf(i, Math.floor(r() * 3), images), DEPLOYMENTS, r, { flowShare: FLOW_SHARE }, new Date());
    if (!open.has(node)) open.set(node, []);
    open.get(node)!.push(event);
    if (open.get(node)!.length >= PER_MESSAGE) flush(node);
  }
  for (const node of [...open.keys()]) flush(node);
  if (SETTLED) {
    await new Promise((r) => setTimeout(r, 6000));
    await networkIndexOf(ctx).source(store.db, 'cluster', cluster);
  }
  const reads0 = STATS ? await tableReads(db.url) : undefined;
  const cpu0 = process.cpuUsage();
  const pg0 = postgresBackendsCpu(db.name);
  const t0 = performance.now();
  let parseCpu = 0;
  let stored = 0;
  let total = 0;
  // One fetch: as many messages as hold BATCH events.
  for (let i = 0; i < payloads.length;) {
    const fetch: typeof payloads = [];
    for (let n = 0; i < payloads.length && n < BATCH; i++) {
      fetch.push(payloads[i]!);
      n += payloads[i]!.events;
    }
    const p0 = process.cpuUsage();
    const msgs = fetch.flatMap((p) => (parseBusPayload(p.data) as ParsedBusPayload).messages);
    const pu = process.cpuUsage(p0);
    parseCpu += (pu.user + pu.system) / 1e6;
    total += msgs.length;
    stored += (await ingestBusBatches(ctx, batchesOf(msgs))).stored;
  }
  const secs = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const nodeCpu = (cpu.user + cpu.system) / 1e6;
  const pgCpu = postgresBackendsCpu(db.name) - pg0;
  console.log(`${stored} of ${total} events stored (${DEPLOYMENTS} deployments, flow share ${FLOW_SHARE}, fetches of ${BATCH}, ${PER_MESSAGE} per message) in ${secs.toFixed(1)} s: ${(stored / secs).toFixed(0)}/s wall`);
  console.log(`CPU ms per event: Central ${((nodeCpu * 1000) / stored).toFixed(3)} (of which parse ${((parseCpu * 1000) / stored).toFixed(3)}), PostgreSQL ${((pgCpu * 1000) / stored).toFixed(3)}`);
  if (reads0) printReads(reads0, await tableReads(db.url), stored);
  await store.close();
} finally {
  await dropDatabase();
}

/** Drops the bench's database; an autovacuum worker still in it (a backend of another role) makes DROP … FORCE fail, so wait and retry. */
async function dropDatabase(): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await db.drop();
    } catch (e) {
      if (attempt >= 20) throw e;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}
