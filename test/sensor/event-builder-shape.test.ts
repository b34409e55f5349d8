/**
 * Events built as one literal per kind (EventBuilder.event/execEvent, and common() as the
 * sensor calls it today) carry exactly the fields, with exactly the values, the builder gave
 * before (test/sensor/event-builder-reference.ts, without its stale cache), over generated
 * records of every kind: process trees that fork, exec, exit, get renamed and reparented,
 * host and container processes (labels, users), every syscall kind the probe reports.
 * A field absent from one event and undefined in the other is the same field (a rule, a
 * JSON line and Falco's output read both as not set).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventBuilder } from '../../src/sensor/event-builder.js';
import { ProcessTable } from '../../src/sensor/process-table.js';
import type { ContainerInfo } from '../../src/sensor/containers.js';
import type { RawHead } from '../../src/sensor/records.js';
import type { FieldValue, RuntimeEvent } from '../../src/runtime/event.js';
import { ReferenceEventBuilder } from './event-builder-reference.js';
import { rng } from '../helpers/random.js';

const PROC = '/nonexistent-proc-root';
const host = { users: new Map([[0, 'root'], [1000, 'app']]), groups: new Map([[0, 'root'], [1000, 'app']]) };
const containers: Array<ContainerInfo | null> = [
  null,
  {
    id: 'a1b2c3d4e5f6', fullId: 'a1b2c3d4e5f6'.padEnd(64, '0'), name: 'web', image: 'docker.io/library/node:20', imageRepository: 'docker.io/library/node',
    imageTag: '20', imageId: 'sha256:1234', privileged: false, labels: { app: 'web', 'io.kubernetes.pod.name': 'web-0', 'io.kubernetes.pod.namespace': 'shop' },
    type: 'podman', users: new Map([[1000, 'node']]), groups: new Map(), startTs: 1_700_000_000_000_000_000,
  },
  {
    id: 'ffffeeeedddd', fullId: 'ffffeeeedddd'.padEnd(64, '1'), name: 'db', image: 'postgres:15', imageRepository: 'postgres', imageTag: '15', imageId: 'sha256:9',
    privileged: true, labels: {}, type: 'docker', users: new Map(), groups: new Map([[999, 'postgres']]),
  },
];

type Rec =
  | { t: 'fork'; ppid: number; pid: number; ts: bigint; comm: string }
  | { t: 'exit'; pid: number }
  | { t: 'event'; head: RawHead; strings: string[]; bytes: Buffer[]; container: number };

function records(n: number, seed: number): Rec[] {
  const r = rng(seed);
  const int = (k: number) => Math.floor(r() * k);
  const pick = <T>(a: readonly T[]): T => a[int(a.length)]!;
  const live: number[] = [1, 2];
  let nextPid = 100;
  const comms = ['sh', 'bash', 'node', 'nginx', 'curl', 'python3', 'sleep'];
  const paths = ['/etc/shadow', '/var/log/app.log', 'rel/file.txt', '/tmp/../etc/passwd', '/usr/bin/', 'x', '/dev/null'];
  const out: Rec[] = [];
  const head = (pid: number, kind: string, a: number[], ret: number, ts: bigint): RawHead => ({
    tid: pid + int(2), pid, ppid: r() < 0.05 ? pick(live) : Math.max(1, pid - 1 - int(3)), uid: pick([0, 1000, 4242]), gid: pick([0, 1000, 999]), euid: pick([0, 1000]), egid: 0,
    loginuid: pick([4294967295, 0, 1000]), mntns: pick([1, 2]), cgroup: pick([1, 7, 9]), capEffective: pick([0n, 0x1ffffffffffn, 1n << 21n]),
    tty: pick([0, 34816]), sid: pick(live), vpgid: pick(live), ts, kind, ret, a: a as RawHead['a'], comm: r() < 0.1 ? pick(comms) : 'node',
  });
  for (let i = 0; i < n; i++) {
    const ts = BigInt(1e9 + i * 1000);
    const x = r();
    if (x < 0.06) {
      const pid = nextPid++;
      out.push({ t: 'fork', ppid: pick(live), pid, ts, comm: pick(comms) });
      live.push(pid);
      continue;
    }
    if (x < 0.08 && live.length > 4) {
      const at = 2 + int(live.length - 2);
      out.push({ t: 'exit', pid: live[at]! });
      live.splice(at, 1);
      continue;
    }
    const pid = pick(live);
    const container = int(containers.length);
    const ev = (h: RawHead, strings: string[] = [], bytes: Buffer[] = []) => out.push({ t: 'event', head: h, strings, bytes, container });
    const ret = r() < 0.1 ? -pick([2, 13, 111, 115]) : int(30);
    const k = int(16);
    switch (k) {
      case 0: {
        const bin = pick(comms);
        ev({ ...head(pid, 'execve', [pick([0o755, 0o777, 0o700]), pick([0, 1000]), 0, int(2), 0], 0, ts), comm: bin }, [pick([`/usr/bin/${bin}`, bin, `./${bin}`]), '', pick([bin, 'memfd:x'])], [Buffer.from(`${bin}\0-c\0echo hi\0`)]);
        break;
      }
      case 1:
      case 2:
        ev(head(pid, 'open', [pick([0, 1, 2, 0o100 | 1, 0o200000, 0o20200000 | 2]), 0o644, pick([(-100) >>> 0, 3]), int(5), 0], ret, ts), [pick(paths)]);
        break;
      case 3: {
        const fam = pick([2, 10]);
        const sa = Buffer.alloc(28);
        sa.writeUInt16BE(pick([80, 443, 53]), 2);
        if (fam === 2) sa.set([10, 0, int(3), int(9)], 4);
        else sa.set([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, int(9)], 8);
        ev(head(pid, 'connect', [int(20), fam, pick([6, 17]), 30000 + int(100), 0x0100007f], pick([0, -115, -111]), ts), [], fam === 2 ? [sa] : [sa, Buffer.from([0xfd, ...Array(14).fill(0), 1])]);
        break;
      }
      case 4: {
        const fam = pick([2, 10]);
        ev(head(pid, 'accept', [fam, 6, 8080, int(65536), 0x0100007f], int(30), ts), [String(0x0200000a)], fam === 10 ? [Buffer.from([0xfd, ...Array(14).fill(0), 2]), Buffer.from([0xfd, ...Array(14).fill(0), 1])] : []);
        break;
      }
      case 5: {
        const b = Buffer.alloc(28);
        b.writeUInt16BE(53, 2);
        b.set([8, 8, 8, 8], 4);
        ev(head(pid, 'udp', [int(20), 2, 40000 + int(9), 0x0100007f, pick([1, 0x3500 << 8])], int(100), ts), [], [b]);
        break;
      }
      case 6:
        ev(head(pid, pick(['dup1', 'dup2', 'dup3']), [int(9), 2, 6, 5432, int(65536)], int(9), ts), [`${0x0100007f} ${0x0200000a}`]);
        break;
      case 7:
        ev(head(pid, 'socket', [pick([1, 2, 10, 16, 17, 99]), pick([1, 2, 3, 0x80002]), pick([0, 6, 17])], ret, ts));
        break;
      case 8:
      case 9:
        ev(head(pid, 'path', [1 + int(10), pick([(-100) >>> 0, 5]), pick([0, 0x200, 4096 | 1])], ret, ts), [pick(paths), pick(paths), pick(['ext4', 'overlay'])]);
        break;
      case 10:
        ev(head(pid, 'setid', [1 + int(6), pick([0, 1000])], ret, ts));
        break;
      case 11:
        ev(head(pid, 'ptrace', [pick([0, 16, 0x4206, 77]), (-1) >>> 0], ret, ts));
        break;
      case 12:
        ev(head(pid, 'memfd_create', [pick([0, 1, 3, 8])], ret, ts), [pick(['', 'x', 'jit'])]);
        break;
      case 13:
        ev(head(pid, 'module', [pick([175, 313])], ret, ts));
        break;
      case 14: {
        const dns = Buffer.from('1234818000010001000000000377777706676f6f676c6503636f6d0000010001c00c000100010000012c00048efa4a44', 'hex');
        ev(head(pid, 'dns', [int(9), pick([2, 10]), 40000 + int(9), dns.length], dns.length, ts), [], [dns]);
        break;
      }
      default:
        ev(head(pid, 'nosuchkind', [0, 0, 0, 0, 0], 0, ts));
    }
  }
  return out;
}

/** Runs records through a builder the way the sensor does (src/sensor/sensor.ts `process`). */
function drive<B extends EventBuilder | ReferenceEventBuilder>(recs: Rec[], builder: (table: ProcessTable) => B, build: (b: B, r: Extract<Rec, { t: 'event' }>, proc: ReturnType<ProcessTable['exec']>, flags: string[] | undefined, specific: Record<string, FieldValue | undefined> | undefined) => RuntimeEvent): Array<RuntimeEvent | undefined> {
  const table = new ProcessTable(PROC);
  const b = builder(table);
  const out: Array<RuntimeEvent | undefined> = [];
  for (const rec of recs) {
    if (rec.t === 'fork') table.fork(rec.ppid, rec.pid, rec.ts, rec.comm);
    else if (rec.t === 'exit') table.exit(rec.pid);
    else {
      const { head, strings, bytes } = rec;
      let proc;
      let flags: string[] | undefined;
      if (head.kind === 'execve') ({ proc, flags } = b.applyExec(head, strings, bytes));
      else {
        proc = table.touch(head.pid, () => ({ pid: head.pid, ppid: head.ppid, name: head.comm, exe: head.comm, exepath: '', args: [], cwd: '', tty: head.tty, sid: head.sid, vpgid: head.vpgid, loginuid: head.loginuid, mntns: head.mntns }));
        proc.ppid = head.ppid;
        proc.name = head.comm;
        proc.mntns = head.mntns;
      }
      const specific = head.kind === 'execve' ? undefined : b.specific(head, strings, bytes, proc);
      out.push(head.kind !== 'execve' && !specific ? undefined : build(b, rec, proc, flags, specific));
    }
  }
  return out;
}

