/**
 * `node --import tsx bench/central/pg-startup.ts DIR [--runs N]`: Central (compiled from this
 * tree) started on the database bench/central/pg-startup-seed.ts kept in DIR, until it is idle
 * after evaluating the 15,000 stored deployments. Per run: the RSS peak (VmHWM) and when it
 * was reached, main-thread CPU seconds, and while it starts up, `/healthz` every 20 ms (its
 * p99 and max: what a main-thread stall adds to any request) and the event-loop delay
 * (prom-client's monitor, read and reset every second through /metrics: the largest p99 and
 * max of those seconds). Each start re-loads and re-evaluates the stored cluster, so runs of
 * two trees on one database compare their start-up (issue 16's RSS peak and stalls). The
 * admin token is made at the first run on a database and kept in DIR/admin-token.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { compiledCli } from '../compiled-cli.js';

const dir = process.argv[2];
if (!dir) throw new Error('usage: pg-startup.ts DIR [--runs N]');
const runs = process.argv.includes('--runs') ? Number(process.argv[process.argv.indexOf('--runs') + 1]) : 1;
const database = readFileSync(join(dir, 'database-url'), 'utf8').trim();
const entry = compiledCli();

const freePort = () => new Promise<number>((resolve) => {
  const s = createServer().listen(0, '127.0.0.1', () => {
    const a = s.address();
    s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
  });
});
const status = (pid: number) => readFileSync(`/proc/${pid}/status`, 'utf8');
const kb = (text: string, key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? 0);
const mainCpu = (pid: number) => {
  const f = readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
};
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)] ?? NaN;

for (let run = 1; run <= runs; run++) {
  // Central adopts GATEHOUSE_ADMIN_TOKEN at its first start only: every run uses that one (kept in DIR).
  const tokenFile = join(dir, 'admin-token');
  if (!existsSync(tokenFile)) writeFileSync(tokenFile, randomBytes(32).toString('hex'), { mode: 0o600 });
  const token = readFileSync(tokenFile, 'utf8').trim();
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const log = openSync(join(dir, `central-${run}.log`), 'w');
  const t0 = performance.now();
  const central = spawn(process.execPath, [entry, 'server', '--insecure-http', '--listen', `127.0.0.1:${port}`, '--data-dir', join(dir, 'data'), '--database', database], {
    env: { ...process.env, GATEHOUSE_ADMIN_TOKEN: token, GATEHOUSE_DB: join(dir, 'no-vuln.db') }, stdio: ['ignore', 'ignore', log],
  });
  closeSync(log);
  const pid = central.pid!;
  let peakKb = 0;
  let peakAt = 0;
  const rss = setInterval(() => {
    const hwm = kb(status(pid), 'VmHWM');
    if (hwm > peakKb) [peakKb, peakAt] = [hwm, (performance.now() - t0) / 1000];
  }, 100);
  for (;;) {
    try {
      if ((await fetch(`${url}/healthz`)).ok) break;
    } catch { /* not listening yet */ }
    await new Promise((r) => setTimeout(r, 50));
  }
  const listening = (performance.now() - t0) / 1000;
  const health: number[] = [];
  const delays: { p99: number; max: number }[] = [];
  const metrics = async () => {
    const text = await (await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${token}` } })).text();
    const ms = (q: string) => 1000 * Number(new RegExp(`^gatehouse_nodejs_eventloop_lag_${q}_seconds(?:\\{[^}]*\\})? (\\S+)`, 'm').exec(text)?.[1] ?? NaN);
    if (!Number.isFinite(ms('p99'))) writeFileSync(join(dir, 'metrics-unread.txt'), text);
    return { p99: ms('p99'), max: ms('max') };
  };
  await metrics();
  let quietSeconds = 0;
  let lastCpu = mainCpu(pid);
  let lastSecond = performance.now();
  while (quietSeconds < 3) {
    const t = performance.now();
    await (await fetch(`${url}/healthz`)).arrayBuffer();
    health.push(performance.now() - t);
    await new Promise((r) => setTimeout(r, 20));
    if (performance.now() - lastSecond >= 1000) {
      lastSecond = performance.now();
      delays.push(await metrics());
      const cpu = mainCpu(pid);
      quietSeconds = cpu - lastCpu < 0.05 ? quietSeconds + 1 : 0;
      lastCpu = cpu;
    }
  }
  clearInterval(rss);
  const idle = (performance.now() - t0) / 1000 - 3;
  const now = kb(status(pid), 'VmRSS');
  const cpu = mainCpu(pid);
  central.kill('SIGTERM');
  await new Promise((r) => central.once('exit', r));
  // A second without a sample of the monitor reads NaN: left out.
  const busy = delays.slice(0, -3).filter((d) => Number.isFinite(d.p99) && Number.isFinite(d.max));
  console.log(`run ${run}: listening ${listening.toFixed(1)} s, idle at ${idle.toFixed(1)} s, main thread ${cpu.toFixed(1)} CPU s; RSS peak ${(peakKb / 1024).toFixed(0)} MB at ${peakAt.toFixed(1)} s, ${(now / 1024).toFixed(0)} MB idle; /healthz p50 ${pct(health, 50).toFixed(1)} p99 ${pct(health, 99).toFixed(1)} max ${Math.max(...health).toFixed(1)} ms (${health.length}); event-loop delay while busy: worst second's p99 ${Math.max(...busy.map((d) => d.p99)).toFixed(0)} ms, median second's p99 ${pct(busy.map((d) => d.p99), 50).toFixed(0)} ms, max ${Math.max(...busy.map((d) => d.max)).toFixed(0)} ms over ${busy.length} s (load ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')})`);
}
