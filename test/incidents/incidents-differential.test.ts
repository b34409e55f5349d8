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
import { ReferenceCorrelator } from './incidents-reference-engine.js';

const T0 = Date.parse('2026-03-02T10:00:00Z');

/** Inputs over `spanMin` minutes, drawn from small pools so keys, pids, pods and ids collide. */
function inputs(seed: number, n: number, spanMin: number, pools: number): CorrelationInput[] {
  const r = rng(seed);
  const pick = (k: number) => Math.floor(r() * k);
  const wl = (m: number) => `k8s:c1/shop/Deployment/app-${m}/app`;
  const ip = (m: number) => `10.1.0.${m}`;
  return Array.from({ length: n }, (): CorrelationInput => {
    const time = new Date(T0 + pick(spanMin * 60) * 1000).toISOString();
    const m = pick(pools);
    const x = r();
    if (x < 0.45) {
      // A flow between pool workloads (their alerts' identities), sometimes to a public address or without a source workload.
      const dst = pick(pools);
      const external = r() < 0.15;
      return {
        kind: 'flow', id: `f${pick(n)}`, cluster: 'c1',
        flow: {
          time, protocol: r() < 0.9 ? 'tcp' : 'udp',
          // A pod's address is reused by another workload now and then: a flow then links two incidents' keys.
          src: { ...(r() < 0.9 ? { workload: wl(m) } : {}), ip: ip(r() < 0.7 ? m : pick(pools)), ...(r() < 0.5 ? { host: `node-${m % 3}` } : {}) },
          dst: external ? { ip: `93.184.0.${pick(4)}`, port: 443 } : { ...(r() < 0.8 ? { workload: wl(dst) } : {}), ip: ip(dst), port: 8080 },
        },
      };
    }
    if (x < 0.85) {
      const pid = 100 + pick(pools * 2);
      const fields: Record<string, string | number> = {
        'proc.name': 'sh', 'proc.pid': pid, 'proc.ppid': 100 + pick(pools * 2), 'container.id': `cid${m}`, 'container.name': 'app',
        'k8s.ns.name': 'shop', 'k8s.pod.name': `app-${m}-7d9f8b6c5d-x2k4p`,
      };
      if (r() < 0.3) fields['proc.apid[2]'] = 100 + pick(pools * 2);
      if (r() < 0.2) Object.assign(fields, { 'fd.rip': r() < 0.5 ? `93.184.0.${pick(4)}` : '10.0.0.9', 'fd.rport': 443 });
      const rule = ['Terminal shell in container', 'Write below etc', 'Anomalous process execution', 'Gatehouse sensor dropped events'][pick(4)]!;
      return {
        kind: 'alert', id: `a${pick(n)}`, cluster: 'c1', host: `node-${m % 3}`,
        alert: { time, rule, priority: ['Notice', 'Warning', 'Critical', 'Error'][pick(4)]!, output_fields: fields, tags: r() < 0.5 ? ['mitre_execution', 'T1059'] : ['mitre_persistence'] },
      };
    }
    if (x < 0.95) {
      const auditID = `au${pick(n)}`;
      return {
        kind: 'audit', cluster: 'c1',
        event: {
          auditID, stage: r() < 0.5 ? 'ResponseStarted' : 'ResponseComplete', verb: 'create', user: { username: 'mallory' },
          requestURI: `/api/v1/namespaces/shop/pods/app-${m}-7d9f8b6c5d-x2k4p/exec?command=sh&container=app`,
          objectRef: { resource: 'pods', namespace: 'shop', name: `app-${m}-7d9f8b6c5d-x2k4p`, subresource: 'exec' }, requestReceivedTimestamp: time,
        },
      };
    }
    return { kind: 'denial', id: `d${pick(n)}`, cluster: 'c1', denial: { time, layer: 'admission', rule: 'no-privileged', severity: 'HIGH', namespace: 'shop', name: `app-${m}`, kind: 'Deployment', user: r() < 0.5 ? 'mallory' : 'ci' } };
  });
}

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
