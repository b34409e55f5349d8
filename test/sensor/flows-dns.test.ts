/**
 * DNS names and IPv6 in the flow pipeline, without a kernel: DNS answers built here (name
 * compression, CNAME chains, A and AAAA, cut short at the probe's 400 bytes, errors, queries,
 * pointer loops) parsed into address → question name; the per-container cache (TTL clamp,
 * expiry, eviction, containers kept apart); the tracker naming egress flows — and only
 * those of the container that resolved the name; v4-mapped addresses unmapped; the probe's
 * accept record with IPv6 address parts assembled whole.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DnsNameCache, parseDnsAnswer } from '../../src/sensor/flows/dns.js';
import { dnsAnswerOf, observationOf, unmapV4 } from '../../src/sensor/flows/observe.js';
import { FlowTracker } from '../../src/sensor/flows/tracker.js';
import { RecordAssembler } from '../../src/sensor/records.js';
import type { ObservedFlow } from '../../src/network/flow.js';
import type { RuntimeEvent } from '../../src/runtime/event.js';

const T0 = Date.UTC(2026, 11, 7, 10, 0, 0);

/** Encodes a name as labels (no compression). */
function labels(name: string): Buffer {
  return Buffer.concat([...name.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, 'latin1')])), Buffer.from([0])]);
}

interface Rr { name: Buffer; type: number; ttl: number; data: Buffer }

/** A DNS response: header, one question, answers (names given as encoded bytes, so pointers can be used). */
function response(question: string, answers: Rr[], opts: { rcode?: number; qr?: boolean; qd?: number } = {}): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(0x1234, 0);
  header.writeUInt16BE(((opts.qr ?? true) ? 0x8000 : 0) | 0x0180 | (opts.rcode ?? 0), 2);
  header.writeUInt16BE(opts.qd ?? 1, 4);
  header.writeUInt16BE(answers.length, 6);
  const q = Buffer.concat([labels(question), Buffer.from([0, 1, 0, 1])]);
  const rrs = answers.map((a) => {
    const fixed = Buffer.alloc(10);
    fixed.writeUInt16BE(a.type, 0);
    fixed.writeUInt16BE(1, 2);
    fixed.writeUInt32BE(a.ttl, 4);
    fixed.writeUInt16BE(a.data.length, 8);
    return Buffer.concat([a.name, fixed, a.data]);
  });
  return Buffer.concat([header, q, ...rrs]);
}

const ptr = (offset: number) => Buffer.from([0xc0 | (offset >> 8), offset & 0xff]);
const v4 = (ip: string) => Buffer.from(ip.split('.').map(Number));
const v6 = (words: number[]) => {
  const b = Buffer.alloc(16);
  words.forEach((w, i) => b.writeUInt16BE(w, i * 2));
  return b;
};

