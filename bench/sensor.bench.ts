/**
 * bench:sensor — CPU cost of the sensor as users run it (`gatehouse sensor --rules` with
 * Falco's stable rules, alerts to a file) while a load generator makes ~10k probed
 * syscalls per second: opens of a file below /etc for reading, of a scratch file for
 * writing (O_TRUNC), and one in SENSITIVE_EVERY a read of /etc/shadow, which the stable
 * rules must still report. Opens no loaded rule can match are filtered in the kernel.
 *
 * The sensor runs in its own process, so its CPU (every thread: pipeline, rules, sinks,
 * V8's helpers) and bpftrace's are read from /proc, free of the bench's own bookkeeping.
 * Prints their share of one core against the 5% goal, the drop counters (goal 0), and the
 * alerts for the sensitive reads (all expected). In-kernel BPF time is charged to the
 * traced processes: the load generator's CPU is printed with and without the probe.
 * Needs root and bpftrace. BENCH_NODE_FLAGS passes flags to the sensor's node (for example
 * `--cpu-prof --cpu-prof-dir DIR`); BENCH_DEBUG shows the sensor's stdout.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { childrenOf, procCpuSeconds } from './proc-stats.js';

const RULES = fileURLToPath(new URL('../../shared/reference/falco/rules/falco_rules.yaml', import.meta.url));
const BIN = fileURLToPath(new URL('../bin/gatehouse.mjs', import.meta.url));
const RATE = Number(process.env.BENCH_RATE ?? 10_000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP_SECONDS ?? 3); // must differ from SECONDS
/** Sensitive opens: one in 1000 (10 alerts/s) for the goal, one in 100 (an alert storm) for reference. */
const MIXES = [1000, 100];

// Load generator: RATE opens per second (half reads below /etc, half writes, one in
// `every` a read of /etc/shadow), paced per 10 ms.
const LOADGEN = (seconds: number, every: number) => `
const fs = require('fs');
const rate = ${RATE}, seconds = ${seconds}, every = ${every};
const per = rate / 100; const t0 = Date.now(); let n = 0;
const open = (n) => n % every === 0 ? fs.openSync('/etc/shadow', 'r') : fs.openSync(n % 2 ? '/etc/hostname' : '/tmp/gatehouse-bench-sensor', n % 2 ? 'r' : 'w');
const tick = () => {
  const due = Math.min(rate * seconds, Math.floor((Date.now() - t0) / 10) * per);
  while (n < due) { fs.closeSync(open(n)); n++; }
  if (n >= rate * seconds) { process.stdout.write(String(n)); return; }
  setTimeout(tick, 2);
};
tick();`;

