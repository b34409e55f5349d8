/**
 * bpftrace's own CPU per record, by output mode (issue 25, session 6): the sensor's real probe
 * (src/sensor/probes/gatehouse.bt, default open filter: every write leaves the kernel) run by
 * real bpftrace while a load generator (its own process) makes `--rate` probed syscalls per
 * second: appending opens of a scratch file (a head and a path part each) or, with
 * `--load connect`, loopback TCP connects to a listener of its own (connect: a head and two
 * %r byte parts; accept: a head and a part). This process reads the output as the sensor does
 * (output-reader.ts, records.ts), so its CPU is the parsing side.
 *
 * Modes, run back to back in rounds (A/B on a shared machine): json-line (sessions 1–5:
 * `-f json -B line`), json-full, text-line, text-full (`-f text -B full`, flushed by the
 * probe's heartbeats). Per mode: bpftrace CPU µs per event (schedstat, ns), write(2) calls
 * per event (/proc/PID/io), bytes per event, the reader's CPU µs per event, events seen of
 * made, kernel losses. Needs root and bpftrace.
 *
 *   node --import tsx bench/bpftrace-output.bench.ts [--rate 20000] [--seconds 8] [--rounds 3]
 *        [--modes text-full,json-line] [--load open|connect]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBpftrace, type BpftraceRun } from '../src/sensor/bpftrace.js';
import { ProbeOutputReader } from '../src/sensor/output-reader.js';
import { RecordAssembler, type RawRecord } from '../src/sensor/records.js';

const argv = process.argv.slice(2);
const opt = (name: string, dflt: string): string => {
  const i = argv.indexOf(name);
  return i >= 0 && argv[i + 1] ? argv[i + 1]! : dflt;
};
const RATE = Number(opt('--rate', '20000'));
const SECONDS = Number(opt('--seconds', '8'));
const ROUNDS = Number(opt('--rounds', '3'));
const LOAD = opt('--load', 'open');
const MODES = opt('--modes', 'json-line,json-full,text-line,text-full').split(',');
const KNOWN = ['json-line', 'json-full', 'text-line', 'text-full'];
if (!(RATE > 0) || !(SECONDS > 0) || !(ROUNDS >= 1) || MODES.some((m) => !KNOWN.includes(m)) || !['open', 'connect'].includes(LOAD)) {
  console.error(`bpftrace-output: --rate/--seconds/--rounds take positive numbers, --modes some of ${KNOWN.join(',')}, --load open|connect`);
  process.exit(2);
}
if (process.getuid?.() !== 0) {
  console.error('bpftrace-output: needs root (bpftrace)');
  process.exit(2);
}

/** On-CPU ns of every thread of a process (schedstat: exact, unlike the 10 ms ticks of stat). */
function cpuNs(pid: number): number {
  let sum = 0;
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    try {
      sum += Number(readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // thread gone
    }
  }
  return sum;
}

