/**
 * Turns a raw probe record into a RuntimeEvent keyed by Falco field names, using the
 * process table (ancestry, command lines) and the container it ran in.
 */
import { posix } from 'node:path';
import type { FieldValue, RuntimeEvent } from '../runtime/event.js';
import type { ContainerInfo, HostIdentity } from './containers.js';
import {
  CAP_DAC_OVERRIDE, capNames, familyName, hasCap, l4proto, memfdFlags, mountFlags, openFlags, openIsRead, openIsWrite,
  ptraceRequest, resName, sockType,
} from './names.js';
import { safeReadlink, type ProcessTable, type ProcInfo } from './process-table.js';
import { s32, type RawHead } from './records.js';

const AT_FDCWD = -100;

/** Reads a process's cwd as the process sees it (inside its container root), with Falco's trailing slash. */
export function procCwd(procRoot: string, pid: number): string {
  const cwd = containerRelative(procRoot, pid, safeReadlink(`${procRoot}/${pid}/cwd`));
  if (!cwd) return '';
  return cwd.endsWith('/') ? cwd : `${cwd}/`;
}

function containerRelative(procRoot: string, pid: number, p: string): string {
  if (!p) return p;
  const root = safeReadlink(`${procRoot}/${pid}/root`);
  if (root && root !== '/' && p.startsWith(root)) return p.slice(root.length) || '/';
  return p;
}

/** Absolute, normalized form of a path a syscall received (relative to cwd or a dirfd). */
export function resolvePath(procRoot: string, pid: number, raw: string, dirfd: number, cwd: string): string {
  if (!raw) return raw;
  let abs = raw;
  if (!raw.startsWith('/')) {
    let base = dirfd === AT_FDCWD ? cwd : containerRelative(procRoot, pid, safeReadlink(`${procRoot}/${pid}/fd/${dirfd}`));
    if (!base) base = '/';
    abs = posix.join(base, raw);
  }
  const n = posix.normalize(abs);
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
}

function ipv4(n: number): string {
  // sock_common stores addresses in network order; read as a little-endian u32
  return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff].join('.');
}

function ipv6(b: Buffer): string {
  const parts: string[] = [];
  for (let i = 0; i < 16; i += 2) parts.push(b.readUInt16BE(i).toString(16));
  // compress the longest zero run, as inet_ntop does
  const s = parts.join(':');
  const m = s.match(/(?:^|:)0(?::0)+(?::|$)/g);
  if (!m) return s;
  const longest = m.reduce((a, b) => (b.length > a.length ? b : a));
  return s.replace(longest, '::');
}

const ntohs = (n: number): number => ((n & 0xff) << 8) | ((n >> 8) & 0xff);

export interface BuildContext {
  procRoot: string;
  table: ProcessTable;
  host: HostIdentity;
  /** Monotonic ns → wall clock ns offset. */
  clockOffset: bigint;
}

/** The fields every event carries, in the order every event has them (then the kind's own). */
const COMMON_FIELDS = [
  'evt.rawtime', 'evt.dir', 'thread.tid', 'thread.cap_effective', 'proc.pid',
  'proc.ppid', 'proc.name', 'proc.exe', 'proc.exepath', 'proc.args', 'proc.cmdline', 'proc.cwd', 'proc.tty', 'proc.sid', 'proc.vpgid',
  'proc.sname', 'proc.aname', 'proc.aexepath', 'proc.pname', 'proc.pexe', 'proc.pexepath', 'proc.pcmdline',
  'proc.duration', 'user.uid', 'user.name', 'user.loginuid', 'user.loginname', 'group.gid', 'group.name',
  'container.id', 'container.name', 'container.image', 'container.image.repository', 'container.image.tag', 'container.image.id',
  'container.privileged', 'container.type', 'container.start_ts',
] as const;

type CommonValues = Record<(typeof COMMON_FIELDS)[number], FieldValue | undefined>;
type Specific = Record<string, FieldValue | undefined>;
type Factory = (c: CommonValues, s: Specific) => RuntimeEvent;

/**
 * One generated object literal per kind of event, with every common field and the kind's own
 * fields: V8 gives all events of a kind one hidden class with every field in the object, where
 * a common part with a specific part assigned onto it (Object.assign, ~60 keys) ended in
 * dictionary mode — slower to build, to collect, and to read for the rules and flows.
 * Generated because the literal must be written out key by key to get that shape.
 */
