/**
 * The incident correlator against its frozen reference (incidents-reference-engine.ts, the
 * engine before the waiting context got a link index and the idle sweep a bound): over many
 * generated inputs — alerts with process lineage, pods and public endpoints, flows that wait
 * and then join (lateral `via:` keys, chains of flows joining in one drain), exec audit events,
 * denials, out of time order, a clock that moves so incidents close idle, small and large
 * bounds — every ingest() result, every batch's changes, every sweep, the open incidents and
 * the pending count must equal the reference's. Fails on the first input that differs.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IncidentCorrelator, type CorrelationInput, type CorrelatorOptions } from '../../src/runtime/incidents/index.js';
import { rng } from '../helpers/random.js';
import { T0, inputs } from './generated-inputs.js';
import { ReferenceCorrelator } from './incidents-reference-engine.js';

interface Case { seed: number; n: number; spanMin: number; pools: number; options: Omit<CorrelatorOptions, 'now'>; chunk: number }

function run(c: Case): { inputs: number; drainedFlows: number; closed: number } {
  let clock = T0;
  const now = () => new Date(clock);
  const ref = new ReferenceCorrelator({ ...c.options, now });
  const eng = new IncidentCorrelator({ ...c.options, now });
  const all = inputs(c.seed, c.n, c.spanMin, c.pools);
  let drainedFlows = 0;
  let closed = 0;
  for (let at = 0; at < all.length; at += c.chunk) {
    // The clock walks through the span and past it: incidents close idle on the way.
    clock = T0 + Math.floor((at / all.length) * (c.spanMin + 40) * 60_000);
    const chunk = all.slice(at, at + c.chunk);
    if ((at / c.chunk) % 2 === 0) {
      for (const [k, i] of chunk.entries()) {
        const want = ref.ingest(i);
        const got = eng.ingest(i);
        assert.deepEqual(got, want, `${JSON.stringify(c)}: input ${at + k}`);
        // As stored: the same JSON, key order included.
        assert.equal(JSON.stringify(got), JSON.stringify(want));
        for (const inc of want.updated) {
          drainedFlows += inc.timeline.filter((e) => e.kind === 'flow').length;
          if (inc.state === 'closed') closed++;
        }
      }
    } else {
      const rb = ref.batch();
      const eb = eng.batch();
      for (const i of chunk) {
        rb.ingest(i);
        eb.ingest(i);
      }
      const [got, want] = [eb.changes(), rb.changes()];
      assert.deepEqual(got, want, `${JSON.stringify(c)}: batch at ${at}`);
      assert.equal(JSON.stringify(got), JSON.stringify(want));
    }
    assert.equal(eng.pendingCount, ref.pendingCount, `${JSON.stringify(c)}: pending after ${at}`);
    assert.equal(eng.openCount, ref.openCount);
    if ((at / c.chunk) % 5 === 4) assert.deepEqual(eng.sweep(), ref.sweep(), `${JSON.stringify(c)}: sweep at ${at}`);
  }
  clock += 120 * 60_000;
  assert.deepEqual(eng.incidents(), ref.incidents());
  assert.deepEqual(eng.sweep(), ref.sweep());
  return { inputs: all.length, drainedFlows, closed };
}

test('the correlator gives what the reference gives, input by input, over generated inputs', () => {
  const cases: Case[] = [];
  for (let seed = 1; seed <= 12; seed++) {
    const r = rng(1000 + seed);
    cases.push({
      seed, n: 2500, spanMin: [20, 60, 240][seed % 3]!, pools: [4, 12, 40][Math.floor(seed / 3) % 3]!, chunk: 25 + Math.floor(r() * 100),
      options: {
        maxOpen: [3, 20, 1000][seed % 3]!, maxTimeline: [3, 40, 500][Math.floor(seed / 2) % 3]!, maxPending: [5, 60, 10_000][Math.floor(seed / 4) % 3]!,
        ...(seed % 4 === 0 ? { windowMs: 2 * 60_000, idleMs: 5 * 60_000 } : {}),
      },
    });
  }
  let total = 0;
  let drained = 0;
  let closed = 0;
  for (const c of cases) {
    const got = run(c);
    total += got.inputs;
    drained += got.drainedFlows;
    closed += got.closed;
  }
  assert.equal(total, 30_000);
  // The cases reach what the change is about: flows waiting and then joining, incidents closing idle or evicted.
  assert.ok(drained > 1000, `flows joined incidents: ${drained}`);
  assert.ok(closed > 100, `incidents closed: ${closed}`);
});

test('past 100,000 inputs the oldest ids are forgotten as the reference forgets them', () => {
  // After the last input's time (~18 min), before the incident would close idle.
  const now = () => new Date(T0 + 20 * 60_000);
  const options = { maxTimeline: 5, maxPending: 5, windowMs: 24 * 60 * 60_000 };
  const ref = new ReferenceCorrelator({ ...options, now });
  const eng = new IncidentCorrelator({ ...options, now });
  const time = (k: number) => new Date(T0 + Math.floor(k / 100) * 1000).toISOString();
  const flow = (id: string, k: number): CorrelationInput => ({ kind: 'flow', id, flow: { time: time(k), src: { workload: 'k8s:c1/shop/Deployment/web/web', ip: '10.1.0.1' }, dst: { ip: '10.1.0.2', port: 80 } } });
  // An incident of the flows' workload: every flow not seen before joins it (its dropped count says how many).
  const all: CorrelationInput[] = [{ kind: 'alert', id: 'a0', cluster: 'c1', alert: { time: time(0), rule: 'Terminal shell in container', priority: 'Warning', output_fields: { 'container.id': 'cid', 'k8s.ns.name': 'shop', 'k8s.pod.name': 'web-7d9f8b6c5d-x2k4p', 'container.name': 'web' } } }];
  for (let k = 0; k < 103_000; k++) all.push(flow(`f${k}`, k));
  // Repeats, newest first, around the edge: 'alert:a0' and f0–f2999 are forgotten by now (100,000
  // kept of 103,001), so f3500–f3000 are dropped and f2999–f2500 are new again (each evicting a
  // later one, already passed). Off by one, or a wrong end evicted, changes the count.
  for (let k = 3500; k >= 2500; k--) all.push(flow(`f${k}`, 103_000 + k), flow(`f${102_000 + (k % 1000)}`, 103_000 + k));
  for (let at = 0; at < all.length; at += 1000) {
    const rb = ref.batch();
    const eb = eng.batch();
    for (const i of all.slice(at, at + 1000)) {
      rb.ingest(i);
      eb.ingest(i);
    }
    assert.equal(JSON.stringify(eb.changes()), JSON.stringify(rb.changes()), `inputs ${at}–${at + 1000}`);
  }
  const [inc] = eng.incidents();
  assert.deepEqual(eng.incidents(), ref.incidents());
  // 103,000 flows, then 500 forgotten ones again; the alert and 4 flows stay in the timeline.
  assert.equal(inc!.timelineDropped, 103_000 + 500 - 4);
});