function ioOf(pid: number): { syscw: number; wchar: number } {
  const io = readFileSync(`/proc/${pid}/io`, 'utf8');
  return { syscw: Number(/syscw: (\d+)/.exec(io)?.[1]), wchar: Number(/wchar: (\d+)/.exec(io)?.[1]) };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const dir = mkdtempSync(join(tmpdir(), 'gh-bpftrace-output-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

// Paced per 10 ms; prints what it made. Its own process: its syscalls are the traced load.
const LOADGEN = `
const fs = require('fs'), net = require('net');
const [rate, seconds, kind, dir] = [Number(process.argv[1]), Number(process.argv[2]), process.argv[3], process.argv[4]];
const W = fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT;
let made = 0; const total = rate * seconds; const t0 = Date.now();
const finish = () => { process.stdout.write(String(made)); process.exit(0); };
if (kind === 'open') {
  const tick = () => {
    const due = Math.min(total, Math.floor(((Date.now() - t0) / 1000) * rate));
    while (made < due) { fs.closeSync(fs.openSync(dir + '/app-' + (made & 7) + '.log', W)); made++; }
    if (made >= total) return finish();
    setTimeout(tick, 10 - ((Date.now() - t0) % 10));
  };
  tick();
} else {
  // two events per connection (connect, accept)
  const srv = net.createServer((s) => s.destroy()).listen(0, '127.0.0.1', () => {
    const port = srv.address().port; let open = 0;
    const tick = () => {
      const due = Math.min(total, Math.floor(((Date.now() - t0) / 1000) * rate));
      while (made < due && open < 64) { made += 2; open++; const c = net.connect(port, '127.0.0.1'); c.on('error', () => {}); c.on('close', () => open--); c.on('connect', () => c.destroy()); }
      if (made >= total) return setTimeout(finish, 200);
      setTimeout(tick, 2);
    };
    tick();
  });
}`;

interface Result {
  mode: string;
  made: number;
  events: number;
  lost: number;
  bpftraceUsPerEvent: number;
  writesPerEvent: number;
  bytesPerEvent: number;
  readerUsPerEvent: number;
  load: number;
}

async function runMode(mode: string): Promise<Result> {
  const [format, buffering] = mode.split('-') as ['text' | 'json', 'full' | 'line'];
  const run: BpftraceRun = startBpftrace({ format, buffering });
  const assembler = new RecordAssembler();
  const reader = new ProbeOutputReader(assembler, run.recordEnd);
  const out: RawRecord[] = [];
  let ready = false;
  let counting = false;
  let events = 0;
  let lost = 0;
  const gens = new Set<number>();
  const stdout = run.child.stdout!;
  stdout.setEncoding('utf8');
  stdout.on('data', (chunk: string) => {
    reader.feed(chunk, out);
    for (const r of out) {
      if (r.t === 'ready') {
        ready = true;
        assembler.resetPending();
      } else if (r.t === 'lost') lost += counting ? r.count : 0;
      else if (counting && r.t === 'event' && gens.has(r.head.pid)) events++;
    }
    out.length = 0;
  });
  for (let i = 0; i < 3000 && !ready; i++) {
    if (run.child.exitCode !== null) throw new Error(`bpftrace exited: ${run.stderrTail()}`);
    await sleep(100);
  }
  if (!ready) throw new Error('bpftrace did not attach in 300 s');
  await sleep(1000);
  const pid = run.child.pid!;
  counting = true;
  const cpu0 = cpuNs(pid);
  const io0 = ioOf(pid);
  const me0 = process.cpuUsage();
  const gen = spawn(process.execPath, ['-e', LOADGEN, String(RATE), String(SECONDS), LOAD, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  gens.add(gen.pid!);
  let made = '';
  gen.stdout!.on('data', (d: Buffer) => (made += d.toString()));
  await new Promise((resolve) => gen.on('close', resolve));
  await sleep(500); // the last heartbeat flush
  const cpu1 = cpuNs(pid);
  const io1 = ioOf(pid);
  const me = process.cpuUsage(me0);
  counting = false;
  run.child.kill('SIGINT');
  await run.exited;
  const n = Math.max(1, events);
  return {
    mode,
    made: Number(made),
    events,
    lost,
    bpftraceUsPerEvent: (cpu1 - cpu0) / 1000 / n,
    writesPerEvent: (io1.syscw - io0.syscw) / n,
    bytesPerEvent: (io1.wchar - io0.wchar) / n,
    readerUsPerEvent: (me.user + me.system) / n,
    load: loadavg()[0]!,
  };
}

console.log(`bpftrace output modes: ${LOAD} load at ${RATE}/s for ${SECONDS} s, ${ROUNDS} round(s), modes ${MODES.join(', ')}`);
console.log('mode        made    seen   lost  bpftrace µs/ev  writes/ev  bytes/ev  reader µs/ev  load');
const all: Result[] = [];
for (let round = 0; round < ROUNDS; round++) {
  for (const mode of MODES) {
    const r = await runMode(mode);
    all.push(r);
    console.log(
      `${r.mode.padEnd(10)} ${String(r.made).padStart(6)} ${String(r.events).padStart(7)} ${String(r.lost).padStart(6)} ${r.bpftraceUsPerEvent.toFixed(2).padStart(14)} ${r.writesPerEvent.toFixed(3).padStart(10)} ${r.bytesPerEvent.toFixed(0).padStart(9)} ${r.readerUsPerEvent.toFixed(2).padStart(13)} ${r.load.toFixed(1).padStart(5)}`,
    );
  }
}
console.log('median per mode:');
for (const mode of MODES) {
  const rs = all.filter((r) => r.mode === mode);
  const med = (f: (r: Result) => number) => rs.map(f).sort((a, b) => a - b)[Math.floor(rs.length / 2)]!;
  console.log(`  ${mode.padEnd(10)} bpftrace ${med((r) => r.bpftraceUsPerEvent).toFixed(2)} µs/event, ${med((r) => r.writesPerEvent).toFixed(3)} writes/event, reader ${med((r) => r.readerUsPerEvent).toFixed(2)} µs/event`);
}
