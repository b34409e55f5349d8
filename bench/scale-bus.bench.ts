/**
 * `node --import tsx bench/scale-bus.bench.ts [--rate 10000] [--seconds 20] [--centrals 1|2] [--nodes 1000]`:
 * sustained event ingest end to end through the bus, with real parts on this machine:
 * a nats-server (JetStream, file store), `gatehouse server --nats … --database postgres://…`
 * processes (1 or 2, sharing the durable consumer) on one fresh PostgreSQL database, and
 * publishers in this process (BusPublisher, one subject per node, batches awaiting their
 * PubAcks — the sensor's path without its disk spool, which `bench:sensor` measures).
 *
 * Figures: offered and acknowledged publish rate, stored events/s end to end (first publish
 * to last commit), lag (gatehouse_central_bus_lag_seconds, sampled each second; and the
 * backlog, consumer_pending), PostgreSQL bytes per event and per day at the offered rate,
 * Central RSS. The goal of issue 21: ≥ 10,000 events/s end to end with lag ≤ 2 s.
 * The anchor: RHACS sizes Central at 6 cores / 16 GiB plus 32 cores / 32 GiB for its
 * database below 50k deployments; this runs on 2 shared cores.
 */
import { readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import pg from 'pg';
import { BusPublisher } from '../src/central/client/bus-publisher.js';
import type { IngestEvent } from '../src/central/client/ingest-types.js';
import { freshDatabase } from '../test/helpers/postgres.js';
import { metricValue, startCentralCli, startNats, waitFor, type CentralProcess } from '../test/bus/helpers.js';

const arg = (flag: string, dflt: number) => (process.argv.includes(flag) ? Number(process.argv[process.argv.indexOf(flag) + 1]) : dflt);
const RATE = arg('--rate', 10_000);
const SECONDS = arg('--seconds', 20);
const CENTRALS = arg('--centrals', 1);
const NODES = arg('--nodes', 1000);
const BATCH = 500;

const RULES = ['Terminal shell in container', 'Write below etc', 'Read sensitive file untrusted', 'Outbound connection to C2 server', 'Launch privileged container'];

function event(i: number): IngestEvent {
  const node = i % NODES;
  return {
    id: `bench:${i}`,
    type: 'alert',
    time: new Date().toISOString(),
    finding: {
      id: `falco-${i % RULES.length}`, kind: 'runtime', severity: i % 7 === 0 ? 'CRITICAL' : 'HIGH', title: RULES[i % RULES.length]!,
      detail: `A shell was spawned in a container with an attached terminal (user=root container_id=${(i * 7919).toString(16).padStart(12, '0')} image=registry.example/shop/web:1.${i % 40} shell=bash parent=runc cmdline=bash -il)`,
      resource: { host: `node-${node}`, container: { id: (i * 7919).toString(16).padStart(12, '0'), name: `web-${i % 300}`, image: `registry.example/shop/web:1.${i % 40}` } },
    },
  };
}

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

const db = await freshDatabase();
const nats = await startNats();
const centrals: CentralProcess[] = [];
const client = new pg.Client({ connectionString: db.url });
try {
  for (let i = 0; i < CENTRALS; i++) centrals.push(await startCentralCli(['--database', db.url, '--nats', nats.url, '--log-level', 'warn']));
  await client.connect();
  const publishers = Array.from({ length: 4 }, () => new BusPublisher({ url: nats.url, timeoutMs: 30_000 }));
  const total = RATE * SECONDS;
  const lags: number[] = [];
  const pendings: number[] = [];
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      await new Promise((r) => setTimeout(r, 1000));
      let lag = 0;
      let pending = 0;
      for (const c of centrals) {
        const t = (await c.get('/metrics').catch(() => ({ text: '' }))).text;
        lag = Math.max(lag, metricValue(t, 'gatehouse_central_bus_lag_seconds'));
        pending = Math.max(pending, metricValue(t, 'gatehouse_central_bus_consumer_pending'));
      }
      lags.push(lag);
      pendings.push(pending);
    }
  })();

  // Open loop: batches are started on schedule whatever the acks do; at most 16 batches in flight.
  const started = performance.now();
  let acked = 0;
  let retries = 0;
  const inFlight = new Set<Promise<void>>();
  for (let b = 0; b * BATCH < total; b++) {
    const due = started + ((b * BATCH) / RATE) * 1000;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    while (inFlight.size >= 16) await Promise.race(inFlight);
    const events = Array.from({ length: Math.min(BATCH, total - b * BATCH) }, (_, k) => event(b * BATCH + k));
    const node = b % NODES;
    const publisher = publishers[b % publishers.length]!;
    const batch = { source: { kind: 'sensor' as const, cluster: 'bench', host: `node-${node}`, node: `node-${node}` }, events };
    // As the sensor's shipper does: a batch that timed out is sent again (JetStream drops the copies by id).
    const p = (async () => {
      for (let attempt = 1; ; attempt++) {
        try {
          await publisher.post('/api/v1/ingest/events', batch);
          acked += events.length;
          return;
        } catch (e) {
          retries++;
          if (attempt >= 10) throw e;
        }
      }
    })();
    const tracked = p.finally(() => inFlight.delete(tracked));
    inFlight.add(tracked);
  }
  await Promise.all(inFlight);
  const publishedAt = performance.now();
  await waitFor('every event stored', async () => Number((await client.query<{ n: string }>('SELECT count(*) AS n FROM events')).rows[0]!.n) >= total, 600_000, 200);
  const storedAt = performance.now();
  sampling = false;
  await sampler;
  const size = Number((await client.query<{ s: string }>("SELECT pg_total_relation_size('events') AS s")).rows[0]!.s);
  const rss = centrals.map((c) => rssMiB(c.pid));
  for (const p of publishers) await p.close();

  const pubSecs = (publishedAt - started) / 1000;
  const e2eSecs = (storedAt - started) / 1000;
  const sorted = [...lags].sort((a, b) => a - b);
  const pct = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  const perEvent = size / total;
  const line = (k: string, v: string, anchor = '') => console.log(`${k.padEnd(34)} ${v.padEnd(28)} ${anchor}`);
  console.log(`\nbus ingest: ${total} events (${NODES} node subjects), ${CENTRALS} Central(s), PostgreSQL 15, nats-server JetStream; ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(1)} GiB (shared)\n`);
  line('offered rate', `${RATE} events/s for ${SECONDS} s`);
  line('acknowledged by JetStream', `${(acked / pubSecs).toFixed(0)} events/s (${retries} batches re-sent after a timeout)`);
  line('stored end to end', `${(total / e2eSecs).toFixed(0)} events/s`, 'goal ≥ 10,000 events/s');
  line('drain after the last publish', `${((storedAt - publishedAt) / 1000).toFixed(1)} s`);
  line('lag (oldest event of a batch)', `p50 ${pct(0.5).toFixed(2)} s, p99 ${pct(0.99).toFixed(2)} s, max ${(sorted.at(-1) ?? 0).toFixed(2)} s`, 'goal ≤ 2 s');
  line('backlog (consumer pending), max', `${Math.max(0, ...pendings)} events`);
  line('PostgreSQL per event', `${perEvent.toFixed(0)} bytes (events table + indexes)`);
  line('PostgreSQL per day at offered rate', `${((perEvent * RATE * 86_400) / 2 ** 30).toFixed(0)} GiB`, 'RHACS: DB 32 cores / 32 GiB RAM < 50k deployments');
  line('Central RSS', rss.map((r) => `${r.toFixed(0)} MiB`).join(', '), 'RHACS Central: 6 cores / 16 GiB');
} finally {
  for (const c of centrals) await c.stop();
  await client.end().catch(() => undefined);
  await nats.stop();
  await db.drop();
}
