/**
 * One publisher process of the fleet simulator: the sensors of a share of the nodes
 * (node n belongs to process n mod P), each shipping its events to JetStream as a real
 * sensor with `--nats` does: the product's EventShipper (src/central/client/shipper.ts, its
 * default batch size and flush interval — 500 events or 1 s — and one batch in flight per
 * sensor) over the sensor's BusPublisher (subject per cluster, message id = a hash of the
 * event ids, a batch resolves when every PubAck is in). Nothing here chooses how events are
 * batched, so the model cannot drift from the product. The disk spool under the shipper is
 * replaced by an in-memory one (memory-spool.ts): bench:sensor measures the spool; here the
 * bus and Central are. An event's time is when it is made, so the wait for its batch to fill
 * is part of the lag Central reports, as in a real fleet.
 *
 * Open loop: every `tickMs` the events due at the process's rate are made and handed to the
 * nodes' shippers round-robin, whatever the acks do, up to `maxInFlight` events not yet
 * acknowledged (past it the events are not made: counted as `behind`, the offered rate
 * shows it).
 *
 * argv[2]: JSON PublisherArgs. Prints a JSON line of counters every second and a last one
 * with `done: true` after `seconds` (or at SIGTERM), once the shippers have sent what they hold.
 */
import { BusPublisher } from '../../src/central/client/bus-publisher.js';
import type { IngestEvent } from '../../src/central/client/ingest-types.js';
import { EventShipper } from '../../src/central/client/shipper.js';
import { MemorySpool } from './memory-spool.js';
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
/** Events made and not yet acknowledged, over all the nodes' spools. */
const waiting = { events: 0 };
// One shipper per node, with the sensor's defaults (no batchSize / flushIntervalMs given: eventShipperFor gives none either).
const shippers = mine.map((node) => new EventShipper({ client: publisher, spool: new MemorySpool<IngestEvent>(waiting), source: node.source }));
let stopping = false;
process.on('SIGTERM', () => (stopping = true));

const report = () => {
  const u = process.cpuUsage();
  c.cpuSeconds = (u.user + u.system) / 1e6;
  c.acked = 0;
  c.duplicates = 0;
  for (const s of shippers) {
    const st = s.stats();
    c.acked += st.sent;
    c.duplicates += st.duplicates;
  }
  process.stdout.write(`${JSON.stringify(c)}\n`);
};
const reporter = setInterval(report, 1000);

const started = performance.now();
c.startedAt = Date.now();
let made = 0;
let cursor = 0;
while (!stopping && performance.now() - started < a.seconds * 1000) {
  const due = Math.floor(((performance.now() - started) / 1000) * a.rate) - made;
  if (due > 0) {
    const n = Math.min(due, Math.max(0, maxInFlight - waiting.events));
    c.behind += due - n;
    c.offered += n;
    made += due;
    // Spread over the nodes round-robin; each node's shipper batches them as a sensor's does.
    const time = new Date().toISOString();
    for (let k = 0; k < n; k++) {
      const i = cursor++ % mine.length;
      const node = mine[i]!;
      shippers[i]!.submit(maker.event(node.n, ++node.seq, node.pods, time));
    }
  }
  await new Promise((res) => setTimeout(res, tickMs));
}
stopping = true;
// As a sensor stopping: what the shippers hold is sent now, without waiting for the flush interval.
await Promise.all(shippers.map((s) => s.close(60_000)));
c.endedAt = Date.now();
clearInterval(reporter);
c.failed = waiting.events;
await publisher.close();
c.done = true;
report();