function makeFactory(specificKeys: readonly string[]): Factory {
  const q = (k: string) => JSON.stringify(k);
  const fields = [...COMMON_FIELDS.map((k) => `${q(k)}: c[${q(k)}]`), ...specificKeys.map((k) => `${q(k)}: s[${q(k)}]`)];
  return new Function('c', 's', `return { ${fields.join(', ')} };`) as Factory;
}

/** Keys of the ancestors' indexed fields, made once (proc.aname[1], …). */
const ANCESTOR_KEYS = Array.from({ length: 17 }, (_, i) => [`proc.aname[${i}]`, `proc.aexepath[${i}]`, `proc.apid[${i}]`] as const);

/**
 * A process's own and its ancestors' fields, cached per process and valid while the process and
 * every ancestor are the same table entries (an exec or a fork makes a new entry: its exec
 * version) with the same names and parents, and the cwd, session leader and end of the chain
 * unchanged. "Until the next exec anywhere" rebuilt most entries at 2% execs.
 */
interface ProcFields {
  proc: ProcInfo;
  ppid: number;
  name: string;
  cwd: string;
  parent: ProcInfo | undefined;
  sidProc: ProcInfo | undefined;
  sname: string | undefined;
  ancestors: ProcInfo[];
  /** Each ancestor's name and parent when cached. */
  ancNames: string[];
  ancPpids: number[];
  exe: string;
  exepath: string;
  args: string;
  cmdline: string;
  tty: number;
  sid: number;
  vpgid: number;
  aname: string[];
  aexepath: string[];
  pname: string | undefined;
  pexe: string | undefined;
  pexepath: string | undefined;
  pcmdline: string | undefined;
}

interface ContainerFields {
  labelKeys: string[];
  labelValues: string[];
  imageRepository: string;
}

const NO_SPECIFIC: Specific = {};

export class EventBuilder {
  constructor(private readonly ctx: BuildContext) {}

  private procCache = new Map<number, ProcFields>();
  /** Event factories by evt.type (each type's specific part always has the same keys). */
  private readonly factories = new Map<string, Factory>();
  private readonly commonOnly = makeFactory([]);
  private readonly containerCache = new WeakMap<ContainerInfo, ContainerFields>();
  /** Filled per event and read by the factory: one object of one shape, never allocated again. */
  private readonly scratch = makeFactory([])({} as CommonValues, NO_SPECIFIC) as CommonValues;

  private procFields(proc: ProcInfo): ProcFields {
    const hit = this.procCache.get(proc.pid);
    if (hit && this.stillValid(hit, proc)) return hit;
    const t = this.ctx.table;
    const parent = t.get(proc.ppid);
    const ancestors = t.ancestors(proc.pid);
    const sidProc = t.get(proc.sid);
    const f: ProcFields = {
      proc,
      ppid: proc.ppid,
      name: proc.name,
      cwd: proc.cwd,
      parent,
      sidProc,
      sname: sidProc?.name,
      ancestors,
      ancNames: ancestors.map((a) => a.name),
      ancPpids: ancestors.map((a) => a.ppid),
      exe: proc.exe,
      exepath: proc.exepath,
      args: proc.args.join(' '),
      cmdline: [proc.name, ...proc.args].join(' '),
      tty: proc.tty,
      sid: proc.sid,
      vpgid: proc.vpgid,
      aname: ancestors.map((a) => a.name),
      aexepath: ancestors.map((a) => a.exepath),
      pname: parent?.name,
      pexe: parent?.exe,
      pexepath: parent?.exepath,
      pcmdline: parent ? [parent.name, ...parent.args].join(' ') : undefined,
    };
    if (this.procCache.size > 65536) this.procCache.clear();
    this.procCache.set(proc.pid, f);
    return f;
  }

