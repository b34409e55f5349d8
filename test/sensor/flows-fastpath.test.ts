/**
 * The per-connection fast paths of flows (bench:flows): the probe tuple set of numbers against
 * the string keys it replaced, and the aggregator's recent-flow cache against a plain
 * grouping by flow key, over generated observations.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseIpv4, ProbeTupleSet } from '../../src/sensor/flows/probe-tuples.js';
import { FlowAggregator, flowKey, type FlowObservation } from '../../src/sensor/flows/aggregator.js';
import type { FlowProtocol } from '../../src/network/flow.js';
import { rng } from '../helpers/random.js';

test('parseIpv4 reads dotted quads and refuses anything else', () => {
  assert.equal(parseIpv4('127.0.0.1'), 0x7f000001);
  assert.equal(parseIpv4('0.0.0.0'), 0);
  assert.equal(parseIpv4('255.255.255.255'), 0xffffffff);
  assert.equal(parseIpv4('10.89.0.5'), (10 * 2 ** 24) + (89 << 16) + 5);
  for (const bad of ['', '::', '::1', '1.2.3', '1.2.3.4.5', '256.1.1.1', '1..2.3', '1.2.3.', '.1.2.3', 'a.b.c.d', '1.2.3.4 ', '1234.1.1.1', '::ffff:7f00:1']) {
    assert.equal(parseIpv4(bad), -1, bad);
  }
});

test('the probe tuple set answers as a Set of string keys does (IPv4, IPv6, wildcards, growth, clear)', () => {
  const r = rng(23);
  const v4 = () => `${Math.floor(r() * 3) + 10}.0.${Math.floor(r() * 3)}.${Math.floor(r() * 4)}`;
  const v6 = () => `fd00::${Math.floor(r() * 4).toString(16)}`;
  const protos: FlowProtocol[] = ['TCP', 'UDP', 'SCTP'];
  const key = (p: string, c: string, cp: number, s: string, sp: number) => `${p} ${c} ${cp} ${s} ${sp}`;
  const set = new ProbeTupleSet();
  for (let round = 0; round < 3; round++) {
    const ref = new Set<string>();
    set.clear();
    assert.equal(set.size, 0);
    const tuple = (): [FlowProtocol, string, number, string, number] => {
      const six = r() < 0.2;
      const wild = r() < 0.1;
      const cip = wild ? '*' : r() < 0.1 ? (six ? '::' : '0.0.0.0') : six ? v6() : v4();
      return [protos[Math.floor(r() * 3)]!, cip, 1000 + Math.floor(r() * 40), six ? v6() : v4(), [80, 443, 53][Math.floor(r() * 3)]!];
    };
    // enough tuples to grow the table several times
    for (let i = 0; i < 6000; i++) {
      const t = tuple();
      set.add(...t);
      ref.add(key(...t));
    }
    assert.equal(set.size, ref.size);
    for (let i = 0; i < 20000; i++) {
      const t = tuple();
      assert.equal(set.has(...t), ref.has(key(...t)), key(...t));
    }
    for (const k of ref) {
      const [p, c, cp, s, sp] = k.split(' ');
      assert.ok(set.has(p as FlowProtocol, c!, Number(cp), s!, Number(sp)), k);
    }
  }
});

test('the aggregator with its recent-flow cache gives the flows a grouping by flow key gives', () => {
  const r = rng(5);
  const intervalMs = 1000;
  const agg = new FlowAggregator({ intervalMs, host: 'h', graceMs: 0 });
  const programs = [{ name: 'node', exe: '/usr/bin/node' }, { name: 'curl', exe: '/usr/bin/curl' }, { name: 'node', exe: '/opt/node' }];
  const containers = [undefined, { id: 'a1b2c3d4e5f6' }, { id: 'ffffeeeedddd' }];
  const expected = new Map<string, { connections: number; bytes?: number; first: number; last: number; dns?: string }>();
  let flushed: ReturnType<FlowAggregator['flush']> = [];
  let t = 10_000;
  for (let i = 0; i < 20000; i++) {
    t += Math.floor(r() * 3);
    const egress = r() < 0.5;
    const port = [80, 443, 6379, 18080][Math.floor(r() * 4)]!;
    const eph = 30000 + Math.floor(r() * 1000);
    const container = containers[Math.floor(r() * 3)];
    const o: FlowObservation = {
      timeMs: t,
      protocol: r() < 0.8 ? 'TCP' : 'UDP',
      direction: egress ? 'egress' : 'ingress',
      local: { ip: '10.0.0.1', port: egress ? eph : port, ...(container ? { container } : {}), process: programs[Math.floor(r() * 3)]! },
      remote: { ip: `10.0.0.${2 + Math.floor(r() * 3)}`, port: egress ? port : eph, ...(r() < 0.05 ? { dns: 'db.example' } : {}) },
      observedBy: r() < 0.9 ? 'ebpf' : 'conntrack',
      ...(r() < 0.1 ? { connections: 0, bytes: 100 } : {}),
    };
    agg.add(o);
    const k = `${agg.intervalOf(o.timeMs)}|${flowKey(o)}`;
    const e = expected.get(k);
    const n = o.connections ?? 1;
    if (e) {
      e.connections += n;
      if (o.bytes !== undefined) e.bytes = (e.bytes ?? 0) + o.bytes;
      e.last = Math.max(e.last, o.timeMs);
      e.dns ??= o.remote.dns;
    } else expected.set(k, { connections: n, ...(o.bytes !== undefined ? { bytes: o.bytes } : {}), first: o.timeMs, last: o.timeMs, ...(o.remote.dns ? { dns: o.remote.dns } : {}) });
    // flush now and then: the cache must not hand out a flushed flow
    if (i % 997 === 0) flushed = flushed.concat(agg.flush(t));
  }
  flushed = flushed.concat(agg.flush(t, true));
  assert.equal(agg.stats().late, 0);
  const got = new Map(flushed.map((f) => [`${f.intervalStart}|${flowKey(f.flow)}`, f.flow]));
  assert.equal(got.size, flushed.length, 'a flow was emitted twice for one interval');
  assert.equal(got.size, expected.size);
  for (const [k, e] of expected) {
    const f = got.get(k);
    assert.ok(f, k);
    assert.equal(f.connections, e.connections, k);
    assert.equal(f.bytes, e.bytes, k);
    assert.equal(f.firstSeen, new Date(e.first).toISOString(), k);
    assert.equal(f.lastSeen, new Date(e.last).toISOString(), k);
    assert.equal(f.remote.dns, e.dns, k);
  }
});