/** Runs the load generator; resolves with the opens it made, its CPU seconds and its pid. */
async function runLoad(seconds: number, every: number): Promise<{ made: number; cpu: number; pid: number }> {
  const gen = spawn(process.execPath, ['-e', LOADGEN(seconds, every)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let made = '';
  gen.stdout.on('data', (d: Buffer) => (made += d.toString()));
  const cpu = await new Promise<number>((resolve) => {
    let last = 0;
    const poll = setInterval(() => (last = procCpuSeconds(gen.pid!) || last), 200);
    gen.on('close', () => {
      clearInterval(poll);
      resolve(last);
    });
  });
  return { made: Number(made), cpu, pid: gen.pid ?? -1 };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// the load generator alone first: its CPU without the probe, to show what the probe adds in the kernel
const bare = await runLoad(SECONDS, MIXES[0]!);

const dir = mkdtempSync(join(tmpdir(), 'gh-bench-sensor-'));
const alertsFile = join(dir, 'alerts.jsonl');
const sensor = spawn(process.execPath, [...(process.env.BENCH_NODE_FLAGS ? process.env.BENCH_NODE_FLAGS.split(' ') : []), BIN, 'sensor', '--rules', RULES, '--output', alertsFile], {
  stdio: ['ignore', process.env.BENCH_DEBUG ? 'inherit' : 'ignore', 'pipe'],
  env: { ...process.env, GATEHOUSE_FROM_SOURCE: '1' },
});
let stderr = '';
sensor.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
const closed = new Promise<number | null>((resolve) => sensor.on('close', (c) => resolve(c)));
while (!stderr.includes('sensor ready')) {
  if (sensor.exitCode !== null) throw new Error(`sensor exited before ready: ${stderr}`);
  await sleep(100);
}
const bpftracePid = childrenOf(sensor.pid!).find((p) => readFileSync(`/proc/${p}/comm`, 'utf8').trim() === 'bpftrace') ?? -1;

await sleep(1000); // settle after attach
// a steady state, as a long-running sensor has: the pipeline's code is compiled and warm
await runLoad(WARMUP_SECONDS, MIXES[1]!);
await sleep(500);

interface Measured {
  every: number;
  made: number;
  wall: number;
  genCpu: number;
  nodeCpu: number;
  btCpu: number;
}
async function measure(every: number): Promise<Measured> {
  const sensor0 = procCpuSeconds(sensor.pid!);
  const bt0 = procCpuSeconds(bpftracePid);
  const t0 = process.hrtime.bigint();
  const load = await runLoad(SECONDS, every);
  await sleep(500); // let the pipeline drain
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  return { every, made: load.made, wall, genCpu: load.cpu, nodeCpu: procCpuSeconds(sensor.pid!) - sensor0, btCpu: procCpuSeconds(bpftracePid) - bt0 };
}
const runs: Measured[] = [];
for (const every of MIXES) runs.push(await measure(every));
sensor.kill('SIGINT');
await closed;

const alerts = readFileSync(alertsFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { rule: string; output_fields: Record<string, unknown> });
rmSync(dir, { recursive: true, force: true });
const stats = /sensor stopped: (\d+) events, (\d+) alerts, (\d+) dropped \(kernel=(\d+) queue=(\d+) incomplete=(\d+)\)/.exec(stderr);
if (!stats) throw new Error(`no sensor summary: ${stderr}`);
const first = runs[0]!;
console.log(`bench:sensor  load: ${first.made} opens in ${first.wall.toFixed(1)} s (${(first.made / first.wall).toFixed(0)}/s); load generator CPU ${((first.genCpu / first.wall) * 100).toFixed(1)}% with the probe (in-kernel filter time is charged here), ${((bare.cpu / SECONDS) * 100).toFixed(1)}% without`);
for (const r of runs) {
  const share = ((r.nodeCpu + r.btCpu) / r.wall) * 100;
  // the run's command line names its mix and duration (the warm-up's differs)
  const mine = (a: (typeof alerts)[number]) => String(a.output_fields['proc.cmdline']).includes(`seconds = ${SECONDS}, every = ${r.every};`);
  const reported = alerts.filter((a) => a.rule === 'Read sensitive file untrusted' && a.output_fields['fd.name'] === '/etc/shadow' && mine(a)).length;
  const expected = Math.ceil(r.made / r.every);
  const what = r.every === MIXES[0] ? 'goal mix' : 'alert storm, for reference';
  console.log(`  1 open in ${r.every} sensitive (${(r.made / r.every / r.wall).toFixed(0)} alerts/s, ${what}): sensor CPU (gatehouse sensor process, all threads) node ${((r.nodeCpu / r.wall) * 100).toFixed(2)}% + bpftrace ${((r.btCpu / r.wall) * 100).toFixed(2)}% = ${share.toFixed(2)}% of a core` +
    (r.every === MIXES[0] ? `; goal ≤ 5%: ratio ${(share / 5).toFixed(2)}× (${share <= 5 ? 'met' : 'NOT met'})` : ''));
  console.log(`    sensitive reads reported: ${reported} of ${expected} (${reported === expected ? 'all' : 'NOT all'})`);
}
console.log(`  whole run: ${stats[1]} events reached the rules, ${stats[2]} alerts; drops ${stats[3]} (kernel ${stats[4]}, queue ${stats[5]}, incomplete ${stats[6]}; goal 0)`);