const execFields = (ev: RuntimeEvent, proc: { exe: string }, flags: string[], strings: string[]) => Object.assign(ev, {
  'evt.type': 'execve', 'evt.res': 'SUCCESS', 'evt.rawres': 0, 'evt.arg.flags': flags.join('|'), 'evt.arg.exe': proc.exe, 'evt.arg.filename': strings[0] ?? '',
  'proc.is_exe_writable': flags.includes('EXE_WRITABLE'), 'proc.is_exe_upper_layer': flags.includes('EXE_UPPER_LAYER'), 'proc.is_exe_from_memfd': flags.includes('EXE_FROM_MEMFD'),
});

function sameEvent(got: RuntimeEvent | undefined, want: RuntimeEvent | undefined, where: string): void {
  if (!want || !got) {
    assert.equal(got, want, where);
    return;
  }
  const keys = new Set([...Object.keys(got), ...Object.keys(want)]);
  for (const k of keys) {
    const a: unknown = got[k];
    const b: unknown = want[k];
    // deepStrictEqual only where a plain comparison cannot tell (arrays): it is slow per field
    if (Object.is(a, b)) continue;
    if (Array.isArray(a) && Array.isArray(b)) assert.deepStrictEqual(a, b, `${where}: ${k}`);
    else assert.fail(`${where}: ${k}: ${String(a)} !== ${String(b)}`);
  }
}

