/**
 * THE REFERENCE for test/sensor/event-builder-shape.test.ts: src/sensor/event-builder.ts as it
 * was before events became one fixed-shape literal per kind (commit 2f04be8), with one change:
 * its procFields cache never hits (it was kept "until the next exec anywhere", so a process
 * renamed in place, or an ancestor's change, could be served stale), so every event is
 * computed from the process table as it is at that moment — the truth the new cache must give.
 */
import { posix } from 'node:path';
import type { FieldValue, RuntimeEvent } from '../../src/runtime/event.js';
import type { ContainerInfo, HostIdentity } from '../../src/sensor/containers.js';
import {
  CAP_DAC_OVERRIDE, capNames, familyName, hasCap, l4proto, memfdFlags, mountFlags, openFlags, openIsRead, openIsWrite,
  ptraceRequest, resName, sockType,
} from '../../src/sensor/names.js';
import { safeReadlink, type ProcessTable, type ProcInfo } from '../../src/sensor/process-table.js';
import { s32, type RawHead } from '../../src/sensor/records.js';

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

export class ReferenceEventBuilder {
  /** cached: its cache as it was (bench/event-builder.bench.ts); off by default (the reference). */
  constructor(private readonly ctx: BuildContext, private readonly cached = false) {}

  /** Process and ancestry fields, cached per process until the next exec anywhere. */
  private procCache = new Map<number, { version: number; proc: ProcInfo; ppid: number; name: string; fields: RuntimeEvent }>();

  private procFields(proc: ProcInfo): RuntimeEvent {
    const t = this.ctx.table;
    const hit = this.procCache.get(proc.pid);
    if (hit && this.cached && hit.version === t.execVersion && hit.proc === proc && hit.ppid === proc.ppid && hit.name === proc.name) return hit.fields;
    const parent = t.get(proc.ppid);
    const ancestors = t.ancestors(proc.pid);
    const f: RuntimeEvent = {
      'proc.ppid': proc.ppid,
      'proc.name': proc.name,
      'proc.exe': proc.exe,
      'proc.exepath': proc.exepath,
      'proc.args': proc.args.join(' '),
      'proc.cmdline': [proc.name, ...proc.args].join(' '),
      'proc.cwd': proc.cwd,
      'proc.tty': proc.tty,
      'proc.sid': proc.sid,
      'proc.vpgid': proc.vpgid,
      'proc.sname': t.get(proc.sid)?.name,
      'proc.aname': ancestors.map((a) => a.name),
      'proc.aexepath': ancestors.map((a) => a.exepath),
    };
    if (parent) {
      f['proc.pname'] = parent.name;
      f['proc.pexe'] = parent.exe;
      f['proc.pexepath'] = parent.exepath;
      f['proc.pcmdline'] = [parent.name, ...parent.args].join(' ');
    }
    ancestors.forEach((a, i) => {
      f[`proc.aname[${i + 1}]`] = a.name;
      f[`proc.aexepath[${i + 1}]`] = a.exepath;
      f[`proc.apid[${i + 1}]`] = a.pid;
    });
    if (this.procCache.size > 65536) this.procCache.clear();
    this.procCache.set(proc.pid, { version: t.execVersion, proc, ppid: proc.ppid, name: proc.name, fields: f });
    return f;
  }

  /** Fields every event carries: process, ancestry, user, container, thread. */
  common(head: RawHead, proc: ProcInfo, container: ContainerInfo | null): RuntimeEvent {
    const users = container?.users.size ? container.users : this.ctx.host.users;
    const groups = container?.groups.size ? container.groups : this.ctx.host.groups;
    const loginuid = head.loginuid === 4294967295 ? -1 : head.loginuid;
    const e: RuntimeEvent = {
      'evt.rawtime': head.ts + this.ctx.clockOffset,
      'evt.dir': '<',
      'thread.tid': head.tid,
      'thread.cap_effective': capNames(head.capEffective),
      'proc.pid': head.pid,
      ...this.procFields(proc),
      'proc.duration': proc.startNs !== undefined && head.ts >= proc.startNs ? Number(head.ts - proc.startNs) : undefined,
      'user.uid': head.uid,
      'user.name': users.get(head.uid) ?? String(head.uid),
      'user.loginuid': loginuid,
      'user.loginname': loginuid >= 0 ? (users.get(loginuid) ?? String(loginuid)) : '',
      'group.gid': head.gid,
      'group.name': groups.get(head.gid) ?? String(head.gid),
      'container.id': container ? container.id : 'host',
      'container.name': container ? container.name : 'host',
      'container.image': container?.image ?? '',
      'container.image.repository': container?.imageRepository ?? '',
      'container.image.tag': container?.imageTag ?? '',
      'container.image.id': container?.imageId ?? '',
      'container.privileged': container?.privileged ?? false,
      'container.type': container?.type ?? 'host',
      'container.start_ts': container?.startTs,
    };
    if (container) for (const [k, v] of Object.entries(container.labels)) e[`container.label[${k}]`] = v;
    return e;
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

  /** Event-specific fields; undefined when the record is not an event the sensor reports. */
  specific(head: RawHead, strings: string[], bytes: Buffer[], proc: ProcInfo): Record<string, FieldValue | undefined> | undefined {
    // Every literal starts with evt.res/evt.rawres written out: an object literal that opens
    // with a spread (`{ ...base, k: v, … }`) gets a hidden class of its own, which cost
    // ~14 µs per open event and made every later property load on the event slow.
    const ret = head.ret;
    const res = resName(ret);
    const resolve = (p: string, dirfd: number) => {
      // A relative path is relative to the cwd the process has now, not the one it had at exec
      // (redis and PostgreSQL chdir after they start): read it live, keep it while it answers.
      if (dirfd === AT_FDCWD && p && !p.startsWith('/')) {
        const live = procCwd(this.ctx.procRoot, head.pid);
        if (live) proc.cwd = live;
      }
      return resolvePath(this.ctx.procRoot, head.pid, p, dirfd, proc.cwd);
    };
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
    const fmt = (ip: string, port: number) => (v6 ? `${ip}:${port}` : `${ip}:${port}`);
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
      'fd.name': `${fmt(cip, cport)}->${fmt(sip, sport)}`,
      'fd.connected': head.kind !== 'udp' && (head.ret >= 0 || head.ret === -115),
      'evt.arg.addr': head.kind === 'connect' ? `${fmt(rip, rport)}` : '',
    };
    if (oldfdArg !== undefined) {
      out['evt.arg.oldfd'] = oldfdArg;
      out['evt.arg.fd'] = oldfdArg;
    }
    return out;
  }
}