  /** The cached fields still describe the process and its chain as the table has them now. */
  private stillValid(f: ProcFields, proc: ProcInfo): boolean {
    if (f.proc !== proc || f.ppid !== proc.ppid || f.name !== proc.name || f.cwd !== proc.cwd) return false;
    const t = this.ctx.table;
    const parent = t.get(proc.ppid);
    if (parent !== f.parent || (parent !== undefined && parent.name !== f.pname)) return false;
    const sidProc = t.get(proc.sid);
    if (sidProc !== f.sidProc || sidProc?.name !== f.sname) return false;
    const anc = f.ancestors;
    // the same chain: each ancestor is the entry its child's parent pid names now, unchanged
    let cur = proc;
    for (let i = 0; i < anc.length; i++) {
      const a = anc[i]!;
      if ((i > 0 && t.get(cur.ppid) !== a) || a.name !== f.ancNames[i] || a.ppid !== f.ancPpids[i]) return false;
      cur = a;
    }
    // and it still ends where it ended (a parent that was not found may be known now)
    if (anc.length < 16 && cur.ppid > 0 && cur.ppid !== proc.pid && !anc.some((a) => a.pid === cur.ppid) && t.get(cur.ppid) !== undefined) return false;
    return true;
  }

  private containerFields(c: ContainerInfo): ContainerFields {
    let f = this.containerCache.get(c);
    if (!f) {
      const labels = Object.entries(c.labels);
      f = { labelKeys: labels.map(([k]) => `container.label[${k}]`), labelValues: labels.map(([, v]) => v), imageRepository: c.imageRepository };
      this.containerCache.set(c, f);
    }
    return f;
  }

  /** Fills the scratch object with the fields every event carries. */
  private fillCommon(head: RawHead, proc: ProcInfo, container: ContainerInfo | null): ProcFields {
    const users = container?.users.size ? container.users : this.ctx.host.users;
    const groups = container?.groups.size ? container.groups : this.ctx.host.groups;
    const loginuid = head.loginuid === 4294967295 ? -1 : head.loginuid;
    const pf = this.procFields(proc);
    const c = this.scratch;
    c['evt.rawtime'] = head.ts + this.ctx.clockOffset;
    c['evt.dir'] = '<';
    c['thread.tid'] = head.tid;
    c['thread.cap_effective'] = capNames(head.capEffective);
    c['proc.pid'] = head.pid;
    c['proc.ppid'] = pf.ppid;
    c['proc.name'] = pf.name;
    c['proc.exe'] = pf.exe;
    c['proc.exepath'] = pf.exepath;
    c['proc.args'] = pf.args;
    c['proc.cmdline'] = pf.cmdline;
    c['proc.cwd'] = pf.cwd;
    c['proc.tty'] = pf.tty;
    c['proc.sid'] = pf.sid;
    c['proc.vpgid'] = pf.vpgid;
    c['proc.sname'] = pf.sname;
    c['proc.aname'] = pf.aname;
    c['proc.aexepath'] = pf.aexepath;
    c['proc.pname'] = pf.pname;
    c['proc.pexe'] = pf.pexe;
    c['proc.pexepath'] = pf.pexepath;
    c['proc.pcmdline'] = pf.pcmdline;
    c['proc.duration'] = proc.startNs !== undefined && head.ts >= proc.startNs ? Number(head.ts - proc.startNs) : undefined;
    c['user.uid'] = head.uid;
    c['user.name'] = users.get(head.uid) ?? String(head.uid);
    c['user.loginuid'] = loginuid;
    c['user.loginname'] = loginuid >= 0 ? (users.get(loginuid) ?? String(loginuid)) : '';
    c['group.gid'] = head.gid;
    c['group.name'] = groups.get(head.gid) ?? String(head.gid);
    c['container.id'] = container ? container.id : 'host';
    c['container.name'] = container ? container.name : 'host';
    c['container.image'] = container?.image ?? '';
    c['container.image.repository'] = container?.imageRepository ?? '';
    c['container.image.tag'] = container?.imageTag ?? '';
    c['container.image.id'] = container?.imageId ?? '';
    c['container.privileged'] = container?.privileged ?? false;
    c['container.type'] = container?.type ?? 'host';
    c['container.start_ts'] = container?.startTs;
    return pf;
  }

  /** Adds the fields whose keys vary: each ancestor's (proc.aname[N], …) and the container's labels. */
  private addVariable(e: RuntimeEvent, pf: ProcFields, container: ContainerInfo | null): RuntimeEvent {
    const anc = pf.ancestors;
    for (let i = 0; i < anc.length; i++) {
      const keys = ANCESTOR_KEYS[i + 1]!;
      e[keys[0]] = pf.aname[i];
      e[keys[1]] = pf.aexepath[i];
      e[keys[2]] = anc[i]!.pid;
    }
    if (container) {
      const cf = this.containerFields(container);
      for (let i = 0; i < cf.labelKeys.length; i++) e[cf.labelKeys[i]!] = cf.labelValues[i];
    }
    return e;
  }

