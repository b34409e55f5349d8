/**
 * The realistic mix of bench:rules as the sensor delivers it: raw records (opens, execs,
 * connects) through the sensor's own EventBuilder and ProcessTable, so the rule engine is
 * measured on the objects it really receives (about 70 keys each: one literal per kind,
 * EventBuilder.event/execEvent, as src/sensor/sensor.ts builds them with /tmp/h/B-sensor.patch),
 * not on hand-written literals. The kernel side filters syscalls no rule
 * watches, so unlike the synthetic mix this one has none of those.
 */
import { EventBuilder } from '../src/sensor/event-builder.js';
import { ProcessTable } from '../src/sensor/process-table.js';
import type { ContainerInfo } from '../src/sensor/containers.js';
import type { RawHead } from '../src/sensor/records.js';
import type { RuntimeEvent } from '../src/runtime/event.js';
import { rng } from '../test/helpers/random.js';

const O_WRONLY = 0o1;
const O_CREAT = 0o100;
const AT_FDCWD = -100 >>> 0;

export function sensorBuiltMix(n: number): RuntimeEvent[] {
  const r = rng(11);
  const pick = <T>(a: T[]): T => a[Math.floor(r() * a.length)]!;
  const table = new ProcessTable('/nonexistent-proc');
  const builder = new EventBuilder({ procRoot: '/nonexistent-proc', table, host: { users: new Map([[0, 'root'], [1000, 'app']]), groups: new Map([[0, 'root']]) }, clockOffset: 0n });
  const container: ContainerInfo = {
    id: 'a1b2c3d4e5f6', fullId: 'a1b2c3d4e5f6'.padEnd(64, '0'), name: 'web', image: 'docker.io/library/node:20', imageRepository: 'docker.io/library/node',
    imageTag: '20', imageId: 'sha256:1234', privileged: false, labels: { app: 'web' }, type: 'podman', users: new Map([[1000, 'app']]), groups: new Map(),
  };
  // A small process tree per program: shim → program, as in a container.
  const programs = ['nginx', 'node', 'java', 'python3', 'postgres', 'redis-server', 'envoy', 'sh', 'bash', 'curl'];
  table.exec({ pid: 100, ppid: 1, name: 'containerd-shim', exe: 'containerd-shim', exepath: '/usr/bin/containerd-shim', args: [], cwd: '/', tty: 0, sid: 100, vpgid: 100, loginuid: -1, mntns: 1 });
  programs.forEach((name, i) =>
    table.exec({ pid: 1000 + i, ppid: 100, name, exe: name, exepath: `/usr/bin/${name}`, args: ['--serve'], cwd: '/app', tty: 0, sid: 1000 + i, vpgid: 1000 + i, loginuid: -1, mntns: 2 }));
  const files = ['/var/log/nginx/access.log', '/usr/lib/x86_64-linux-gnu/libc.so.6', '/etc/hosts', '/etc/resolv.conf', '/tmp/cache.db',
    '/app/server.js', '/proc/self/status', '/dev/null', '/etc/ssl/certs/ca-certificates.crt', '/var/lib/postgresql/data/base/1/1259', '/etc/passwd'];
  const bins = ['ls', 'cat', 'grep', 'node', 'python3', 'sed', 'awk', 'date', 'sleep', 'curl'];
  const out: RuntimeEvent[] = [];
  let nextPid = 5000;
  for (let i = 0; i < n; i++) {
    const inContainer = r() < 0.8;
    const prog = Math.floor(r() * programs.length);
    const pid = 1000 + prog;
    const head = (kind: string, a: number[], ret: number, p = pid, ppid = 100): RawHead => ({
      tid: p, pid: p, ppid, uid: 1000, gid: 1000, euid: 1000, egid: 1000, loginuid: 4294967295, mntns: 2, cgroup: inContainer ? 7 : 1,
      capEffective: 0n, tty: 0, sid: p, vpgid: p, ts: BigInt(1e9 + i * 1000), kind, ret, a: a as RawHead['a'], comm: table.get(p)?.name ?? 'x',
    });
    const x = r();
    let ev: RuntimeEvent | undefined;
    if (x < 0.6) {
      const write = r() < 0.3;
      const h = head('open', [write ? O_WRONLY | O_CREAT : 0, 0o644, AT_FDCWD, 2, 0], 3 + (i % 20));
      const proc = table.get(pid)!;
      ev = builder.event(h, proc, inContainer ? container : null, builder.specific(h, [pick(files)], [], proc)!);
    } else if (x < 0.8) {
      // A short-lived child of the program execs a tool, as the sensor sees it.
      const bin = pick(bins);
      const child = nextPid++;
      table.fork(pid, child, BigInt(i), programs[prog]!);
      const h = { ...head('execve', [0o755, 0, 0, 0, 0], 0, child, pid), comm: bin };
      const { proc, flags } = builder.applyExec(h, [`/usr/bin/${bin}`, '', bin], [Buffer.from(`${bin}\0-x\0/tmp/in\0`)]);
      ev = builder.execEvent(h, proc, inContainer ? container : null, flags, [`/usr/bin/${bin}`]);
      table.exit(child);
    } else {
      const port = pick([443, 5432, 6379, 80, 53, 8080]);
      const ip = pick([[10, 0, 3, 7], [172, 217, 1, 4], [10, 96, 0, 1]]);
      const sa = Buffer.from([2, 0, port >> 8, port & 0xff, ...ip, 0, 0, 0, 0, 0, 0, 0, 0]);
      const h = head('connect', [7, 2, port === 53 ? 17 : 6, 43210, 0x0500000a], 0);
      const proc = table.get(pid)!;
      ev = builder.event(h, proc, inContainer ? container : null, builder.specific(h, [], [sa], proc)!);
    }
    out.push(ev);
  }
  return out;
}
