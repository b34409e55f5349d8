/**
 * The flow pipeline's parts that need no kernel: the aggregator on generated observation
 * sequences (keys, interval boundaries, late observations, the cap), the mapping of sensor
 * events to observations, conntrack parsing and the conntrack/probe matching, the probe's
 * UDP section being left out when flows are off, and the UDP record's decoding.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FlowAggregator, flowId, flowKey, type FlowObservation } from '../../src/sensor/flows/aggregator.js';
import { observationOf } from '../../src/sensor/flows/observe.js';
import { ConntrackWatcher, parseConntrackLine, rawLineKey } from '../../src/sensor/flows/conntrack.js';
import { FlowTracker } from '../../src/sensor/flows/tracker.js';
import { probeWithoutUdp, DEFAULT_PROBE, UDP_BEGIN_MARKER } from '../../src/sensor/bpftrace.js';
import { EventBuilder } from '../../src/sensor/event-builder.js';
import { ProcessTable } from '../../src/sensor/process-table.js';
import type { RawHead } from '../../src/sensor/records.js';
import type { ContainerInfo } from '../../src/sensor/containers.js';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const T0 = Date.UTC(2026, 11, 7, 10, 0, 0); // an interval boundary for 10 s intervals

function obs(over: Partial<FlowObservation> & { t: number }): FlowObservation {
  const { t, ...rest } = over;
  return {
    timeMs: T0 + t,
    protocol: 'TCP',
    direction: 'egress',
    local: { ip: '10.0.0.2', port: 40000 + t, container: { id: 'aaaaaaaaaaaa', name: 'web' }, process: { name: 'curl', exe: '/usr/bin/curl' } },
    remote: { ip: '10.0.0.9', port: 80 },
    observedBy: 'ebpf',
    ...rest,
  };
}

/** A small deterministic generator (LCG), so failures are reproducible. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

describe('flow aggregator', () => {
  it('one flow per key and interval: connections counted, the ephemeral port left out', () => {
    const a = new FlowAggregator({ intervalMs: 10_000 });
    for (let i = 0; i < 5; i++) a.add(obs({ t: i * 100 }));
    a.add(obs({ t: 200, remote: { ip: '10.0.0.9', port: 443 } }));
    const out = a.flush(T0 + 20_000);
    assert.equal(out.length, 2);
    const http = out.find((f) => f.flow.remote.port === 80)!;
    assert.equal(http.flow.connections, 5);
    assert.equal(http.flow.local.port, 0, 'egress: the client port is not part of the flow');
    assert.equal(http.flow.firstSeen, new Date(T0).toISOString());
    assert.equal(http.flow.lastSeen, new Date(T0 + 400).toISOString());
    assert.equal(http.intervalStart, T0);
    assert.deepEqual(a.stats(), { observed: 6, dropped: 0, late: 0, flushed: 2, open: 0 });
  });

  it('ingress keys on the local port and the remote address, not the client port', () => {
    const a = new FlowAggregator({ intervalMs: 10_000 });
    for (let i = 0; i < 3; i++) a.add(obs({ t: i, direction: 'ingress', local: { ip: '10.0.0.9', port: 80 }, remote: { ip: '10.0.0.2', port: 50000 + i } }));
    a.add(obs({ t: 5, direction: 'ingress', local: { ip: '10.0.0.9', port: 81 }, remote: { ip: '10.0.0.2', port: 50009 } }));
    const out = a.flush(T0 + 20_000).map((f) => f.flow);
    assert.deepEqual(out.map((f) => [f.local.port, f.remote.port, f.connections]).sort(), [[80, 0, 3], [81, 0, 1]]);
  });

  it('interval boundaries: an observation at the boundary opens the next interval; flush waits for the grace period', () => {
    const a = new FlowAggregator({ intervalMs: 10_000, graceMs: 2000 });
    a.add(obs({ t: 9_999 }));
    a.add(obs({ t: 10_000 }));
    a.add(obs({ t: 19_999 }));
    assert.deepEqual(a.flush(T0 + 11_999), [], 'the first interval is still within its grace period');
    const first = a.flush(T0 + 12_000);
    assert.equal(first.length, 1);
    assert.equal(first[0]!.intervalStart, T0);
    assert.equal(first[0]!.flow.connections, 1);
    const second = a.flush(T0 + 22_000);
    assert.equal(second[0]!.intervalStart, T0 + 10_000);
    assert.equal(second[0]!.flow.connections, 2);
    assert.notEqual(first[0]!.id, second[0]!.id, 'same key, different interval: different ids');
  });

  it('a late observation counts in the oldest open interval, never re-emits a flushed one', () => {
    const a = new FlowAggregator({ intervalMs: 10_000, graceMs: 0 });
    a.add(obs({ t: 1000 }));
    const first = a.flush(T0 + 10_000);
    a.add(obs({ t: 2000 })); // belongs to the flushed interval
    a.add(obs({ t: 12_000 }));
    const second = a.flush(T0 + 20_000);
    assert.equal(second.length, 1);
    assert.equal(second[0]!.intervalStart, T0 + 10_000);
    assert.equal(second[0]!.flow.connections, 2);
    assert.ok(!second.some((f) => f.id === first[0]!.id));
    assert.equal(a.stats().late, 1);
  });

  it('the cap bounds open flows; new keys beyond it are counted as dropped, open flows keep counting', () => {
    const a = new FlowAggregator({ intervalMs: 10_000, maxFlows: 3 });
    for (let i = 0; i < 10; i++) a.add(obs({ t: i, remote: { ip: `10.0.1.${i}`, port: 80 } }));
    a.add(obs({ t: 20, remote: { ip: '10.0.1.0', port: 80 } }));
    const s = a.stats();
    assert.equal(s.open, 3);
    assert.equal(s.dropped, 7);
    const out = a.flush(T0 + 20_000);
    assert.equal(out.find((f) => f.flow.remote.ip === '10.0.1.0')!.flow.connections, 2);
    // after a flush there is room again
    a.add(obs({ t: 20_000, remote: { ip: '10.0.1.9', port: 80 } }));
    assert.equal(a.stats().open, 1);
  });

  it('generated sequences: every observation is in exactly one flushed flow (or counted as dropped)', () => {
    const r = rng(7);
    const a = new FlowAggregator({ intervalMs: 5_000, maxFlows: 40, graceMs: 1000 });
    const seen = new Set<string>();
    let now = 0;
    let total = 0;
    let flushedConnections = 0;
    for (let i = 0; i < 20_000; i++) {
      now += Math.floor(r() * 20);
      // events arrive up to 3 s late
      const t = Math.max(0, now - Math.floor(r() * 3000));
      const n = 1 + Math.floor(r() * 3);
      total += n;
      a.add(obs({ t, connections: n, remote: { ip: `10.2.0.${Math.floor(r() * 30)}`, port: [80, 443, 6379][Math.floor(r() * 3)]! }, protocol: r() < 0.2 ? 'UDP' : 'TCP' }));
      if (i % 500 === 0) {
        for (const f of a.flush(T0 + now)) {
          assert.ok(!seen.has(f.id), 'a flow id is emitted once');
          seen.add(f.id);
          flushedConnections += f.flow.connections;
          assert.ok(Date.parse(f.flow.firstSeen) <= Date.parse(f.flow.lastSeen));
        }
      }
    }
    for (const f of a.flush(T0 + now, true)) {
      assert.ok(!seen.has(f.id));
      flushedConnections += f.flow.connections;
    }
    const s = a.stats();
    assert.equal(s.open, 0);
    // dropped observations carried 1-3 connections each: the flushed ones plus the dropped ones account for all
    assert.ok(flushedConnections <= total && flushedConnections >= total - 3 * s.dropped, `${flushedConnections} of ${total}, ${s.dropped} dropped`);
    assert.ok(s.late > 0, 'the sequence had late observations');
  });

  it('ids are stable: same key, interval and host give the same id; the host changes it', () => {
    const k = flowKey(obs({ t: 0 }));
    assert.equal(flowId(k, T0, 'h1'), flowId(k, T0, 'h1'));
    assert.notEqual(flowId(k, T0, 'h1'), flowId(k, T0, 'h2'));
    assert.match(flowId(k, T0), /^flow:[0-9a-f]{40}$/);
    assert.equal(flowKey(obs({ t: 0 })), flowKey(obs({ t: 5 })), 'the client port is not in the key');
  });
});

describe('events to observations', () => {
  const base = {
    'evt.rawtime': BigInt(T0) * 1_000_000n,
    'container.id': 'bbbbbbbbbbbb', 'container.name': 'client', 'container.image': 'img:1',
    'container.label[io.kubernetes.pod.namespace]': 'shop', 'container.label[io.kubernetes.pod.name]': 'web-1',
    'proc.name': 'curl', 'proc.exepath': '/usr/bin/curl',
    'fd.lip': '10.0.0.2', 'fd.lport': 41000, 'fd.rip': '10.0.0.9', 'fd.rport': 80,
  };
  it('a TCP connect (done or in progress) is egress; a refused one is not a flow', () => {
    const o = observationOf({ ...base, 'evt.type': 'connect', 'fd.l4proto': 'tcp', 'evt.rawres': -115 })!;
    assert.equal(o.direction, 'egress');
    assert.equal(o.protocol, 'TCP');
    assert.equal(o.timeMs, T0);
    assert.deepEqual(o.local.container, { id: 'bbbbbbbbbbbb', name: 'client', image: 'img:1' });
    assert.deepEqual(o.local.pod, { namespace: 'shop', name: 'web-1' });
    assert.deepEqual(o.local.process, { name: 'curl', exe: '/usr/bin/curl' });
    assert.equal(observationOf({ ...base, 'evt.type': 'connect', 'fd.l4proto': 'tcp', 'evt.rawres': -111 }), undefined);
    assert.equal(observationOf({ ...base, 'evt.type': 'connect', 'fd.l4proto': 'udp', 'evt.rawres': 0 }), undefined, 'a UDP connect sends nothing');
  });
  it('accept is ingress; a UDP first packet is egress and gets the container address when unbound', () => {
    assert.equal(observationOf({ ...base, 'evt.type': 'accept', 'fd.l4proto': 'tcp', 'evt.rawres': 5 })!.direction, 'ingress');
    const u = observationOf({ ...base, 'evt.type': 'sendto', 'fd.l4proto': 'udp', 'fd.lip': '0.0.0.0', 'evt.rawres': 10 }, (id) => (id === 'bbbbbbbbbbbb' ? '10.88.0.7' : undefined))!;
    assert.equal(u.protocol, 'UDP');
    assert.equal(u.local.ip, '10.88.0.7');
    assert.equal(observationOf({ ...base, 'evt.type': 'open' }), undefined);
  });
  it('the host has no container', () => {
    const o = observationOf({ ...base, 'container.id': 'host', 'evt.type': 'accept', 'fd.l4proto': 'tcp', 'evt.rawres': 3 })!;
    assert.equal(o.local.container, undefined);
  });
});

describe('UDP records', () => {
  const table = new ProcessTable('/nonexistent');
  const builder = new EventBuilder({ procRoot: '/nonexistent', table, host: { users: new Map(), groups: new Map() }, clockOffset: 0n });
  const head = (a: RawHead['a']): RawHead => ({
    tid: 1, pid: 1, ppid: 0, uid: 0, gid: 0, euid: 0, egid: 0, loginuid: 0, mntns: 0, cgroup: 1, capEffective: 0n, tty: 0, sid: 0, vpgid: 0,
    ts: 0n, kind: 'udp', ret: 12, a, comm: 'dig',
  });
  const proc = { pid: 1, ppid: 0, name: 'dig', exe: 'dig', exepath: '/usr/bin/dig', args: [], cwd: '/', tty: 0, sid: 0, vpgid: 0, loginuid: -1, mntns: 0 };
  it('the caller\'s sockaddr_in gives the destination', () => {
    const sa = Buffer.alloc(28);
    sa.writeUInt16LE(2, 0);
    sa.writeUInt16BE(53, 2);
    Buffer.from([10, 89, 0, 3]).copy(sa, 4);
    const f = builder.specific(head([3, 2, 40000, 0, 1]), [], [sa], proc)!;
    assert.equal(f['evt.type'], 'sendto');
    assert.equal(f['fd.l4proto'], 'udp');
    assert.equal(f['fd.rip'], '10.89.0.3');
    assert.equal(f['fd.rport'], 53);
    assert.equal(f['fd.lport'], 40000);
    assert.equal(f['fd.lip'], '0.0.0.0');
  });
  it('a connected socket: the peer from the socket, the port from the head (network order)', () => {
    const peer = Buffer.alloc(16);
    Buffer.from([127, 0, 0, 3]).copy(peer, 0);
    const portNet = ((99 & 0xff) << 8) | (99 >> 8);
    const f = builder.specific(head([3, 2, 40001, 0x0100007f, (portNet << 8) | 0]), [], [peer], proc)!;
    assert.equal(f['fd.rip'], '127.0.0.3');
    assert.equal(f['fd.rport'], 99);
    assert.equal(f['fd.lip'], '127.0.0.1');
  });
  it('IPv6 sockaddr_in6', () => {
    const sa = Buffer.alloc(28);
    sa.writeUInt16LE(10, 0);
    sa.writeUInt16BE(5354, 2);
    sa[23] = 1; // ::1
    const f = builder.specific(head([3, 10, 40002, 0, 1]), [], [sa], proc)!;
    assert.equal(f['fd.rip'], '::1');
    assert.equal(f['fd.rport'], 5354);
    assert.equal(f['fd.typechar'], '6');
  });
});

describe('probe UDP section', () => {
  it('is in the probe and left out when flows are off', () => {
    const text = readFileSync(DEFAULT_PROBE, 'utf8');
    assert.ok(text.includes(UDP_BEGIN_MARKER));
    const without = probeWithoutUdp(text);
    assert.ok(!without.includes('sys_enter_sendto'));
    assert.ok(!without.includes('@ud['));
    assert.ok(without.includes('sys_exit_connect'), 'the rest of the probe stays');
  });
});

describe('conntrack', () => {
  const acct = 'ipv4     2 tcp      6 117 TIME_WAIT src=10.89.0.5 dst=10.89.0.3 sport=54532 dport=6379 packets=6 bytes=377 src=10.89.0.3 dst=10.89.0.5 sport=6379 dport=54532 packets=4 bytes=232 [ASSURED] mark=0 zone=0 use=2';
  const plain = 'ipv4     2 udp      17 28 src=10.89.0.6 dst=10.89.0.3 sport=59650 dport=9999 [UNREPLIED] src=10.89.0.3 dst=10.89.0.6 sport=9999 dport=59650 mark=0 zone=0 use=2';
  it('parses entries with and without accounting; other protocols are skipped', () => {
    const e = parseConntrackLine(acct)!;
    assert.equal(e.protocol, 'TCP');
    assert.equal(e.state, 'TIME_WAIT');
    assert.deepEqual(e.orig, { src: '10.89.0.5', dst: '10.89.0.3', sport: 54532, dport: 6379, packets: 6, bytes: 377 });
    assert.equal(e.reply.bytes, 232);
    const u = parseConntrackLine(plain)!;
    assert.equal(u.protocol, 'UDP');
    assert.equal(u.orig.bytes, undefined);
    assert.equal(parseConntrackLine('ipv4     2 icmp     1 29 src=10.0.0.1 dst=10.0.0.2 type=8 code=0 id=1 src=10.0.0.2 dst=10.0.0.1 type=0 code=0 id=1 mark=0 use=1'), undefined);
    assert.equal(parseConntrackLine('garbage'), undefined);
    const v6 = parseConntrackLine('ipv6     10 tcp      6 10 ESTABLISHED src=0000:0000:0000:0000:0000:0000:0000:0001 dst=0000:0000:0000:0000:0000:0000:0000:0001 sport=1 dport=2 src=0000:0000:0000:0000:0000:0000:0000:0001 dst=0000:0000:0000:0000:0000:0000:0000:0001 sport=2 dport=1 mark=0 use=1')!;
    assert.equal(v6.orig.src, '::1');
  });

  it('a probe\'s connection is never reported; an unseen one after one poll, then only its new bytes', () => {
    let table = `${acct}\n${plain}\n`;
    const w = new ConntrackWatcher({ read: () => table });
    w.probeSaw('TCP', '10.89.0.5', 54532, '10.89.0.3', 6379);
    assert.deepEqual(w.scan(), [], 'first poll: the unseen UDP entry waits');
    const second = w.scan();
    assert.equal(second.length, 1);
    assert.equal(second[0]!.entry.protocol, 'UDP');
    assert.equal(second[0]!.connections, 1);
    assert.deepEqual(w.scan(), [], 'nothing new');
    table = `${acct}\n${plain.replace('[UNREPLIED]', 'packets=3 bytes=90')}\n`;
    const upd = w.scan();
    assert.equal(upd.length, 1);
    assert.equal(upd[0]!.connections, 0);
    assert.equal(upd[0]!.bytes, 90);
    assert.equal(w.stats().matched, 1);
    assert.equal(w.stats().reported, 1);
  });

  it('a probe\'s entry is skipped unparsed on later polls, whatever its timeout and state; gone and back unseen, it is reported', () => {
    const live = 'ipv4     2 tcp      6 431999 ESTABLISHED src=10.89.0.5 dst=10.89.0.3 sport=54532 dport=6379 src=10.89.0.3 dst=10.89.0.5 sport=6379 dport=54532 [ASSURED] mark=0 use=1';
    let table = live;
    const w = new ConntrackWatcher({ read: () => table });
    w.probeSaw('TCP', '10.89.0.5', 54532, '10.89.0.3', 6379);
    assert.deepEqual(w.scan(), []);
    assert.equal(w.stats().matched, 1);
    // Later polls: the same connection in TIME_WAIT, then a tail that would not parse at all:
    // the identity (protocol + original tuple) is enough, nothing is parsed or reported.
    table = live.replace('431999 ESTABLISHED', '117 TIME_WAIT');
    assert.deepEqual(w.scan(), []);
    table = `${live.slice(0, live.indexOf(' src=10.89.0.3'))} garbage`;
    assert.deepEqual(w.scan(), []);
    assert.equal(w.stats().entries, 1);
    assert.equal(w.stats().matched, 1, 'matched once');
    // The entry leaves the table; the same tuple comes back from a connection no probe saw.
    table = '';
    assert.deepEqual(w.scan(), []);
    table = live;
    assert.deepEqual(w.scan(), [], 'first sighting waits a poll');
    assert.equal(w.scan().length, 1, 'then it is reported: the settled identity was forgotten with the entry');
    assert.equal(rawLineKey(live), 't src=10.89.0.5 dst=10.89.0.3 sport=54532 dport=6379');
    assert.equal(rawLineKey('garbage'), undefined);
  });

  it('a probe record that arrives after the first poll still claims its entry', () => {
    const w = new ConntrackWatcher({ read: () => `${acct}\n` });
    assert.deepEqual(w.scan(), []);
    w.probeSaw('TCP', '10.89.0.3', 6379, '10.89.0.3', 6379); // unrelated
    w.probeSaw('TCP', '10.89.0.5', 54532, '10.89.0.3', 6379);
    assert.deepEqual(w.scan(), []);
    assert.equal(w.stats().matched, 1);
  });

  it('the server side behind a DNAT (reply tuple reversed) matches the probe\'s accept', () => {
    const dnat = 'ipv4     2 tcp      6 100 ESTABLISHED src=192.0.2.7 dst=192.0.2.1 sport=50000 dport=8080 src=10.89.0.3 dst=192.0.2.7 sport=80 dport=50000 [ASSURED] mark=0 use=1';
    const w = new ConntrackWatcher({ read: () => dnat });
    w.probeSaw('TCP', '192.0.2.7', 50000, '10.89.0.3', 80);
    assert.deepEqual([...w.scan(), ...w.scan()], []);
  });

  it('the tracker attributes conntrack entries to containers by address, both ends', () => {
    const info = (id: string, name: string, ip: string): ContainerInfo => ({
      id, fullId: id.padEnd(64, '0'), name, image: 'localhost/gatehouse-net:1', imageRepository: '', imageTag: '', imageId: '', privileged: false, labels: {}, type: 'podman',
      users: new Map(), groups: new Map(), ips: [ip],
    });
    const byIp = new Map([['10.89.0.5', info('cccccccccccc', 'sub', '10.89.0.5')], ['10.89.0.3', info('dddddddddddd', 'redis', '10.89.0.3')]]);
    const flows: unknown[] = [];
    const t = new FlowTracker({ intervalMs: 10_000, conntrack: { read: () => acct }, onFlows: (f) => flows.push(...f.map((x) => x.flow)) }, { byShort: () => undefined, byAddress: (ip) => byIp.get(ip) });
    t.pollConntrack(T0);
    t.pollConntrack(T0 + 5000);
    t.flush(T0 + 30_000, true);
    const summary = (flows as { direction: string; local: { container?: { name?: string }; port: number }; remote: { ip: string; port: number }; observedBy: string; bytes?: number }[])
      .map((f) => [f.direction, f.local.container?.name, f.local.port, f.remote.ip, f.remote.port, f.observedBy, f.bytes])
      .sort();
    assert.deepEqual(summary, [
      ['egress', 'sub', 0, '10.89.0.3', 6379, 'conntrack', 609],
      ['ingress', 'redis', 6379, '10.89.0.5', 0, 'conntrack', 609],
    ]);
  });

  it("an entry whose last packet predates the container now holding its address is not that container's", () => {
    const sysctl = mkdtempSync(join(tmpdir(), 'gh-ct-'));
    writeFileSync(join(sysctl, 'nf_conntrack_tcp_timeout_time_wait'), '120\n');
    // TIME_WAIT with 117 s left: its last packet was 3 s before the poll
    const info = (name: string, ip: string, startMs: number): ContainerInfo => ({
      id: name.padEnd(12, 'e'), fullId: name.padEnd(64, 'e'), name, image: 'img', imageRepository: '', imageTag: '', imageId: '', privileged: false, labels: {}, type: 'podman',
      users: new Map(), groups: new Map(), ips: [ip], startTs: startMs * 1e6,
    });
    const run = (subStart: number) => {
      const byIp = new Map([['10.89.0.5', info('sub', '10.89.0.5', subStart)], ['10.89.0.3', info('redis', '10.89.0.3', T0 - 60_000)]]);
      const flows: { local: { container?: { name?: string } } }[] = [];
      const t = new FlowTracker({ intervalMs: 10_000, conntrack: { read: () => acct, sysctlDir: sysctl }, onFlows: (f) => flows.push(...f.map((x) => x.flow)) }, { byShort: () => undefined, byAddress: (ip) => byIp.get(ip) });
      t.pollConntrack(T0);
      t.pollConntrack(T0 + 5000);
      t.flush(T0 + 30_000, true);
      return { names: flows.map((f) => f.local.container?.name).sort(), foreign: t.stats().conntrackForeign };
    };
    assert.deepEqual(run(T0 - 10_000).names, ['redis', 'sub'], 'the client container started before the connection');
    // the client's address now belongs to a container started after that connection's last packet
    assert.deepEqual(run(T0 + 4000).names, ['redis']);
  });
});