const ctx = (table: ProcessTable) => ({ procRoot: PROC, table, host, clockOffset: 1_000_000n });

test('events as one literal per kind equal the reference builder, field by field, over generated records', () => {
  for (const seed of [1, 2, 3]) {
    const recs = records(6000, seed);
    const want = drive(recs, (t) => new ReferenceEventBuilder(ctx(t)), (b, r, proc, flags, specific) => {
      const ev = b.common(r.head, proc, containers[r.container]!);
      return flags ? execFields(ev, proc, flags, r.strings) : Object.assign(ev, specific);
    });
    const whole = drive(recs, (t) => new EventBuilder(ctx(t)), (b, r, proc, flags, specific) =>
      flags ? b.execEvent(r.head, proc, containers[r.container]!, flags, r.strings) : b.event(r.head, proc, containers[r.container]!, specific!));
    // what the sensor does until it calls event(): common() with the specific part assigned
    const legacy = drive(recs, (t) => new EventBuilder(ctx(t)), (b, r, proc, flags, specific) => {
      const ev = b.common(r.head, proc, containers[r.container]!);
      return flags ? execFields(ev, proc, flags, r.strings) : Object.assign(ev, specific);
    });
    assert.equal(whole.length, want.length);
    const kinds = new Set<string>();
    for (let i = 0; i < want.length; i++) {
      sameEvent(whole[i], want[i], `seed ${seed} event ${i}`);
      sameEvent(legacy[i], want[i], `seed ${seed} event ${i} (common + assign)`);
      if (want[i]) kinds.add(String(want[i]!['evt.type']));
    }
    // every kind the probe reports came up
    for (const k of ['execve', 'openat', 'connect', 'accept', 'sendto', 'dup', 'socket', 'unlink', 'mount', 'setuid', 'setgid', 'ptrace', 'memfd_create', 'init_module', 'recvfrom']) assert.ok(kinds.has(k), `no ${k} event generated`);
  }
});

