/**
 * The merge of baselines over hosts (src/runtime/baseline/merge.ts), as a library: deltas of
 * two hosts applied in any order give the baseline one detector learns from both; a stale
 * epoch adds counts but not its window; deviations merge per item; accept learns their summed
 * count; adoption keeps what a sensor learned after its push while learning and drops it once
 * locked; the journal's saved form restores what it held.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Baseline, type Feature } from '../../src/runtime/baseline/index.js';
import { acceptMerged, adoptMerged, applyDelta, LearnJournal, liveDeviations, mergeDeviations, unlockMerged, type BaselineDelta, type HostDeviation } from '../../src/runtime/baseline/merge.js';
import { rng } from '../helpers/random.js';

const randomInt = (r: () => number, lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));

const WL = { id: 'k8s:default/shop/Deployment/web/nginx', kind: 'Deployment' as const, namespace: 'shop', name: 'web', container: 'nginx', cluster: 'default' };

/** A random exec item; as in features.ts every key has one parent (the chain is a function of its first key). */
function feature(r: () => number): Feature {
  const tool = randomInt(r, 0, 6);
  const exe = `/usr/bin/tool${tool}`;
  return { ch: 'exec', keys: [`${exe} [-${randomInt(r, 0, 4)}] parent=/bin/sh user=root`, `${exe} parent=/bin/sh`, exe, `class=other${tool % 3}`], prior: 0 };
}

function delta(j: LearnJournal, over: Partial<BaselineDelta> = {}): BaselineDelta {
  const l = j.take(WL.id);
  return { workload: WL, epoch: 0, learnMs: 3_600_000, firstSeenNs: '1000', lastSeenNs: '2000', events: l.events, replicas: [], hist: l.hist, items: l.items, deviations: [], ...over };
}

const snapshot = (b: Baseline) => JSON.stringify([...b.channels].map(([ch, cc]) => [ch, cc.n, [...cc.c].sort(), [...cc.t].sort()]));

test('deltas of two hosts, in any order and in pieces, merge into the baseline of both hosts\' events', () => {
  for (let seed = 1; seed <= 50; seed++) {
    const r = rng(seed);
    const whole = new Baseline(WL);
    const hostA = new LearnJournal();
    const hostB = new LearnJournal();
    const pieces: BaselineDelta[] = [];
    const n = randomInt(r, 1, 200);
    for (let i = 0; i < n; i++) {
      const f = feature(r);
      whole.learn(f);
      (r() < 0.5 ? hostA : hostB).record(WL.id, [f]);
      if (r() < 0.05) pieces.push(delta(hostA), delta(hostB));
    }
    pieces.push(delta(hostA), delta(hostB));
    // shuffle: pushes of two hosts arrive in any order
    for (let i = pieces.length - 1; i > 0; i--) {
      const k = randomInt(r, 0, i);
      [pieces[i], pieces[k]] = [pieces[k]!, pieces[i]!];
    }
    let m: ReturnType<typeof applyDelta> | undefined;
    for (const p of pieces) m = applyDelta(m, p);
    assert.equal(snapshot(m!.baseline), snapshot(whole), `seed ${seed}`);
    assert.equal(m!.baseline.events, n);
  }
});

test('the merged window locks the baseline; a locked baseline learns nothing from pushes; a stale epoch adds counts only', () => {
  const j = new LearnJournal();
  const f: Feature = { ch: 'exec', keys: ['/bin/a [] parent=/bin/sh user=root', '/bin/a parent=/bin/sh', '/bin/a', 'class=other'], prior: 0 };
  j.record(WL.id, [f], 30);
  let m = applyDelta(undefined, delta(j, { learnMs: 60_000, firstSeenNs: String(10n ** 18n), lastSeenNs: String(10n ** 18n + 10n ** 9n) }));
  assert.equal(m.autoLocked, false);
  assert.equal(m.baseline.calibration.hist[30], 1);
  m = applyDelta(m, delta(j, { learnMs: 60_000, firstSeenNs: String(10n ** 18n + 5n * 10n ** 9n), lastSeenNs: String(10n ** 18n + 61n * 10n ** 9n) }));
  assert.equal(m.autoLocked, true);
  assert.equal(m.baseline.locked, true);
  j.record(WL.id, [{ ...f, keys: ['/bin/b [] parent=/bin/sh user=root', '/bin/b parent=/bin/sh', '/bin/b', 'class=other'] }]);
  m = applyDelta(m, delta(j));
  assert.equal(m.baseline.count('exec', '/bin/b'), 0);
  unlockMerged(m);
  assert.equal(m.epoch, 1);
  j.record(WL.id, [f]);
  m = applyDelta(m, delta(j, { epoch: 0, firstSeenNs: '5', lastSeenNs: '6' }));
  assert.equal(m.baseline.count('exec', '/bin/a'), 2, 'counts of a stale epoch still count');
  assert.equal(m.baseline.firstSeenNs, 0n, 'its window bounds do not');
});

