/**
 * One publisher process of the fleet simulator: the sensors of a share of the nodes
 * (node n belongs to process n mod P), each publishing its events to JetStream through the
 * sensor's BusPublisher (subject per cluster, message id = event id, a batch resolves when
 * every PubAck is in). Open loop: every `tickMs` each node sends the events due at the
 * process's rate, whatever the acks do, up to `maxInFlight` events awaiting their PubAcks
 * (past it the events are not made: counted as `behind`, the offered rate shows it).
 * The sensor's disk spool is left out: bench:sensor measures it; here the bus and Central are.
 *
 * argv[2]: JSON PublisherArgs. Prints a JSON line of counters every second and a last one
 * with `done: true` after `seconds` (or at SIGTERM), once the batches in flight are settled.
 */
import { BusPublisher } from '../../src/central/client/bus-publisher.js';
import type { EventBatch } from '../../src/central/client/ingest-types.js';
import { NodeEventMaker, nodeName, podsByNode, prng, type FleetSize } from './model.js';

export interface PublisherArgs extends FleetSize {
  nats: string;
  cluster: string;
  /** Prefix of event ids: unique per run. */
  run: string;
  /** This process is `index` of `of`. */
  index: number;
  of: number;
  /** Events per second this process offers. */
  rate: number;
  seconds: number;
  flowShare: number;
  tickMs?: number;
  maxInFlight?: number;
}

export interface PublisherCounters {
  offered: number; acked: number; duplicates: number; failed: number; behind: number; done?: boolean; cpuSeconds: number;
  /** Wall clock (ms since the epoch) of the first event made and of the end of publishing. */
  startedAt?: number; endedAt?: number;
}

const a = JSON.parse(process.argv[2]!) as PublisherArgs;
const tickMs = a.tickMs ?? 200;
const maxInFlight = a.maxInFlight ?? 50_000;
const byNode = podsByNode(a);
// Each node's source is one object, shared by its batches.
const mine = byNode.map((pods, n) => ({ n, pods, seq: 0, source: { kind: 'sensor' as const, cluster: a.cluster, host: nodeName(n), node: nodeName(n) } })).filter((x) => x.n % a.of === a.index && x.pods.length > 0);
const maker = new NodeEventMaker(a.run, a.deployments, prng(a.seed * 31 + a.index), { flowShare: a.flowShare });
const publisher = new BusPublisher({ url: a.nats, name: `fleet-sim-${a.index}`, timeoutMs: 30_000 });
const c: PublisherCounters = { offered: 0, acked: 0, duplicates: 0, failed: 0, behind: 0, cpuSeconds: 0 };
let inFlight = 0;
const pending = new Set<Promise<void>>();
let stopping = false;
process.on('SIGTERM', () => (stopping = true));

const report = () => {
  const u = process.cpuUsage();
  c.cpuSeconds = (u.user + u.system) / 1e6;
  process.stdout.write(`${JSON.stringify(c)}\n`);
};
const reporter = setInterval(report, 1000);

function send(batch: EventBatch): void {
  inFlight += batch.events.length;
  c.offered += batch.events.length;
  const p = (async () => {
    // As the sensor's shipper does: a batch that failed is sent again (JetStream drops copies by id).
    for (let attempt = 1; attempt <= 5; attempt++) {
      try {
        const res = await publisher.post<{ stored: number; duplicates: number }>('/api/v1/ingest/events', batch);
        c.acked += res.stored;
        c.duplicates += res.duplicates;
        return;
      } catch {
        if (stopping && attempt >= 2) break;
      }
    }
    c.failed += batch.events.length;
  })().finally(() => {
    inFlight -= batch.events.length;
    pending.delete(p);
  });
  pending.add(p);
}

const started = performance.now();
c.startedAt = Date.now();
let made = 0;
let cursor = 0;
while (!stopping && performance.now() - started < a.seconds * 1000) {
  const due = Math.floor(((performance.now() - started) / 1000) * a.rate) - made;
  if (due > 0) {
    const room = Math.max(0, maxInFlight - inFlight);
    const n = Math.min(due, room);
    c.behind += due - n;
    made += due;
    // Spread over the nodes round-robin; one batch per node per tick, as a sensor flushes.
    const batches = new Map<number, EventBatch>();
    const time = new Date().toISOString();
    for (let k = 0; k < n; k++) {
      const node = mine[cursor++ % mine.length]!;
      let b = batches.get(node.n);
      if (!b) batches.set(node.n, (b = { source: node.source, events: [] }));
      b.events.push(maker.event(node.n, ++node.seq, node.pods, time));
    }
    for (const b of batches.values()) send(b);
  }
  await new Promise((res) => setTimeout(res, tickMs));
}
stopping = true;
await Promise.all(pending);
c.endedAt = Date.now();
clearInterval(reporter);
await publisher.close();
c.done = true;
report();