describe('DNS answers', () => {
  it('maps every A and AAAA record to the question, through compression and CNAME chains', () => {
    // api.example.com → CNAME edge.cdn.example.net → two A records and one AAAA
    const cnameTarget = labels('edge.cdn.example.net');
    const cnameAt = 12 + labels('api.example.com').length + 4 + 2 + 10; // where the CNAME's rdata starts
    const msg = response('API.Example.com', [
      { name: ptr(12), type: 5, ttl: 300, data: cnameTarget },
      { name: ptr(cnameAt), type: 1, ttl: 20, data: v4('93.184.216.34') },
      { name: ptr(cnameAt), type: 1, ttl: 20, data: v4('93.184.216.35') },
      { name: ptr(cnameAt), type: 28, ttl: 7200, data: v6([0x2606, 0x2800, 0x220, 1, 0, 0, 0, 0x1946]) },
    ]);
    const a = parseDnsAnswer(msg);
    assert.deepEqual(a, {
      name: 'api.example.com',
      addresses: [
        { ip: '93.184.216.34', ttlSeconds: 20 },
        { ip: '93.184.216.35', ttlSeconds: 20 },
        { ip: '2606:2800:220:1::1946', ttlSeconds: 7200 },
      ],
    });
  });

  it('keeps the records read before a cut (the probe keeps 400 bytes)', () => {
    const many = Array.from({ length: 40 }, (_, i) => ({ name: ptr(12), type: 1, ttl: 60, data: v4(`10.1.0.${i}`) }));
    const full = response('many.example.org', many);
    assert.ok(full.length > 400);
    const cut = parseDnsAnswer(full.subarray(0, 400));
    assert.ok(cut);
    const whole = Math.floor((400 - (12 + labels('many.example.org').length + 4)) / 16);
    assert.equal(cut.addresses.length, whole);
    assert.deepEqual(cut.addresses.map((x) => x.ip), many.slice(0, whole).map((_, i) => `10.1.0.${i}`));
  });

  it('ignores what is not a successful answer, and bad names', () => {
    const rr = [{ name: ptr(12), type: 1, ttl: 60, data: v4('10.0.0.1') }];
    assert.equal(parseDnsAnswer(response('x.example', rr, { rcode: 3 })), undefined, 'NXDOMAIN');
    assert.equal(parseDnsAnswer(response('x.example', rr, { qr: false })), undefined, 'a query');
    assert.equal(parseDnsAnswer(response('x.example', rr, { qd: 2 })), undefined, 'two questions');
    assert.equal(parseDnsAnswer(response('x.example', [])), undefined, 'no answer');
    assert.equal(parseDnsAnswer(response('x.example', [{ name: ptr(12), type: 16, ttl: 60, data: Buffer.from('\x03txt') }])), undefined, 'TXT only');
    assert.equal(parseDnsAnswer(Buffer.alloc(11)), undefined);
    // an answer whose name points at itself (a loop), and one pointing forward
    const loop = response('x.example', rr);
    const rrAt = 12 + labels('x.example').length + 4;
    loop.writeUInt16BE(0xc000 | rrAt, rrAt);
    assert.equal(parseDnsAnswer(loop), undefined);
    const fwd = response('x.example', rr);
    fwd.writeUInt16BE(0xc000 | 200, 12);
    assert.equal(parseDnsAnswer(fwd), undefined);
  });
});

describe('DNS name cache', () => {
  const answer = (name: string, ip: string, ttlSeconds: number) => ({ name, addresses: [{ ip, ttlSeconds }] });

  it('keeps a name for its TTL clamped to [1 min, 1 h], per container', () => {
    const c = new DnsNameCache();
    c.add('aaaaaaaaaaaa', answer('short.example', '10.0.0.1', 5), T0);
    c.add('aaaaaaaaaaaa', answer('long.example', '10.0.0.2', 86_400), T0);
    c.add('aaaaaaaaaaaa', answer('mid.example', '10.0.0.3', 600), T0);
    assert.equal(c.lookup('aaaaaaaaaaaa', '10.0.0.1', T0 + 59_000), 'short.example');
    assert.equal(c.lookup('aaaaaaaaaaaa', '10.0.0.1', T0 + 61_000), undefined);
    assert.equal(c.lookup('aaaaaaaaaaaa', '10.0.0.3', T0 + 599_000), 'mid.example');
    assert.equal(c.lookup('aaaaaaaaaaaa', '10.0.0.3', T0 + 601_000), undefined);
    assert.equal(c.lookup('aaaaaaaaaaaa', '10.0.0.2', T0 + 3_599_000), 'long.example');
    assert.equal(c.lookup('aaaaaaaaaaaa', '10.0.0.2', T0 + 3_601_000), undefined);
    assert.equal(c.lookup('bbbbbbbbbbbb', '10.0.0.2', T0), undefined, 'another container did not resolve it');
    assert.equal(c.lookup('host', '10.0.0.2', T0), undefined);
  });

  it('a newer answer for an address wins; the cache is bounded, oldest first', () => {
    const c = new DnsNameCache({ maxEntries: 100 });
    c.add('host', answer('old.example', '10.9.0.1', 300), T0);
    c.add('host', answer('new.example', '10.9.0.1', 300), T0 + 1000);
    assert.equal(c.lookup('host', '10.9.0.1', T0 + 2000), 'new.example');
    for (let i = 0; i < 150; i++) c.add('host', answer(`n${i}.example`, `10.8.${i >> 8}.${i & 0xff}`, 300), T0 + 2000 + i);
    assert.equal(c.size, 100);
    assert.equal(c.evicted, 51);
    assert.equal(c.lookup('host', '10.9.0.1', T0 + 3000), undefined, 'the oldest went first');
    assert.equal(c.lookup('host', '10.8.0.149', T0 + 3000), 'n149.example');
    assert.equal(c.lookup('host', '10.8.0.49', T0 + 3000), undefined);
    assert.equal(c.lookup('host', '10.8.0.50', T0 + 3000), 'n50.example');
  });
});

