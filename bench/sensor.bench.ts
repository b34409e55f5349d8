/**
 * bench:sensor — CPU cost of the sensor (bpftrace reader + event pipeline + Falco's stable
 * rules in-process) while a load generator makes ~10k probed syscalls per second (opens of
 * files below /etc for reading and of a scratch file for writing, which the probe reports).
 * Prints the sensor's share of one core against the 5% goal, and the drop counters (goal 0).
 * The in-kernel BPF time is charged to the traced processes, not to the sensor: it is in
 * the load generator's own CPU, printed for reference. Needs root and bpftrace.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Sensor } from '../src/sensor/sensor.js';
import { loadRuleSet } from '../src/runtime/rules/index.js';

const RULES = fileURLToPath(new URL('../../shared/reference/falco/rules/falco_rules.yaml', import.meta.url));
const RATE = Number(process.env.BENCH_RATE ?? 10_000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const TICKS = 100; // USER_HZ

function procCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / TICKS;
  } catch {
    return 0;
  }
}

// Load generator: RATE opens per second (half reads below /etc, half writes), paced per 10 ms.
const LOADGEN = `
const fs = require('fs');
const rate = ${RATE}, seconds = ${SECONDS};
const per = rate / 100; const t0 = Date.now(); let n = 0;
const tick = () => {
  const due = Math.min(rate * seconds, Math.floor((Date.now() - t0) / 10) * per);
  while (n < due) { fs.closeSync(fs.openSync(n % 2 ? '/etc/hostname' : '/tmp/gatehouse-bench-sensor', n % 2 ? 'r' : 'w')); n++; }
  if (n >= rate * seconds) { process.stdout.write(String(n)); return; }
  setTimeout(tick, 2);
};
tick();`;

const ruleSet = loadRuleSet([RULES]);
const sensor = await Sensor.start();
let matched = 0;
const consume = (async () => {
  for await (const ev of sensor.events()) {
    matched += ruleSet.countMatches(ev);
  }
})();
const bpftracePid = (sensor as unknown as { run: { child: { pid: number } } }).run.child.pid;

await new Promise((r) => setTimeout(r, 1000)); // settle after attach
const cpu0 = process.cpuUsage();
const bt0 = procCpuSeconds(bpftracePid);
const t0 = process.hrtime.bigint();
const gen = spawn(process.execPath, ['-e', LOADGEN], { stdio: ['ignore', 'pipe', 'inherit'] });
let made = '';
gen.stdout.on('data', (d: Buffer) => (made += d.toString()));
const genCpu = await new Promise<number>((resolve) => {
  let last = 0;
  const poll = setInterval(() => (last = procCpuSeconds(gen.pid!) || last), 200);
  gen.on('close', () => {
    clearInterval(poll);
    resolve(last);
  });
});
await new Promise((r) => setTimeout(r, 500)); // let the pipeline drain
const wall = Number(process.hrtime.bigint() - t0) / 1e9;
const cpu = process.cpuUsage(cpu0);
const nodeCpu = (cpu.user + cpu.system) / 1e6;
const btCpu = procCpuSeconds(bpftracePid) - bt0;
const stats = sensor.stats();
await sensor.stop();
await consume;

const share = ((nodeCpu + btCpu) / wall) * 100;
console.log(`bench:sensor  load: ${made} opens in ${wall.toFixed(1)} s (${(Number(made) / wall).toFixed(0)}/s), load generator CPU ${((genCpu / wall) * 100).toFixed(1)}% (includes in-kernel probe time)`);
console.log(`  sensor CPU: node pipeline+rules ${((nodeCpu / wall) * 100).toFixed(2)}% + bpftrace ${((btCpu / wall) * 100).toFixed(2)}% = ${share.toFixed(2)}% of a core`);
console.log(`  goal ≤ 5% of a core: ratio ${(share / 5).toFixed(2)}× the goal (${share <= 5 ? 'met' : 'NOT met'})`);
console.log(`  events ${stats.events} (rule matches ${matched}), drops: kernel ${stats.lostInKernel}, queue ${stats.droppedInQueue}, incomplete ${stats.incomplete} (goal 0)`);
