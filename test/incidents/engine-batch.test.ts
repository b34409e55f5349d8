/**
 * The correlator's batch (engine.batch(), what Central's incident service feeds a bus fetch
 * through) leaves the same incidents as feeding the inputs one by one through ingest() and
 * keeping each incident's last state — also when incidents are evicted (maxOpen), closed
 * idle, merged, and their timelines capped (maxTimeline), flows waiting as context (maxPending),
 * with inputs out of time order.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IncidentCorrelator, type CorrelationInput, type Incident } from '../../src/runtime/incidents/index.js';
import { rng } from '../helpers/random.js';
import { T0, shellAlert, unrelatedB } from './scenario.js';

function inputs(seed: number, n: number): CorrelationInput[] {
  const r = rng(seed);
  return Array.from({ length: n }, (_, k): CorrelationInput => {
    // Times out of order over 50 minutes: some incidents go idle (30 min), timelines interleave.
    const time = new Date(T0 + Math.floor(r() * 50 * 60) * 1000).toISOString();
    const n = Math.floor(r() * 25);
    if (r() < 0.4) {
      // Flows between the same pods' workloads: context that joins or waits (pending, maxPending).
      const wl = (m: number) => `k8s:default/shop/Pod/web-${m}/c${m % 3}`;
      return { kind: 'flow', id: `f${k}`, flow: { time, protocol: 'tcp', src: { workload: wl(n), ip: `10.0.0.${n}`, host: 'node-a' }, dst: { workload: wl(Math.floor(r() * 25)), ip: `10.0.1.${n}`, port: 80 } } };
    }
    const alert = r() < 0.8 ? shellAlert(time, `web-${n}`, `c${Math.floor(r() * 3)}`, 1000 + Math.floor(r() * 40), 900 + Math.floor(r() * 40)) : unrelatedB(time);
    return { kind: 'alert', id: `a${k}`, alert, host: r() < 0.5 ? 'node-a' : 'node-b' };
  });
}

const options = { maxOpen: 6, maxTimeline: 8, maxPending: 40, now: () => new Date(T0 + 62 * 60_000) };

test('batch() leaves the incidents ingest() one by one leaves', () => {
  for (const seed of [1, 2, 3]) {
    const all = inputs(seed, 600);
    const single = new IncidentCorrelator(options);
    const batched = new IncidentCorrelator(options);
    let evictedOrClosed = 0;
    for (let at = 0; at < all.length; at += 40) {
      const chunk = all.slice(at, at + 40);
      // The service's way before batch(): each input's changes, an incident kept in its last state.
      const updated = new Map<string, Incident>();
      const removed: string[] = [];
      for (const i of chunk) {
        const ch = single.ingest(i);
        for (const id of ch.removed) updated.delete(id);
        for (const inc of ch.updated) {
          updated.delete(inc.id);
          updated.set(inc.id, inc);
        }
        removed.push(...ch.removed);
      }
      const b = batched.batch();
      for (const i of chunk) b.ingest(i);
      const got = b.changes();
      assert.deepEqual(got, { updated: [...updated.values()], removed }, `seed ${seed}, inputs ${at}–${at + chunk.length}`);
      evictedOrClosed += got.updated.filter((i) => i.state === 'closed').length;
    }
    assert.deepEqual(batched.incidents(), single.incidents());
    assert.equal(batched.pendingCount, single.pendingCount);
    assert.ok(evictedOrClosed > 0, 'the case covers closed incidents');
    for (const inc of batched.incidents()) {
      // The timeline stays in (time, ref) order and capped.
      const sorted = [...inc.timeline].sort((a, b) => Date.parse(a.time) - Date.parse(b.time) || (a.ref < b.ref ? -1 : a.ref > b.ref ? 1 : 0));
      assert.deepEqual(inc.timeline, sorted);
      assert.ok(inc.timeline.length <= options.maxTimeline);
    }
  }
});