/** The events the sensor builds: a DNS answer received (recvfrom from port 53) and a connect. */
function dnsEvent(container: string, payload: Buffer, t: number): RuntimeEvent {
  return {
    'evt.type': 'recvfrom', 'evt.rawtime': BigInt(T0 + t) * 1_000_000n, 'fd.l4proto': 'udp', 'fd.rport': 53, 'fd.lport': 41000,
    'container.id': container, 'proc.name': 'curl', 'evt.buffer': payload.toString('latin1'),
  };
}
function connectEvent(container: string, rip: string, rport: number, t: number, over: RuntimeEvent = {}): RuntimeEvent {
  return {
    'evt.type': 'connect', 'evt.rawtime': BigInt(T0 + t) * 1_000_000n, 'evt.rawres': -115, 'fd.l4proto': 'tcp',
    'fd.lip': '10.88.0.5', 'fd.lport': 40000 + t, 'fd.rip': rip, 'fd.rport': rport,
    'container.id': container, 'container.name': container === 'host' ? 'host' : `c-${container}`, 'proc.name': 'curl', 'proc.exepath': '/usr/bin/curl',
    ...over,
  };
}

describe('tracker: DNS names on egress flows', () => {
  it('names the remote end of the resolving container\'s egress flows, not others\' nor ingress', () => {
    const flows: ObservedFlow[] = [];
    const t = new FlowTracker({ intervalMs: 10_000, conntrack: false, onFlows: (f) => flows.push(...f.map((x) => x.flow)) }, { byShort: () => undefined, byAddress: () => undefined });
    const cdn = '151.101.1.1';
    t.push(dnsEvent('aaaaaaaaaaaa', response('pkg.example.io', [{ name: ptr(12), type: 1, ttl: 30, data: v4(cdn) }]), 0));
    t.push(connectEvent('aaaaaaaaaaaa', cdn, 443, 5));
    t.push(connectEvent('aaaaaaaaaaaa', cdn, 443, 6));
    t.push(connectEvent('bbbbbbbbbbbb', cdn, 443, 7));
    t.push(connectEvent('aaaaaaaaaaaa', '151.101.1.2', 443, 8));
    t.push({ ...connectEvent('aaaaaaaaaaaa', cdn, 51000, 9), 'evt.type': 'accept', 'fd.lport': 8080, 'evt.rawres': 5 });
    // the name outlives a short TTL up to the 1-minute floor
    t.push(connectEvent('aaaaaaaaaaaa', cdn, 80, 50_000));
    t.push(connectEvent('aaaaaaaaaaaa', cdn, 8443, 70_000));
    t.flush(T0 + 200_000, true);
    const seen = flows.map((f) => `${f.local.container?.id} ${f.direction} ${f.remote.ip}:${f.remote.port} ${f.remote.dns ?? '-'} ${f.connections}`).sort();
    assert.deepEqual(seen, [
      `aaaaaaaaaaaa egress ${cdn}:443 pkg.example.io 2`,
      `aaaaaaaaaaaa egress ${cdn}:80 pkg.example.io 1`,
      `aaaaaaaaaaaa egress ${cdn}:8443 - 1`,
      'aaaaaaaaaaaa egress 151.101.1.2:443 - 1',
      `aaaaaaaaaaaa ingress ${cdn}:0 - 1`,
      `bbbbbbbbbbbb egress ${cdn}:443 - 1`,
    ]);
    assert.equal(t.stats().dnsAnswers, 1);
  });

  it('reads only DNS answers: other UDP receives and a query are not', () => {
    const q = response('x.example', [{ name: ptr(12), type: 1, ttl: 60, data: v4('10.0.0.1') }], { qr: false });
    assert.equal(dnsAnswerOf(dnsEvent('host', q, 0)), undefined);
    const a = response('x.example', [{ name: ptr(12), type: 1, ttl: 60, data: v4('10.0.0.1') }]);
    assert.equal(dnsAnswerOf({ ...dnsEvent('host', a, 0), 'fd.rport': 5353 }), undefined);
    assert.equal(dnsAnswerOf({ ...dnsEvent('host', a, 0), 'fd.l4proto': 'tcp' }), undefined);
    assert.deepEqual(dnsAnswerOf(dnsEvent('host', a, 0))?.answer.addresses, [{ ip: '10.0.0.1', ttlSeconds: 60 }]);
  });
});