  /** Fields every event carries: process, ancestry, user, container, thread. */
  common(head: RawHead, proc: ProcInfo, container: ContainerInfo | null): RuntimeEvent {
    const pf = this.fillCommon(head, proc, container);
    return this.addVariable(this.commonOnly(this.scratch, NO_SPECIFIC), pf, container);
  }

  /** The whole event of a record: the common fields and the kind's own (from specific()), one literal. */
  event(head: RawHead, proc: ProcInfo, container: ContainerInfo | null, specific: Specific): RuntimeEvent {
    const type = String(specific['evt.type']);
    let make = this.factories.get(type);
    if (!make) {
      make = makeFactory(Object.keys(specific));
      this.factories.set(type, make);
    }
    const pf = this.fillCommon(head, proc, container);
    return this.addVariable(make(this.scratch, specific), pf, container);
  }

  /** The whole event of an exec record (after applyExec). */
  execEvent(head: RawHead, proc: ProcInfo, container: ContainerInfo | null, flags: string[], strings: string[]): RuntimeEvent {
    return this.event(head, proc, container, {
      'evt.type': 'execve',
      'evt.res': 'SUCCESS',
      'evt.rawres': 0,
      'evt.arg.flags': flags.join('|'),
      'evt.arg.exe': proc.exe,
      'evt.arg.filename': strings[0] ?? '',
      'proc.is_exe_writable': flags.includes('EXE_WRITABLE'),
      'proc.is_exe_upper_layer': flags.includes('EXE_UPPER_LAYER'),
      'proc.is_exe_from_memfd': flags.includes('EXE_FROM_MEMFD'),
    });
  }

  /** Updates the process table from an exec record and returns its new entry. */
  applyExec(head: RawHead, strings: string[], bytes: Buffer[]): { proc: ProcInfo; flags: string[] } {
    const [mode, inoUid, inoGid, upper] = head.a;
    const filename = strings[0] ?? '';
    const dentry = strings[2] ?? '';
    const argv = Buffer.concat(bytes).toString('utf8').split('\0');
    if (argv.length > 1 && argv[argv.length - 1] === '') argv.pop();
    // /proc may be gone for a short-lived process: then keep the cwd it had, but only if it
    // did not change mount namespace (runc's host cwd is not the container's)
    const prev = this.ctx.table.get(head.pid);
    const cwd = procCwd(this.ctx.procRoot, head.pid) || (prev && prev.mntns === head.mntns ? prev.cwd : '');
    const fromMemfd = dentry.startsWith('memfd:');
    const exepath = fromMemfd
      ? dentry
      : filename.startsWith('/') ? posix.normalize(filename) : resolvePath(this.ctx.procRoot, head.pid, filename, AT_FDCWD, cwd);
    const writable =
      (head.euid === 0 && hasCap(head.capEffective, CAP_DAC_OVERRIDE)) ||
      (head.euid === inoUid && (mode & 0o200) !== 0) ||
      (head.egid === inoGid && (mode & 0o020) !== 0) ||
      (mode & 0o002) !== 0;
    const flags: string[] = [];
    if (writable) flags.push('EXE_WRITABLE');
    if (upper) flags.push('EXE_UPPER_LAYER');
    if (fromMemfd) flags.push('EXE_FROM_MEMFD');
    const proc = this.ctx.table.exec({
      pid: head.pid,
      ppid: head.ppid,
      name: head.comm,
      exe: argv[0] ?? filename,
      exepath,
      args: argv.slice(1),
      cwd,
      tty: head.tty,
      sid: head.sid,
      vpgid: head.vpgid,
      loginuid: head.loginuid === 4294967295 ? -1 : head.loginuid,
      mntns: head.mntns,
    });
    return { proc, flags };
  }