test('the process fields cache follows a rename, a reparenting and an exec up the chain', () => {
  const table = new ProcessTable(PROC);
  const b = new EventBuilder(ctx(table));
  table.exec({ pid: 10, ppid: 1, name: 'bash', exe: 'bash', exepath: '/bin/bash', args: [], cwd: '/', tty: 0, sid: 10, vpgid: 10, loginuid: -1, mntns: 1 });
  table.exec({ pid: 11, ppid: 10, name: 'sh', exe: 'sh', exepath: '/bin/sh', args: ['-c', 'x'], cwd: '/', tty: 0, sid: 10, vpgid: 10, loginuid: -1, mntns: 1 });
  table.exec({ pid: 12, ppid: 11, name: 'node', exe: 'node', exepath: '/usr/bin/node', args: ['app.js'], cwd: '/app', tty: 0, sid: 10, vpgid: 10, loginuid: -1, mntns: 1 });
  table.exec({ pid: 20, ppid: 1, name: 'tmux', exe: 'tmux', exepath: '/usr/bin/tmux', args: [], cwd: '/', tty: 0, sid: 20, vpgid: 20, loginuid: -1, mntns: 1 });
  const h = { tid: 12, pid: 12, ppid: 11, uid: 0, gid: 0, euid: 0, egid: 0, loginuid: 0, mntns: 1, cgroup: 1, capEffective: 0n, tty: 0, sid: 10, vpgid: 10, ts: 5n, kind: 'module', ret: 0, a: [175, 0, 0, 0, 0] as RawHead['a'], comm: 'node' };
  const ev = () => b.event(h, table.get(12)!, null, b.specific(h, [], [], table.get(12)!)!);
  assert.deepEqual(ev()['proc.aname'], ['sh', 'bash']);
  table.get(10)!.name = 'zsh'; // an ancestor renamed in place (its own event's comm)
  assert.deepEqual(ev()['proc.aname'], ['sh', 'zsh']);
  assert.equal(ev()['proc.sname'], 'zsh');
  table.exec({ pid: 11, ppid: 10, name: 'python3', exe: 'python3', exepath: '/usr/bin/python3', args: [], cwd: '/', tty: 0, sid: 10, vpgid: 10, loginuid: -1, mntns: 1 });
  assert.equal(ev()['proc.pname'], 'python3');
  assert.equal(ev()['proc.pcmdline'], 'python3');
  table.get(11)!.ppid = 20; // the parent reparented
  assert.deepEqual(ev()['proc.aname'], ['python3', 'tmux']);
  assert.equal(ev()['proc.aname[2]'], 'tmux');
  assert.equal(ev()['proc.apid[2]'], 20);
  table.get(12)!.cwd = '/srv'; // a relative path resolved against the live cwd
  assert.equal(ev()['proc.cwd'], '/srv');
});