describe('IPv6 and dual-stack', () => {
  it('unmaps v4-mapped addresses and leaves others', () => {
    assert.equal(unmapV4('::ffff:7f00:1'), '127.0.0.1');
    assert.equal(unmapV4('::ffff:a58:d05'), '10.88.13.5');
    assert.equal(unmapV4('::1'), '::1');
    assert.equal(unmapV4('2001:db8::ffff:7f00:1'), '2001:db8::ffff:7f00:1');
    assert.equal(unmapV4('10.0.0.1'), '10.0.0.1');
  });

  it('an IPv6 socket talking to an IPv4 peer gives IPv4 ends', () => {
    const o = observationOf(connectEvent('host', '::ffff:a00:9', 80, 0, { 'fd.lip': '::ffff:a00:2', 'fd.typechar': '6' }));
    assert.equal(o?.remote.ip, '10.0.0.9');
    assert.equal(o?.local.ip, '10.0.0.2');
    const six = observationOf(connectEvent('host', '2001:db8::9', 80, 0, { 'fd.lip': '2001:db8::2' }));
    assert.equal(six?.remote.ip, '2001:db8::9');
  });

  it('the probe\'s IPv6 accept record (head, v4 daddr, two 16-byte addresses) is one event', () => {
    const asm = new RecordAssembler();
    const line = (data: string) => JSON.stringify({ type: 'printf', data: `${data}\n` });
    const hex = (b: Buffer) => [...b].map((x) => `\\x${x.toString(16).padStart(2, '0')}`).join('');
    const head = ['H', 100, 100, 1, 0, 0, 0, 0, 4294967295, 4026531840, 1, 0, 0, 0, 0, '123', 'accept', 7, 10, 6, 8081, 58038, 0, 3, 'node'].join('\x1f');
    assert.deepEqual(asm.push(line(head)), []);
    assert.deepEqual(asm.push(line('S\x1f100\x1f0')), []);
    assert.deepEqual(asm.push(line(`B\x1f100\x1f${hex(v6([0, 0, 0, 0, 0, 0, 0, 1]))}`)), []);
    const out = asm.push(line(`B\x1f100\x1f${hex(v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 2]))}`));
    assert.equal(out.length, 1);
    const ev = out[0]!;
    assert.ok(ev.t === 'event');
    assert.equal(ev.head.kind, 'accept');
    assert.deepEqual(ev.bytes.map((b) => b.length), [16, 16]);
    assert.equal(ev.bytes[0]!.readUInt16BE(14), 1);
    assert.equal(ev.bytes[1]!.readUInt16BE(0), 0x2001);
    assert.equal(asm.incomplete, 0);
  });
});
