/**
 * Central's incident correlation per bus event, without the bus or a store: the fleet's events
 * (bench/fleet/model.ts, the publishers' mix) in fetches of --fetch events, one batch per node
 * as the consumer groups them, turned into correlator inputs as Central does (feed.ts,
 * flow-feed.ts) and correlated through engine.batch() once per fetch, as the incident service
 * does. The clock moves --fetch / --rate seconds per fetch. Prints CPU ms per event (the
 * inputs, the correlation and the changed incidents' snapshots; with --json also their JSON,
 * as the store writes them) and the heap the correlator holds at the end.
 *
 *   node --import tsx bench/bus-cpu-correlation.bench.ts [--deployments 15000] [--nodes 1000]
 *     [--events 60000] [--fetch 2000] [--rate 10000] [--json] [--reference]
 * (run with node --expose-gc for the heap the correlator holds after a full collection)
 * --reference: the correlator as it was before session 8 (test/incidents/incidents-reference-engine.ts).
 */
import { IncidentCorrelator } from '../src/runtime/incidents/engine.js';
import type { EventBatch } from '../src/central/client/ingest-types.js';
import { batchInputs } from '../src/central/incidents/feed.js';
import { FlowAddressBook, sensorFlowInputs } from '../src/central/incidents/flow-feed.js';
import type { CorrelationInput } from '../src/runtime/incidents/types.js';
import { ReferenceCorrelator } from '../test/incidents/incidents-reference-engine.js';
import { NodeEventMaker, clusterName, nodeName, podsByNode, prng } from './fleet/model.js';

const arg = (f: string, d: number) => (process.argv.includes(f) ? Number(process.argv[process.argv.indexOf(f) + 1]) : d);
const DEPLOYMENTS = arg('--deployments', 15_000);
const NODES = arg('--nodes', 1000);
const EVENTS = arg('--events', 60_000);
const FETCH = arg('--fetch', 2000);
const RATE = arg('--rate', 10_000);
const JSON_TOO = process.argv.includes('--json');
const SEED = 21;

const byNode = podsByNode({ nodes: NODES, deployments: DEPLOYMENTS, seed: SEED });
const maker = new NodeEventMaker('run', DEPLOYMENTS, prng(5), { flowShare: 0.3 });
const book = new FlowAddressBook();
let clock = Date.parse('2026-12-07T22:00:00Z');
const now = () => new Date(clock);
const engine = process.argv.includes('--reference') ? new ReferenceCorrelator({ now }) : new IncidentCorrelator({ now });
const seq = new Array<number>(NODES).fill(0);
let cursor = 0;
let cpuMs = 0;
let inputs = 0;
let jsonBytes = 0;
let updated = 0;
for (let done = 0; done < EVENTS; done += FETCH) {
  const time = new Date(clock).toISOString();
  const batches = new Map<number, EventBatch>();
  for (let k = 0; k < FETCH; k++) {
    const n = cursor++ % NODES;
    let b = batches.get(n);
    if (!b) batches.set(n, (b = { source: { kind: 'sensor', cluster: clusterName(SEED), node: nodeName(n) }, events: [] }));
    b.events.push(maker.event(n, ++seq[n]!, byNode[n]!, time));
  }
  const c0 = process.cpuUsage();
  const ins: CorrelationInput[] = [];
  for (const b of batches.values()) ins.push(...batchInputs(b), ...sensorFlowInputs(b, book));
  const batch = engine.batch();
  for (const i of ins) batch.ingest(i);
  const changes = batch.changes();
  if (JSON_TOO) for (const u of changes.updated) jsonBytes += JSON.stringify(u).length;
  const c1 = process.cpuUsage(c0);
  cpuMs += (c1.user + c1.system) / 1000;
  updated += changes.updated.length;
  inputs += ins.length;
  clock += (FETCH / RATE) * 1000;
}
// After a full collection (node --expose-gc): what the correlator holds, not garbage waiting.
(globalThis as { gc?: () => void }).gc?.();
const mem = process.memoryUsage();
console.log(`${EVENTS} events (${DEPLOYMENTS} deployments, ${NODES} nodes), ${inputs} correlator inputs, fetches of ${FETCH}: open ${engine.openCount}, pending ${engine.pendingCount}, incidents changed per fetch ${(updated / Math.ceil(EVENTS / FETCH)).toFixed(0)}${JSON_TOO ? `, JSON ${(jsonBytes / Math.ceil(EVENTS / FETCH) / 1e6).toFixed(2)} MB per fetch` : ''}`);
console.log(`CPU ms per event: ${(cpuMs / EVENTS).toFixed(4)}; heap used ${(mem.heapUsed / 2 ** 20).toFixed(0)} MiB, RSS ${(mem.rss / 2 ** 20).toFixed(0)} MiB`);