test('deviations: kept per host, merged per item, known ones dropped; accept learns the summed count', () => {
  const keys = ['/usr/bin/curl [-s URL(http)] parent=/bin/sh user=root', '/usr/bin/curl parent=/bin/sh', '/usr/bin/curl', 'class=network-tool'];
  const d = (count: number, score: number, c: string, first: string): HostDeviation => ({ item: `exec:${keys[0]}`, channel: 'exec', keys, score, count, firstSeen: first, lastSeen: first, containers: [c] });
  const merged = mergeDeviations([{ host: 'a', deviations: [d(2, 12, 'c1', '2027-01-01T00:00:02Z')] }, { host: 'b', deviations: [d(3, 15, 'c2', '2027-01-01T00:00:01Z')] }]);
  assert.equal(merged.length, 1);
  assert.deepEqual([merged[0]!.count, merged[0]!.score, merged[0]!.firstSeen, merged[0]!.lastSeen, merged[0]!.hosts, merged[0]!.replicas], [5, 15, '2027-01-01T00:00:01Z', '2027-01-01T00:00:02Z', ['a', 'b'], ['c1', 'c2']]);
  const b = new Baseline(WL);
  assert.deepEqual(acceptMerged(b, merged, 'exec:nope'), []);
  assert.deepEqual(acceptMerged(b, merged), [`exec:${keys[0]}`]);
  assert.equal(b.count('exec', keys[0]!), 5);
  assert.deepEqual(liveDeviations(b, [d(1, 12, 'c3', '2027-01-01T00:00:03Z')]), [], 'a known item is no deviation any more');
});

test('adoption: the merged baseline replaces the local one; what was learned after the push stays while learning, goes once locked', () => {
  const f = (exe: string): Feature => ({ ch: 'exec', keys: [`${exe} [] parent=/bin/sh user=root`, `${exe} parent=/bin/sh`, exe, 'class=other'], prior: 0 });
  const merged = new Baseline(WL);
  merged.learn(f('/bin/a'), 5);
  merged.events = 5;
  const local = new Baseline(WL);
  local.learn(f('/bin/local-before-push'));
  local.deviate(f('/bin/a'), 12, '2027-01-01T00:00:00Z', 'c1');
  local.deviate(f('/bin/z'), 12, '2027-01-01T00:00:00Z', 'c1');
  const j = new LearnJournal();
  j.record(WL.id, [f('/bin/after')], 40);
  adoptMerged(local, merged.toJSON(), j.peek(WL.id));
  assert.equal(local.count('exec', '/bin/a'), 5);
  assert.equal(local.count('exec', '/bin/local-before-push'), 0, 'the push carried it; the answer is authoritative');
  assert.equal(local.count('exec', '/bin/after'), 1);
  assert.equal(local.events, 6);
  assert.equal(local.calibration.hist[40], 1);
  assert.deepEqual([...local.deviations.keys()], ['exec:/bin/z [] parent=/bin/sh user=root'], 'a deviation now known is gone');
  merged.lock(new Date('2027-01-01T00:00:00Z'));
  adoptMerged(local, merged.toJSON(), j.peek(WL.id));
  assert.equal(local.locked, true);
  assert.equal(local.count('exec', '/bin/after'), 0, 'a locked baseline learns nothing');
});

test('the journal\'s saved form restores what it held, adding to what it holds', () => {
  const j = new LearnJournal();
  const f: Feature = { ch: 'net', keys: ['tcp out IP:443 exe=/bin/x', 'tcp out IP:443', 'tcp'], prior: 0 };
  j.record(WL.id, [f], 3);
  j.record(WL.id, [f]);
  const saved = JSON.parse(JSON.stringify(j.toJSON()));
  const k = new LearnJournal();
  k.record(WL.id, [f], 3);
  k.restore(saved);
  const l = k.take(WL.id);
  assert.equal(l.events, 3);
  assert.deepEqual(l.hist, [[3, 2]]);
  assert.deepEqual(l.items, [{ ch: 'net', keys: f.keys, n: 3 }]);
  assert.equal(k.size, 0);
});