  /**
   * A path as the process meant it. A relative path is relative to the cwd the process has
   * now, not the one it had at exec (redis and PostgreSQL chdir after they start): read it
   * live, keep it while it answers. One bound method per builder, not a closure per event.
   */
  private resolveHead: RawHead | undefined;
  private resolveProc: ProcInfo | undefined;
  private readonly resolveBound = (p: string, dirfd: number): string => {
    const head = this.resolveHead!;
    const proc = this.resolveProc!;
    if (dirfd === AT_FDCWD && p && !p.startsWith('/')) {
      const live = procCwd(this.ctx.procRoot, head.pid);
      if (live) proc.cwd = live;
    }
    return resolvePath(this.ctx.procRoot, head.pid, p, dirfd, proc.cwd);
  };

  private resolver(head: RawHead, proc: ProcInfo): (p: string, dirfd: number) => string {
    this.resolveHead = head;
    this.resolveProc = proc;
    return this.resolveBound;
  }

  /**
   * Event-specific fields; undefined when the record is not an event the sensor reports.
   * Every evt.type must always come with the same keys: event() makes one literal per evt.type
   * from the first one it sees (test/sensor/event-builder-shape.test.ts covers every kind).
   */
  specific(head: RawHead, strings: string[], bytes: Buffer[], proc: ProcInfo): Record<string, FieldValue | undefined> | undefined {
    // Every literal starts with evt.res/evt.rawres written out: an object literal that opens
    // with a spread (`{ ...base, k: v, … }`) gets a hidden class of its own, which cost
    // ~14 µs per open event and made every later property load on the event slow.
    const ret = head.ret;
    const res = resName(ret);
    const resolve = this.resolver(head, proc);
    switch (head.kind) {
      case 'open': {
        const [flags, mode, dirfdRaw, kind] = head.a;
        const raw = strings[0] ?? '';
        const name = resolve(raw, s32(dirfdRaw));
        const dir = (flags & 0o200000) !== 0;
        return {
          'evt.res': res,
          'evt.rawres': ret,
          'evt.type': kind === 1 ? 'open' : kind === 3 ? 'openat2' : kind === 4 ? 'creat' : 'openat',
          'evt.arg.flags': openFlags(flags),
          'evt.rawarg.flags': flags,
          'evt.arg.mode': `0${mode.toString(8)}`,
          'evt.arg.name': name,
          'evt.arg.dirfd': s32(dirfdRaw),
          'evt.is_open_read': openIsRead(flags),
          'evt.is_open_write': openIsWrite(flags),
          'evt.is_open_exec': false,
          'fd.num': ret >= 0 ? ret : -1,
          'fd.name': name,
          'fd.nameraw': raw,
          'fd.directory': posix.dirname(name),
          'fd.filename': posix.basename(name),
          'fd.typechar': dir ? 'd' : 'f',
          'fd.type': dir ? 'directory' : 'file',
        };
      }
      case 'dns':
        return this.dnsFields(head, bytes, res);
      case 'connect':
      case 'accept':
      case 'udp':
      case 'dup1':
      case 'dup2':
      case 'dup3':
        return this.socketFields(head, strings, bytes, res);
      case 'socket': {
        const [domain, type, proto] = head.a;
        return {
          'evt.res': res,
          'evt.rawres': ret,
          'evt.type': 'socket',
          'evt.arg.domain': familyName(domain),
          'evt.arg.type': sockType(type),
          'evt.arg.proto': proto,
          'evt.args': `domain=${domain}(${familyName(domain)}) type=${type} proto=${proto}`,
          'fd.num': ret,
        };
      }
      case 'path':
        return this.pathFields(head, strings, resolve, res);
      case 'setid': {
        const [kind, id] = head.a;
        const type = ['', 'setuid', 'setgid', 'setreuid', 'setregid', 'setresuid', 'setresgid'][kind] ?? 'setuid';
        const key = kind % 2 === 1 ? 'evt.arg.uid' : 'evt.arg.gid';
        const o: Record<string, FieldValue | undefined> = { 'evt.res': res, 'evt.rawres': ret, 'evt.type': type };
        o[key] = id;
        o[key.replace('arg', 'rawarg')] = id;
        return o;
      }
      case 'ptrace': {
        const [request, pid] = head.a;
        return { 'evt.res': res, 'evt.rawres': ret, 'evt.type': 'ptrace', 'evt.arg.request': ptraceRequest(request), 'evt.rawarg.request': request, 'evt.arg.pid': s32(pid) };
      }
      case 'memfd_create': {
        const [flags] = head.a;
        return { 'evt.res': res, 'evt.rawres': ret, 'evt.type': 'memfd_create', 'evt.arg.name': strings[0] ?? '', 'evt.arg.flags': memfdFlags(flags), 'evt.rawarg.flags': flags, 'fd.num': ret };
      }
      case 'module':
        return { 'evt.res': res, 'evt.rawres': ret, 'evt.type': head.a[0] === 175 ? 'init_module' : 'finit_module' };
      default:
        return undefined;
    }
  }

