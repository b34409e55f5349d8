/**
 * The probe's text output (session 6): records framed by a per-run terminator, strings as
 * raw bytes, bpftrace's own lines between records, and the ordering watermark.
 *
 * - Framing, fed by hand: records cut at every position across chunks, strings holding \n,
 *   \x1f, \x1e, a wrong terminator, text that looks like bpftrace's own lines, and bytes
 *   that are not UTF-8, all come out exactly, as the JSON path gives them.
 * - The watermark: random per-CPU streams interleaved and cut at random, with heartbeats;
 *   every record comes out once, in time order, and never before every CPU has passed it.
 * - Real bpftrace (root): a process opens files named with those bytes and renames itself
 *   (comm) to such text; the sensor reports each name exactly.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ProbeOutputReader } from '../../src/sensor/output-reader.js';
import { decodeWords, RecordAssembler, type RawRecord } from '../../src/sensor/records.js';
import { onlineCpus, ReorderBuffer } from '../../src/sensor/reorder.js';
import { newRecordEnd, probeWithOutput } from '../../src/sensor/bpftrace.js';
import { hasCommand, missing } from '../helpers/components.js';
import { rng } from '../helpers/random.js';

const US = '\x1f';
const END = newRecordEnd();
const rec = (body: string) => `${body}${END}\n`;
const headOf = (cpu: number, tid: number, ts: number, kind: string, nparts: number, comm: string) =>
  [`H${cpu}`, tid, tid, 1, 0, 0, 0, 0, 4294967295, 4026531841, 4414, 2097152, 0, 7, 7, ts, kind, 3, 0, 0, 0, 0, 0, nparts, comm].join(US);

/** Names that try to break framing: separators, newlines, a wrong terminator, bpftrace's own lines. */
const NASTY = [
  'plain',
  'a\nb',
  `x${US}y${US}`,
  '\x1e0123456789abcdef\nH0\x1f1',
  `${END.slice(0, -1)}\n`,
  'Lost 99 events\n(0, 1)\nAttaching 3 probes...\n',
  '{"type": "printf", "data": "R\\u001f1\\n"}\n',
  'quote"back\\slash\\x41',
  'é-ü-日本',
  'tab\there\r',
];

function parseAll(chunks: string[], end = END): { out: RawRecord[]; malformed: number } {
  const a = new RecordAssembler();
  const reader = new ProbeOutputReader(a, end);
  const out: RawRecord[] = [];
  for (const c of chunks) reader.feed(c, out);
  reader.end(out);
  return { out, malformed: a.malformed };
}

