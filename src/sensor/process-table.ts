/**
 * The sensor's view of every process: seeded from /proc when the sensor starts, then kept
 * current from the probe's fork/exec/exit records. Rules read ancestry (proc.aname[N],
 * proc.pcmdline) from here, so it must know processes that started before the sensor did.
 */
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';

export interface ProcInfo {
  pid: number;
  ppid: number;
  /** Kernel comm (proc.name). */
  name: string;
  /** argv[0] (proc.exe). */
  exe: string;
  /** Full path of the executable (proc.exepath). */
  exepath: string;
  args: string[];
  cwd: string;
  tty: number;
  sid: number;
  vpgid: number;
  loginuid: number;
  mntns: number;
  /** Monotonic start time in ns (bpftrace nsecs clock), when known. */
  startNs?: bigint;
  exited?: number;
}

/** How long an exited process stays, for events of it still in flight on other CPUs. */
const EXIT_GRACE_MS = 5000;

export class ProcessTable {
  private procs = new Map<number, ProcInfo>();
  /** Bumped at every exec: fields derived from ancestry are cached until it changes. */
  execVersion = 0;

  constructor(private readonly procRoot = '/proc') {}

  get size(): number {
    return this.procs.size;
  }

  /** Loads every current process from /proc. */
  seed(): void {
    let entries: string[];
    try {
      entries = readdirSync(this.procRoot);
    } catch {
      return;
    }
    for (const e of entries) if (/^\d+$/.test(e)) this.loadFromProc(Number(e));
  }

  /** Pids recently not found in /proc, so a dead parent or session leader costs one read. */
  private absent = new Map<number, number>();

  get(pid: number): ProcInfo | undefined {
    const p = this.procs.get(pid);
    if (p) return p;
    if (pid <= 0) return undefined;
    const at = this.absent.get(pid);
    const now = Date.now();
    if (at !== undefined && now - at < 1000) return undefined;
    const loaded = this.loadFromProc(pid);
    if (!loaded) {
      if (this.absent.size > 65536) this.absent.clear();
      this.absent.set(pid, now);
    } else this.absent.delete(pid);
    return loaded;
  }

  /** Ancestors of pid, nearest first (the parent is [0]); stops at pid 0/1 loops. */
  ancestors(pid: number, max = 16): ProcInfo[] {
    const out: ProcInfo[] = [];
    const seen = new Set<number>([pid]);
    let cur = this.procs.get(pid);
    while (cur && out.length < max) {
      const parent = cur.ppid > 0 && !seen.has(cur.ppid) ? this.get(cur.ppid) : undefined;
      if (!parent) break;
      out.push(parent);
      seen.add(parent.pid);
      cur = parent;
    }
    return out;
  }

  fork(ppid: number, pid: number, ts: bigint, comm: string): void {
    this.absent.delete(pid);
    const parent = this.get(ppid);
    // the child's mount namespace is learned from its own events: it may unshare one
    // (runc does), and a guess would attribute a whole namespace to the wrong container
    const child: ProcInfo = parent
      ? { ...parent, pid, ppid, mntns: 0, startNs: ts, exited: undefined }
      : { pid, ppid, name: comm, exe: comm, exepath: '', args: [], cwd: '', tty: 0, sid: 0, vpgid: 0, loginuid: -1, mntns: 0, startNs: ts };
    this.procs.set(pid, child);
  }

  /** Applies an exec: returns the updated entry. */
  exec(update: Omit<ProcInfo, 'startNs' | 'exited'>): ProcInfo {
    const prev = this.procs.get(update.pid);
    const next: ProcInfo = { ...update, startNs: prev?.startNs };
    this.execVersion++;
    this.procs.set(update.pid, next);
    return next;
  }

  /** Keeps ppid, ids and namespace current from an event's head. */
  touch(pid: number, fill: () => ProcInfo): ProcInfo {
    const p = this.procs.get(pid);
    if (p) return p;
    const created = this.loadFromProc(pid) ?? fill();
    this.procs.set(pid, created);
    return created;
  }

  exit(pid: number, nowMs = Date.now()): void {
    const p = this.procs.get(pid);
    if (p) p.exited = nowMs;
  }

  /** Forgets processes that exited more than the grace period ago. */
  sweep(nowMs = Date.now()): void {
    for (const [pid, p] of this.procs) if (p.exited !== undefined && nowMs - p.exited > EXIT_GRACE_MS) this.procs.delete(pid);
  }

  private loadFromProc(pid: number): ProcInfo | undefined {
    const dir = `${this.procRoot}/${pid}`;
    try {
      const stat = readFileSync(`${dir}/stat`, 'latin1');
      const open = stat.indexOf('(');
      const close = stat.lastIndexOf(')');
      const name = stat.slice(open + 1, close);
      const rest = stat.slice(close + 2).split(' ');
      // rest[0]=state [1]=ppid [2]=pgrp [3]=session [4]=tty_nr ... [19]=starttime
      const args = readFileSync(`${dir}/cmdline`, 'utf8').split('\0');
      if (args.length && args[args.length - 1] === '') args.pop();
      const info: ProcInfo = {
        pid,
        ppid: Number(rest[1]),
        name,
        exe: args[0] ?? name,
        exepath: safeReadlink(`${dir}/exe`),
        args: args.slice(1),
        cwd: safeReadlink(`${dir}/cwd`),
        tty: Number(rest[4]),
        sid: Number(rest[3]),
        vpgid: Number(rest[2]),
        loginuid: readLoginuid(dir),
        mntns: nsInode(`${dir}/ns/mnt`),
        // starttime is in clock ticks (USER_HZ=100) since boot, the clock bpftrace's nsecs uses
        startNs: BigInt(rest[19] ?? '0') * 10_000_000n,
      };
      this.procs.set(pid, info);
      return info;
    } catch {
      return undefined;
    }
  }
}

export function safeReadlink(p: string): string {
  try {
    return readlinkSync(p);
  } catch {
    return '';
  }
}

/** The inode number of a namespace link such as /proc/1/ns/mnt ("mnt:[4026531841]"). */
export function nsInode(p: string): number {
  const m = /\[(\d+)\]/.exec(safeReadlink(p));
  return m ? Number(m[1]) : 0;
}

function readLoginuid(dir: string): number {
  try {
    const v = Number(readFileSync(`${dir}/loginuid`, 'utf8').trim());
    return v === 4294967295 ? -1 : v;
  } catch {
    return -1;
  }
}