  private pathFields(head: RawHead, strings: string[], resolve: (p: string, dirfd: number) => string, res: string): Record<string, FieldValue> {
    const ret = head.ret;
    const [kind, dirfdRaw, flags] = head.a;
    const dirfd = s32(dirfdRaw);
    const [p1 = '', p2 = '', p3 = ''] = strings;
    switch (kind) {
      case 1:
        return { 'evt.res': res, 'evt.rawres': ret, 'evt.type': 'unlink', 'evt.arg.path': resolve(p1, AT_FDCWD) };
      case 2:
        return { 'evt.res': res, 'evt.rawres': ret, 'evt.type': 'unlinkat', 'evt.arg.name': resolve(p1, dirfd), 'evt.arg.dirfd': dirfd, 'evt.arg.flags': flags & 0x200 ? 'AT_REMOVEDIR' : '' };
      case 3:
      case 4:
      case 5:
        return {
          'evt.res': res,
          'evt.rawres': ret,
          'evt.type': kind === 3 ? 'rename' : kind === 4 ? 'renameat' : 'renameat2',
          'evt.arg.oldpath': resolve(p1, kind === 3 ? AT_FDCWD : dirfd),
          'evt.arg.newpath': resolve(p2, kind === 3 ? AT_FDCWD : dirfd),
        };
      case 6:
      case 7:
        // the target of a symlink is stored as written, not resolved
        return { 'evt.res': res, 'evt.rawres': ret, 'evt.type': kind === 6 ? 'symlink' : 'symlinkat', 'evt.arg.target': p1, 'evt.arg.linkpath': resolve(p2, kind === 6 ? AT_FDCWD : dirfd) };
      case 8:
      case 9:
        return {
          'evt.res': res,
          'evt.rawres': ret,
          'evt.type': kind === 8 ? 'link' : 'linkat',
          'evt.arg.oldpath': resolve(p1, kind === 8 ? AT_FDCWD : dirfd),
          'evt.arg.newpath': resolve(p2, kind === 8 ? AT_FDCWD : dirfd),
        };
      default:
        return { 'evt.res': res, 'evt.rawres': ret, 'evt.type': 'mount', 'evt.arg.dev': p1, 'evt.arg.dir': p2, 'evt.arg.type': p3, 'evt.arg.flags': mountFlags(flags), 'evt.rawarg.flags': flags };
    }
  }

  /** A DNS answer received on a UDP socket (probe: recvfrom/recvmsg from port 53, flows only): its first 400 bytes. */
  private dnsFields(head: RawHead, bytes: Buffer[], res: string): Record<string, FieldValue> {
    const [fd, fam, lport, len] = head.a;
    const v6 = fam === 10;
    return {
      'evt.res': res,
      'evt.rawres': head.ret,
      'evt.type': 'recvfrom',
      'fd.num': fd,
      'fd.typechar': v6 ? '6' : '4',
      'fd.type': v6 ? 'ipv6' : 'ipv4',
      'fd.l4proto': 'udp',
      'fd.lport': lport,
      'fd.rport': 53,
      'fd.sport': 53,
      'fd.cport': lport,
      // not a new inbound peer (Falco's `inbound` macro reads it for recvfrom)
      'fd.name_changed': false,
      'evt.arg.size': len,
      'evt.buffer': Buffer.concat(bytes).toString('latin1'),
    };
  }