describe('text output framing', () => {
  const stream =
    'Attaching 93 probes...\n' +
    rec(`R${US}1`) +
    NASTY.map((name, i) => rec(headOf(i % 2, 100 + i, 1000 + i, 'open', 1, name.slice(0, 15))) + `(${i % 2}, ${1000 + i})\n` + rec(`S${US}${100 + i}${US}/tmp/${name}`)).join('') +
    'Lost 7 events\n' +
    rec(`F1${US}10${US}11${US}5000${US}ba\nsh`) +
    rec(`X0${US}11${US}6000`);

  it('reads every record exactly, whatever the strings hold, cut at any position', () => {
    const whole = parseAll([stream]);
    assert.equal(whole.malformed, 0);
    const events = whole.out.filter((r) => r.t === 'event');
    assert.deepEqual(events.map((r) => r.strings[0]), NASTY.map((n) => `/tmp/${n}`));
    assert.deepEqual(events.map((r) => r.head.comm), NASTY.map((n) => n.slice(0, 15)));
    assert.deepEqual(events.map((r) => r.cpu), NASTY.map((_, i) => i % 2));
    assert.deepEqual(whole.out.filter((r) => r.t === 'heartbeat').length, NASTY.length);
    assert.deepEqual(whole.out.filter((r) => r.t === 'lost'), [{ t: 'lost', count: 7 }]);
    assert.deepEqual(whole.out.at(-2), { t: 'fork', ppid: 10, pid: 11, ts: 5000n, comm: 'ba\nsh', cpu: 1 });
    assert.deepEqual(whole.out.at(-1), { t: 'exit', pid: 11, ts: 6000n, cpu: 0 });
    for (let cut = 1; cut < stream.length; cut += 7) {
      const r = parseAll([stream.slice(0, cut), stream.slice(cut, cut + 13), stream.slice(cut + 13)]);
      assert.deepEqual(r.out, whole.out, `cut at ${cut}`);
      assert.equal(r.malformed, 0);
    }
  });

  it('gives the same strings as bpftrace -f json for the same bytes (non-UTF-8 included)', () => {
    const r = rng(6);
    for (let n = 0; n < 300; n++) {
      const bytes = Buffer.from(Array.from({ length: 1 + Math.floor(r() * 40) }, () => 1 + Math.floor(r() * 255)));
      // what bpftrace 0.17 -f json prints: json_escape with signed chars (bytes ≥ 0x80 as \uffffffXX)
      let json = '';
      for (const b of [...Buffer.from(`S${US}5${US}`), ...bytes, 0x0a]) {
        if (b === 0x22) json += '\\"';
        else if (b === 0x5c) json += '\\\\';
        else if (b === 0x0a) json += '\\n';
        else if (b === 0x0d) json += '\\r';
        else if (b === 0x09) json += '\\t';
        else if (b < 0x20) json += `\\u${b.toString(16).padStart(4, '0')}`;
        else if (b >= 0x80) json += `\\uffffff${b.toString(16)}`;
        else json += String.fromCharCode(b);
      }
      const viaJson = new RecordAssembler();
      viaJson.push(JSON.stringify({ type: 'printf', data: `${headOf(0, 5, 1, 'open', 1, 'c').replace('H0', 'H')}\n` }));
      const [fromJson] = viaJson.push(`{"type": "printf", "data": "${json}"}`);
      // text: raw bytes through the UTF-8 decoding the sensor's stream does
      const text = Buffer.concat([Buffer.from(rec(headOf(0, 5, 1, 'open', 1, 'c'))), Buffer.from(`S${US}5${US}`), bytes, Buffer.from(`${END}\n`)]).toString('utf8');
      const { out } = parseAll([text]);
      assert.ok(fromJson?.t === 'event' && out[0]?.t === 'event');
      assert.deepEqual(out[0].strings, fromJson.strings, `bytes ${bytes.toString('hex')}`);
    }
  });

  it('rebuilds W parts (bytes as 32-bit words) into the bytes %r would have given', () => {
    const sa = Buffer.from('0a00303900000000fe80000000000000000000000000000105000000', 'hex'); // sockaddr_in6, 28 bytes
    const words = (b: Buffer) => [b.length, ...Array.from({ length: b.length / 4 }, (_, i) => b.readUInt32LE(4 * i))].join(US);
    const v4 = Buffer.from([127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    const { out, malformed } = parseAll([rec(headOf(1, 8, 1, 'connect', 2, 'curl')), rec(`W${US}8${US}${words(sa)}`), rec(`W${US}8${US}${words(v4)}`)]);
    assert.equal(malformed, 0);
    assert.ok(out[0]?.t === 'event');
    assert.deepEqual(out[0].bytes, [sa, v4]);
    assert.deepEqual(decodeWords(`6${US}${0x04030201}${US}${0x08070605}`), Buffer.from([1, 2, 3, 4, 5, 6]));
  });

  it('counts text that is neither a record nor a line of bpftrace as malformed', () => {
    const { out, malformed } = parseAll(['garbage line\n', rec(`Q${US}1`), rec(`H0${US}1${US}2`)]);
    assert.deepEqual(out, []);
    assert.equal(malformed, 3);
  });

  it('fills the probe placeholders and rejects a bad heartbeat rate', () => {
    const p = probeWithOutput('printf("X%u\\x1f%d@EOR@\\n", cpu, pid); profile:hz:@HEARTBEAT_HZ@ { }', '\x1eabc', 50);
    assert.equal(p, 'printf("X%u\\x1f%d\\x1eabc\\n", cpu, pid); profile:hz:50 { }');
    assert.throws(() => probeWithOutput('', '', 0), /heartbeat rate/);
    assert.match(newRecordEnd(), new RegExp(`^${String.fromCharCode(0x1e)}[0-9a-f]{16}$`));
    assert.notEqual(newRecordEnd(), newRecordEnd());
  });
});

describe('ordering watermark', () => {
  it('releases every record once, in time order, never before every CPU passed it', () => {
    const r = rng(25);
    for (let round = 0; round < 40; round++) {
      const cpus = 1 + Math.floor(r() * 4);
      // per CPU, increasing times; some CPUs go quiet for a while
      const streams: Array<Array<{ ts: number; hb: boolean }>> = [];
      for (let c = 0; c < cpus; c++) {
        let ts = Math.floor(r() * 100);
        streams.push(Array.from({ length: 50 + Math.floor(r() * 100) }, () => ({ ts: (ts += 1 + Math.floor(r() * (r() < 0.1 ? 500 : 20))), hb: r() < 0.1 })));
      }
      const released: number[] = [];
      let wmAtRelease: number[] = [];
      const seen = new Map<number, number>(); // cpu → latest shown
      const rb = new ReorderBuffer(1_000_000_000n, (x) => {
        released.push(Number(x.t === 'exit' ? x.ts : -1));
      }, [...Array(cpus).keys()]);
      const pos = streams.map(() => 0);
      let id = 0;
      while (pos.some((p, c) => p < streams[c]!.length)) {
        const c = Math.floor(r() * cpus);
        const burst = 1 + Math.floor(r() * 8);
        for (let k = 0; k < burst && pos[c]! < streams[c]!.length; k++) {
          const { ts, hb } = streams[c]![pos[c]!++]!;
          if (hb) rb.advance(c, ts);
          else rb.push({ t: 'exit', pid: id++, ts: BigInt(ts), cpu: c });
          seen.set(c, ts);
        }
        const before = released.length;
        rb.flush(0n);
        // nothing released beyond what every CPU has shown
        const min = seen.size === cpus ? Math.min(...seen.values()) : -Infinity;
        for (const ts of released.slice(before)) assert.ok(ts <= min, `released ${ts} before every CPU passed it (min ${min})`);
        wmAtRelease = released;
      }
      rb.flush(0n, true);
      const all = streams.flatMap((s) => s.filter((x) => !x.hb).map((x) => x.ts));
      assert.equal(released.length, all.length);
      assert.deepEqual(released, [...released].sort((a, b) => a - b));
      assert.deepEqual([...released].sort((a, b) => a - b), all.sort((a, b) => a - b));
      assert.ok(wmAtRelease.length > 0);
    }
  });

  it('lets a record go after the window when a CPU shows nothing', () => {
    const out: number[] = [];
    const rb = new ReorderBuffer(50n, (x) => out.push(x.t === 'exit' ? x.pid : -1), [0, 1]);
    rb.push({ t: 'exit', pid: 1, ts: 100n, cpu: 0 });
    rb.flush(120n);
    assert.deepEqual(out, [], 'CPU 1 has shown nothing yet');
    rb.advance(1, 90);
    rb.flush(120n);
    assert.deepEqual(out, [], 'CPU 1 is behind the record');
    rb.advance(1, 100);
    rb.flush(120n);
    assert.deepEqual(out, [1]);
    rb.push({ t: 'exit', pid: 2, ts: 200n, cpu: 0 });
    rb.flush(240n);
    assert.deepEqual(out, [1]);
    rb.flush(251n);
    assert.deepEqual(out, [1, 2], 'the window bounds the wait');
  });

  it('reads the online CPU list', () => {
    assert.deepEqual(onlineCpus('0-3,6\n'), [0, 1, 2, 3, 6]);
    assert.deepEqual(onlineCpus('0'), [0]);
    assert.deepEqual(onlineCpus('junk'), []);
    assert.ok(onlineCpus().length >= 1);
  });
});

const isRoot = process.getuid?.() === 0;
const skipKernel =
  missing(isRoot, 'the sensor needs root') ||
  missing(hasCommand('bpftrace'), 'bpftrace not installed (.ci/setup.d/65-bpftrace.sh)') ||
  missing(hasCommand('python3'), 'python3 not installed');

// Opens (for writing: the default open filter passes every write) a file per name, after
// renaming its thread (comm) to the name's first 15 bytes; names are hex-encoded bytes.
const OPENER = String.raw`
import os, sys, ctypes
libc = ctypes.CDLL(None)
d = sys.argv[1].encode()
for h in sys.argv[2:]:
    name = bytes.fromhex(h)
    libc.prctl(15, ctypes.c_char_p(name[:15] + b'\0'), 0, 0, 0)
    fd = os.open(d + b'/' + name, os.O_WRONLY | os.O_CREAT, 0o600)
    os.close(fd)
`;

describe('text output from real bpftrace', { skip: skipKernel }, () => {
  it('reports file names and comm holding separators, newlines, terminators and non-UTF-8 bytes exactly', async () => {
    const { Sensor } = await import('../../src/sensor/sensor.js');
    const dir = mkdtempSync(join(tmpdir(), 'gh-probe-output-'));
    const names = [...NASTY.filter((n) => !n.includes('/')).map((n) => Buffer.from(n)), Buffer.from([0x61, 0xff, 0xc3, 0x28, 0x80, 0x62]), Buffer.from([0xe6, 0x97, 0x1f, 0x0a])];
    const sensor = await Sensor.start({});
    try {
      const py = spawn('python3', ['-c', OPENER, dir, ...names.map((n) => n.toString('hex'))], { stdio: 'inherit' });
      const pid = py.pid!;
      await new Promise((resolve) => py.on('close', resolve));
      const want = new Map(names.map((n) => [`${dir}/${n.toString('utf8')}`, n.subarray(0, 15).toString('utf8')]));
      const got = new Map<string, string>();
      const deadline = setTimeout(() => void sensor.stop(), 20_000);
      for await (const ev of sensor.events()) {
        if (ev['proc.pid'] !== pid || ev['evt.type'] !== 'openat' || !String(ev['fd.name']).startsWith(dir)) continue;
        got.set(String(ev['fd.name']), String(ev['proc.name']));
        if (got.size === want.size) break;
      }
      clearTimeout(deadline);
      assert.deepEqual(new Map([...got].sort()), new Map([...want].sort()), `sensor stats ${JSON.stringify(sensor.stats())}`);
      assert.equal(sensor.stats().malformed, 0);
      assert.equal(sensor.stats().incomplete, 0);
    } finally {
      await sensor.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
