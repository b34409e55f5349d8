/**
 * Node's cost per event in the event builder, in CPU time (process.cpuUsage, the GC's threads
 * included), three ways over the same records: the previous builder (common part + the
 * specific part assigned onto it, process fields cached until the next exec anywhere; kept
 * in test/sensor/event-builder-reference.ts, here with its cache on as it was), today's
 * common() with the specific part assigned (what src/sensor/sensor.ts does until it calls
 * event()), and event()/execEvent() (one literal per kind). Each built event is then read as
 * the rules and flows read it (a dozen fields), since a dictionary-mode event costs there too.
 *
 * Mix: a container process tree (shim → sh → program), 2% execs of short-lived children,
 * 60% opens, 38% connects and accepts.
 *
 *   node --import tsx bench/event-builder.bench.ts [EVENTS]
 */
import { EventBuilder } from '../src/sensor/event-builder.js';
import { ProcessTable } from '../src/sensor/process-table.js';
import type { ContainerInfo } from '../src/sensor/containers.js';
import type { RawHead } from '../src/sensor/records.js';
import type { FieldValue, RuntimeEvent } from '../src/runtime/event.js';
import { ReferenceEventBuilder } from '../test/sensor/event-builder-reference.js';
import { rng } from '../test/helpers/random.js';

const EVENTS = Number(process.argv[2] ?? 200_000);
const PROC = '/nonexistent-proc';
const host = { users: new Map([[0, 'root']]), groups: new Map([[0, 'root']]) };
const container: ContainerInfo = {
  id: 'a1b2c3d4e5f6', fullId: 'a1b2c3d4e5f6'.padEnd(64, '0'), name: 'web', image: 'docker.io/library/node:20', imageRepository: 'docker.io/library/node', imageTag: '20',
  imageId: 'sha256:1', privileged: false, labels: { app: 'web', 'io.kubernetes.pod.name': 'web-0', 'io.kubernetes.pod.namespace': 'shop' }, type: 'podman', users: new Map(), groups: new Map(),
};
const READ = ['evt.type', 'proc.name', 'proc.pname', 'fd.name', 'fd.rip', 'fd.rport', 'fd.lport', 'container.id', 'evt.rawres', 'proc.aname[2]', 'user.name', 'evt.is_open_read'] as const;

type Way = 'previous' | 'common+assign' | 'one literal';

function run(way: Way, n: number): { us: number; sink: number } {
  const table = new ProcessTable(PROC);
  const ctx = { procRoot: PROC, table, host, clockOffset: 0n };
  const ref = new ReferenceEventBuilder(ctx, true);
  const b = new EventBuilder(ctx);
  table.exec({ pid: 100, ppid: 1, name: 'conmon', exe: 'conmon', exepath: '/usr/bin/conmon', args: [], cwd: '/', tty: 0, sid: 100, vpgid: 100, loginuid: -1, mntns: 1 });
  table.exec({ pid: 101, ppid: 100, name: 'sh', exe: 'sh', exepath: '/bin/sh', args: ['-c', 'run'], cwd: '/', tty: 0, sid: 101, vpgid: 101, loginuid: -1, mntns: 2 });
  for (let i = 0; i < 8; i++) table.exec({ pid: 200 + i, ppid: 101, name: 'node', exe: 'node', exepath: '/usr/bin/node', args: ['app.js'], cwd: '/app', tty: 0, sid: 101, vpgid: 101, loginuid: -1, mntns: 2 });
  const r = rng(3);
  let nextPid = 1000;
  let sink = 0;
  const sa = Buffer.from([2, 0, 0x1f, 0x90, 10, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0]);
  const t0 = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    const pid = 200 + (i & 7);
    const h = (kind: string, a: number[], ret: number, p = pid, comm = 'node'): RawHead => ({
      tid: p, pid: p, ppid: p === pid ? 101 : pid, uid: 0, gid: 0, euid: 0, egid: 0, loginuid: 4294967295, mntns: 2, cgroup: 7, capEffective: 0x1ffffffffffn,
      tty: 0, sid: 101, vpgid: 101, ts: BigInt(1e9 + i * 1000), kind, ret, a: a as RawHead['a'], comm,
    });
    const x = r();
    let ev: RuntimeEvent;
    let head: RawHead;
    let specific: Record<string, FieldValue | undefined> | undefined;
    let exec: { proc: ReturnType<ProcessTable['exec']>; flags: string[] } | undefined;
    let proc;
    if (x < 0.02) {
      const child = nextPid++;
      table.fork(pid, child, BigInt(i), 'node');
      head = h('execve', [0o755, 0, 0, 0, 0], 0, child, 'date');
      exec = (way === 'previous' ? ref : b).applyExec(head, ['/bin/date', '', 'date'], [Buffer.from('date\0+%s\0')]);
      proc = exec.proc;
    } else {
      head = x < 0.62 ? h('open', [0, 0o644, (-100) >>> 0, 2, 0], 3) : x < 0.81 ? h('connect', [7, 2, 6, 40000 + (i % 20000), 0x0100000a], -115) : h('accept', [2, 6, 8080, i & 0xffff, 0x0100000a], 9);
      proc = table.get(head.pid)!;
      const strings = head.kind === 'open' ? ['/app/data/cache.json'] : head.kind === 'accept' ? [String(0x0700000a)] : [];
      specific = (way === 'previous' ? ref : b).specific(head, strings, head.kind === 'connect' ? [sa] : [], proc);
    }
    if (way === 'one literal') ev = exec ? b.execEvent(head, proc, container, exec.flags, ['/bin/date']) : b.event(head, proc, container, specific!);
    else {
      ev = (way === 'previous' ? ref : b).common(head, proc, container);
      if (exec) Object.assign(ev, { 'evt.type': 'execve', 'evt.res': 'SUCCESS', 'evt.rawres': 0, 'evt.arg.flags': exec.flags.join('|') });
      else Object.assign(ev, specific);
    }
    for (const k of READ) if (ev[k] !== undefined) sink++;
    if (exec) table.exit(head.pid);
    if ((i & 4095) === 0) table.sweep(Number.MAX_SAFE_INTEGER);
  }
  const t = process.cpuUsage(t0);
  return { us: (t.user + t.system) / n, sink };
}

const ways: Way[] = ['previous', 'common+assign', 'one literal'];
for (const w of ways) run(w, 20_000); // warm-up
const results = new Map<Way, number[]>(ways.map((w) => [w, []]));
for (let round = 0; round < 3; round++) for (const w of ways) results.get(w)!.push(run(w, EVENTS).us);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(`event builder, ${EVENTS} events × 3 rounds (CPU µs per event, built and read; median, best):`);
for (const w of ways) console.log(`  ${w.padEnd(14)} ${median(results.get(w)!).toFixed(2)}  ${Math.min(...results.get(w)!).toFixed(2)}`);
