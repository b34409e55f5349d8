/**
 * The flow tracker's cost per connection in isolation, in CPU time (process.cpuUsage: the
 * garbage collector's threads included), on the events bench:flows makes: a Node client on
 * 127.0.0.1 connecting to a server on port 18080 (one connect and one accept event per
 * connection, each built by the sensor's EventBuilder), at a simulated 5,000 connections/s
 * with conntrack read every 5 s (a host table of BENCH_CONNTRACK_LINES lines, default 300)
 * and flows flushed every second of simulated time.
 *
 * It measures the loop with and without the tracker, interleaved, and prints the
 * difference: what flows add to each connection, and that scaled to 5,000/s.
 *
 *   node --import tsx bench/flows-tracker.bench.ts [CONNECTIONS]
 */
import { EventBuilder } from '../src/sensor/event-builder.js';
import { ProcessTable } from '../src/sensor/process-table.js';
import { FlowTracker } from '../src/sensor/flows/tracker.js';
import type { RawHead } from '../src/sensor/records.js';
import type { RuntimeEvent } from '../src/runtime/event.js';

const CONNECTIONS = Number(process.argv[2] ?? 400_000);
const RATE = 5000;
const CONNTRACK_LINES = Number(process.env.BENCH_CONNTRACK_LINES ?? 300);

const LOOPBACK = 0x0100007f; // 127.0.0.1 as the probe reports it (network order read little-endian)
const table = new ProcessTable('/nonexistent-proc');
const builder = new EventBuilder({ procRoot: '/nonexistent-proc', table, host: { users: new Map([[0, 'root']]), groups: new Map([[0, 'root']]) }, clockOffset: 0n });
table.exec({ pid: 10, ppid: 1, name: 'sh', exe: 'sh', exepath: '/usr/bin/sh', args: [], cwd: '/', tty: 0, sid: 10, vpgid: 10, loginuid: -1, mntns: 1 });
for (const pid of [11, 12]) table.exec({ pid, ppid: 10, name: 'node', exe: 'node', exepath: '/usr/bin/node', args: ['-e', 'x'], cwd: '/', tty: 0, sid: 10, vpgid: 10, loginuid: -1, mntns: 1 });

const head = (pid: number, kind: string, a: number[], ret: number, ts: bigint): RawHead => ({
  tid: pid, pid, ppid: 10, uid: 0, gid: 0, euid: 0, egid: 0, loginuid: 4294967295, mntns: 1, cgroup: 1,
  capEffective: 0x1ffffffffffn, tty: 0, sid: 10, vpgid: 10, ts, kind, ret, a: a as RawHead['a'], comm: 'node',
});

/** The two events of connection i, built as the sensor builds them. */
function connection(i: number): [RuntimeEvent, RuntimeEvent] {
  const cport = 1024 + (i % 60000);
  const ts = BigInt(Math.floor((i / RATE) * 1e9));
  const sa = Buffer.from([2, 0, 18080 >> 8, 18080 & 0xff, 127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
  const ch = head(11, 'connect', [20, 2, 6, cport, LOOPBACK], -115, ts);
  const client = table.get(11)!;
  const c = builder.common(ch, client, null);
  Object.assign(c, builder.specific(ch, [], [sa], client));
  const ah = head(12, 'accept', [2, 6, 18080, ((cport & 0xff) << 8) | (cport >> 8), LOOPBACK], 21, ts);
  const server = table.get(12)!;
  const a = builder.common(ah, server, null);
  Object.assign(a, builder.specific(ah, [String(LOOPBACK)], [], server));
  return [c, a];
}

const conntrackText = (() => {
  const lines: string[] = [];
  for (let i = 0; i < CONNTRACK_LINES; i++) {
    lines.push(`ipv4     2 tcp      6 ${389000 + i} ESTABLISHED src=127.0.0.1 dst=127.0.0.1 sport=${40000 + i} dport=${30000 + i} src=127.0.0.1 dst=127.0.0.1 sport=${30000 + i} dport=${40000 + i} [ASSURED] mark=0 zone=0 use=2`);
  }
  return `${lines.join('\n')}\n`;
})();

// The events are built once (a pool) and their client ports rewritten per connection, so the
// measurement is the tracker's, not the builder's (bench:runtime measures that).
const POOL = 2048;
const pool = Array.from({ length: POOL }, (_, i) => connection(i));

function run(n: number, withFlows: boolean, from: number): number {
  let flows = 0;
  const tracker = withFlows
    ? new FlowTracker({ intervalMs: 5000, host: 'bench', conntrack: { read: () => conntrackText, sysctlDir: '/nonexistent' }, onFlows: (f) => (flows += f.length) }, { byShort: () => undefined, byAddress: () => undefined })
    : undefined;
  const t0 = process.cpuUsage();
  for (let i = from; i < from + n; i++) {
    const [c, a] = pool[i % POOL]!;
    const cport = 1024 + (i % 60000);
    const ts = BigInt(Math.floor((i / RATE) * 1e9));
    c['fd.lport'] = cport;
    c['fd.cport'] = cport;
    c['evt.rawtime'] = ts;
    a['fd.rport'] = cport;
    a['fd.cport'] = cport;
    a['evt.rawtime'] = ts;
    if (tracker) {
      tracker.push(c);
      tracker.push(a);
      const nowMs = Math.floor((i / RATE) * 1000);
      if (i % RATE === 0) tracker.flush(nowMs);
      if (i % (RATE * 5) === 0) tracker.pollConntrack(nowMs);
    }
  }
  const t = process.cpuUsage(t0);
  if (tracker && flows < 0) throw new Error('unreachable');
  return (t.user + t.system) / n;
}

// warm up both paths, then interleave to share the machine's noise
run(20_000, false, 0);
run(20_000, true, 0);
const plain: number[] = [];
const flows: number[] = [];
const chunk = Math.max(10_000, Math.floor(CONNECTIONS / 8));
for (let r = 0; r < 8; r++) {
  plain.push(run(chunk, false, r * chunk));
  flows.push(run(chunk, true, r * chunk));
}
const best = (xs: number[]) => Math.min(...xs);
const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
const added = median(flows) - median(plain);
console.log(`bench:flows (tracker alone, ${chunk} connections × 8, CPU time): events only ${median(plain).toFixed(2)} µs/connection (best ${best(plain).toFixed(2)}), with the tracker ${median(flows).toFixed(2)} (best ${best(flows).toFixed(2)})`);
console.log(`  added by the tracker: ${added.toFixed(2)} µs per connection (median) → ${((added * RATE) / 1e4).toFixed(2)}% of a core at ${RATE}/s; best-of difference ${(best(flows) - best(plain)).toFixed(2)} µs`);