  private socketFields(head: RawHead, strings: string[], bytes: Buffer[], res: string): Record<string, FieldValue> {
    const a = head.a;
    let type: string;
    let fam: number;
    let proto: number;
    let lip = '';
    let lport = 0;
    let rip = '';
    let rport = 0;
    let server: 'local' | 'remote' = 'remote';
    let fdnum = head.ret;
    let oldfdArg: number | undefined;
    if (head.kind === 'connect') {
      type = 'connect';
      [, fam, proto, lport] = a;
      const sa = bytes[0] ?? Buffer.alloc(28);
      fdnum = a[0];
      rport = sa.length >= 4 ? sa.readUInt16BE(2) : 0;
      if (fam === 2) {
        rip = sa.length >= 8 ? `${sa[4]}.${sa[5]}.${sa[6]}.${sa[7]}` : '';
        lip = ipv4(a[4]);
      } else {
        rip = sa.length >= 24 ? ipv6(sa.subarray(8, 24)) : '';
        lip = bytes[1] && bytes[1].length >= 16 ? ipv6(bytes[1].subarray(0, 16)) : '::';
      }
    } else if (head.kind === 'udp') {
      // the first datagram to a destination (probe: sendto/sendmsg/sendmmsg, once per socket and destination)
      type = 'sendto';
      let flags: number;
      [fdnum, fam, lport, , flags] = a;
      proto = 17;
      const b = bytes[0] ?? Buffer.alloc(28);
      if (flags & 1) {
        // the caller's sockaddr_in / sockaddr_in6
        rport = b.length >= 4 ? b.readUInt16BE(2) : 0;
        rip = fam === 2 ? (b.length >= 8 ? `${b[4]}.${b[5]}.${b[6]}.${b[7]}` : '') : b.length >= 24 ? ipv6(b.subarray(8, 24)) : '';
      } else {
        // a connected socket: its peer (v4 daddr, or the 16-byte v6 address), port in network order
        rport = ntohs((flags >>> 8) & 0xffff);
        rip = fam === 2 ? (b.length >= 4 ? `${b[0]}.${b[1]}.${b[2]}.${b[3]}` : '') : b.length >= 16 ? ipv6(b.subarray(0, 16)) : '';
      }
      lip = fam === 2 ? ipv4(a[3]) : '::';
    } else if (head.kind === 'accept') {
      type = 'accept';
      [fam, proto, lport] = a;
      rport = ntohs(a[3]);
      lip = ipv4(a[4]);
      rip = ipv4(Number(strings[0] ?? 0));
      server = 'local';
      if (fam === 10) {
        // the probe adds the peer's and the socket's own IPv6 address (v4-mapped peers come as IPv4)
        rip = bytes[0]?.length === 16 ? ipv6(bytes[0]) : '::';
        lip = bytes[1]?.length === 16 ? ipv6(bytes[1]) : '::';
      }
    } else {
      type = head.kind === 'dup1' ? 'dup' : head.kind;
      const oldfd = a[0];
      [, fam, proto, lport] = a;
      rport = ntohs(a[4]);
      const [saddr = '0', daddr = '0'] = (strings[0] ?? '').split(' ');
      lip = fam === 2 ? ipv4(Number(saddr)) : '::';
      rip = fam === 2 ? ipv4(Number(daddr)) : '::';
      oldfdArg = oldfd;
      fdnum = oldfd;
    }
    const v6 = fam === 10;
    const l4 = l4proto(proto);
    const [sip, sport, cip, cport] = server === 'remote' ? [rip, rport, lip, lport] : [lip, lport, rip, rport];
    const out: Record<string, FieldValue> = {
      'evt.res': res,
      'evt.rawres': head.ret,
      'evt.type': type,
      'fd.num': fdnum,
      'fd.typechar': v6 ? '6' : '4',
      'fd.type': v6 ? 'ipv6' : 'ipv4',
      'fd.l4proto': l4,
      'fd.sip': sip,
      'fd.sport': sport,
      'fd.cip': cip,
      'fd.cport': cport,
      'fd.lip': lip,
      'fd.lport': lport,
      'fd.rip': rip,
      'fd.rport': rport,
      'fd.dip': rip,
      'fd.dport': rport,
      'fd.name': `${cip}:${cport}->${sip}:${sport}`,
      'fd.connected': head.kind !== 'udp' && (head.ret >= 0 || head.ret === -115),
      'evt.arg.addr': head.kind === 'connect' ? `${rip}:${rport}` : '',
    };
    if (oldfdArg !== undefined) {
      out['evt.arg.oldfd'] = oldfdArg;
      out['evt.arg.fd'] = oldfdArg;
    }
    return out;
  }
}
