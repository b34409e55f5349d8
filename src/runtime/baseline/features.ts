/**
 * What a baseline holds, read off one event: behavioural *items*, each with a chain of keys
 * from the most specific to the most generic (the back-off chain the anomaly model walks):
 *
 *   exec     exe + argument shape + parent exe + user → exe + parent → exe → tool class
 *   lineage  exe < parent < grandparent < great-grandparent → exe < parent
 *   net      out: l4 + peer (workload, or CIDR) + port + exe → l4 + peer + port → l4 +
 *            peer's namespace + port → l4 + any peer + port → l4
 *            in:  l4 + local port → l4   (a new listening port)
 *   file     w: exe + written prefix → prefix → top directory      (writes)
 *            r: exe + sensitive file → file → "sensitive"          (sensitive reads)
 *            d: exe + deleted prefix → prefix → top directory      (unlink, rename away)
 *   sys      syscall + exe → syscall   (ptrace, memfd_create, module loads, mount, setuid
 *            family, AF_PACKET sockets, a socket dup'ed onto stdio, links)
 *   seq      exe + previous event class > event class → previous > class  (bigrams of each
 *            process's event sequence)
 *
 * Arguments and paths are generalised into *shapes* (numbers, hex, addresses, UUIDs, temp
 * names) so that `pgbench -c 3` and `pgbench -c 4` are one item, and file prefixes stop at
 * four directory levels. `prior` is the surprisal (bits) charged when not even the most
 * generic key was ever seen, by the risk of the class (a binary in a writable directory costs
 * more than a new binary in /usr/bin).
 */
import type { RuntimeEvent } from '../event.js';

export type Channel = 'exec' | 'lineage' | 'net' | 'file' | 'sys' | 'seq';
export const CHANNELS: readonly Channel[] = ['exec', 'lineage', 'net', 'file', 'sys', 'seq'];

export interface Feature {
  ch: Channel;
  /** Most specific first; every key is unique within its channel. */
  keys: string[];
  /**
   * Surprisal (bits) charged by the risk of the item's class when the key at `priorLevel` (the
   * class-level key: "this kind of thing, in this workload") was never seen.
   */
  prior: number;
  /** Index of the class-level key (default: the last). */
  priorLevel?: number;
  /** Most bits this feature can score (supporting evidence that cannot alert alone). */
  cap?: number;
}

// --- generalisation -------------------------------------------------------------------------

const RE_NUM = /^[-+]?\d+(\.\d+)?[kmgKMGsm%]?$/;
const RE_HEX = /^(0x)?[0-9a-fA-F]{6,}$/;
const RE_IPPORT = /^\d{1,3}(\.\d{1,3}){3}(:\d+)?$/;
const RE_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const RE_DIGITS = /\d+/g;

/** The shape of a path: digit runs become `#`, long hex or random-looking parts `H`. */
export function pathShape(p: string): string {
  if (p.indexOf('/') < 0) return p.replace(RE_DIGITS, '#');
  const parts = p.split('/');
  for (let i = 0; i < parts.length; i++) {
    const s = parts[i]!;
    if (s.length >= 8 && RE_HEX.test(s)) parts[i] = 'H';
    else if (/\d/.test(s)) parts[i] = s.replace(RE_DIGITS, '#');
  }
  return parts.join('/');
}

/** One argument's shape. */
export function argShape(a: string): string {
  if (a === '') return "''";
  if (RE_NUM.test(a)) return '#';
  if (RE_IPPORT.test(a)) return a.includes(':') ? 'IP:#' : 'IP';
  if (RE_UUID.test(a)) return 'UUID';
  if (RE_HEX.test(a)) return 'H';
  if (a.startsWith('/')) return pathShape(a.length > 64 ? a.slice(0, 64) : a);
  if (a.length > 40) return a.includes(' ') ? `TEXT(${a.split(' ', 1)[0]!.slice(0, 20)})` : 'LONG';
  if (a.startsWith('-') && a.includes('=')) return `${a.slice(0, a.indexOf('=') + 1)}${argShape(a.slice(a.indexOf('=') + 1))}`;
  if (a.includes('://')) return `URL(${a.slice(0, a.indexOf('://'))})`;
  return a.replace(RE_DIGITS, '#');
}

/** The shape of an argument list (first 12 arguments). */
export function argsShape(args: string): string {
  if (!args) return '';
  const parts = args.split(' ');
  const n = Math.min(parts.length, 12);
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(argShape(parts[i]!));
  if (parts.length > 12) out.push('…');
  return out.join(' ');
}

/** The directory prefix of a path, as a shape, at most `depth` levels deep. */
export function dirPrefix(path: string, depth = 4): string {
  const slash = path.lastIndexOf('/');
  const dir = slash <= 0 ? '/' : path.slice(0, slash);
  const parts = dir.split('/');
  const cut = parts.length > depth + 1 ? parts.slice(0, depth + 1).join('/') : dir;
  return pathShape(cut);
}

function topDir(path: string): string {
  const i = path.indexOf('/', 1);
  return i < 0 ? path : path.slice(0, i);
}

const SHELLS = new Set(['sh', 'bash', 'dash', 'zsh', 'ash', 'ksh', 'busybox', 'csh', 'tcsh', 'fish']);
const INTERPRETERS = /^(python[\d.]*|perl[\d.]*|ruby[\d.]*|node|php[\d.]*|lua[\d.]*|tclsh.*)$/;
const NET_TOOLS = new Set(['curl', 'wget', 'nc', 'ncat', 'netcat', 'socat', 'telnet', 'ssh', 'scp', 'ftp', 'tftp', 'nmap', 'dig', 'nslookup']);
const PKG = new Set(['apt', 'apt-get', 'dpkg', 'yum', 'dnf', 'rpm', 'apk', 'pip', 'pip3', 'npm', 'gem', 'zypper']);
const ESCAPE = new Set(['mount', 'umount', 'nsenter', 'unshare', 'chroot', 'insmod', 'modprobe', 'capsh', 'setcap', 'docker', 'crictl', 'kubectl', 'runc', 'debugfs']);
const WRITABLE = /^(\/tmp\/|\/var\/tmp\/|\/dev\/shm\/|\/run\/|\/var\/run\/|\/proc\/|memfd:|\/home\/|\/root\/)/;

/** The class of an executable: what kind of tool it is, and where it lives. */
export function toolClass(exepath: string, name: string): { cls: string; prior: number } {
  if (WRITABLE.test(exepath) || exepath === '' ) return { cls: 'writable-dir', prior: 20 };
  const base = name || exepath.slice(exepath.lastIndexOf('/') + 1);
  if (SHELLS.has(base)) return { cls: 'shell', prior: 12 };
  if (ESCAPE.has(base)) return { cls: 'escape-tool', prior: 16 };
  if (PKG.has(base)) return { cls: 'package-manager', prior: 14 };
  if (NET_TOOLS.has(base)) return { cls: 'network-tool', prior: 12 };
  if (INTERPRETERS.test(base)) return { cls: 'interpreter', prior: 10 };
  return { cls: 'system-binary', prior: 6 };
}

const SENSITIVE_READ = /^(\/etc\/(shadow|gshadow|sudoers|pam\.|security\/|ssh\/ssh_host_|kubernetes\/|docker\/)|\/root\/\.(ssh|aws|kube|docker|gnupg|bash_history)|\/home\/[^/]+\/\.(ssh|aws|kube|docker|gnupg)|\/var\/run\/secrets\/|\/run\/secrets\/|\/proc\/[^/]+\/(environ|mem|maps)$)/;
const SENSITIVE_WRITE = /^(\/bin|\/sbin|\/usr\/bin|\/usr\/sbin|\/usr\/local\/bin|\/lib|\/usr\/lib|\/lib64|\/etc|\/boot|\/root|\/var\/spool\/cron|\/dev\/shm)(\/|$)/;
const C2_PORTS = new Set([1337, 31337, 3333, 4444, 5555, 6666, 6667, 7777, 9001, 14444, 45700, 4242]);

/** The parent of a process started from outside the container (exec, probes, the entry point). */
export const RUNTIME = 'container-runtime';
const RUNTIME_EXE = /^((\/usr(\/local)?\/s?bin\/)?(runc|crun|conmon|podman|docker|dockerd|containerd|containerd-shim[\w-]*|kubelet|crictl)|\/dev\/fd\/#)$/;

/** Host-side container runtime processes above a container's processes are all one parent. */
function outside(exe: string): string {
  return RUNTIME_EXE.test(exe) ? RUNTIME : exe;
}

/** Results of an open that mean "not allowed" (as opposed to "not there"). */
const DENIED = new Set(['EACCES', 'EPERM', 'EROFS']);

/** Bits a sequence item can score at most (below any alert threshold). */
export const SEQ_CAP = 8;

/** What kind of secret a sensitive path is. */
export function sensitiveClass(path: string): string {
  if (/\/etc\/g?shadow/.test(path)) return 'shadow';
  if (/\/etc\/(sudoers|pam\.|security\/)/.test(path)) return 'auth-config';
  if (/\/\.ssh\/|ssh_host_/.test(path)) return 'ssh-keys';
  if (/\/\.(aws|kube|docker|gnupg)\b/.test(path) || /\/etc\/(kubernetes|docker)\//.test(path)) return 'cloud-credentials';
  if (/\/secrets\//.test(path)) return path.includes('serviceaccount') ? 'service-account-token' : 'mounted-secrets';
  if (/\/proc\//.test(path)) return 'process-memory';
  return 'other';
}

export function isSensitiveRead(path: string): boolean {
  return SENSITIVE_READ.test(path);
}

function isPrivate(ip: string): boolean {
  return ip.startsWith('10.') || ip.startsWith('192.168.') || /^172\.(1[6-9]|2\d|3[01])\./.test(ip) || ip.startsWith('fd') || ip.startsWith('fc');
}

/** A peer address as a baseline entry: loopback, a known workload, a /24 (private) or /16. */
export function peerShape(ip: string, workloadOfIp?: (ip: string) => string | undefined): string {
  if (ip === '' ) return '?';
  if (ip.startsWith('127.') || ip === '::1') return 'loopback';
  const w = workloadOfIp?.(ip);
  if (w) return `workload=${w}`;
  if (ip.includes(':')) return `${ip.split(':').slice(0, 3).join(':')}::/48`;
  const o = ip.split('.');
  return isPrivate(ip) ? `${o[0]}.${o[1]}.${o[2]}.0/24` : `${o[0]}.${o[1]}.0.0/16`;
}

function s(ev: RuntimeEvent, k: string): string {
  const v = ev[k];
  return typeof v === 'string' ? v : v === undefined || v === null ? '' : String(v);
}

function n(ev: RuntimeEvent, k: string): number {
  const v = ev[k];
  return typeof v === 'number' ? v : Number(v ?? 0);
}

/** The coarse class of an event, a token of the per-process sequence. */
export function eventClass(ev: RuntimeEvent): string | undefined {
  const t = ev['evt.type'];
  switch (t) {
    case 'execve':
      return 'exec';
    case 'open':
    case 'openat':
    case 'openat2':
    case 'creat':
      return ev['evt.is_open_write'] === true ? 'write' : 'read';
    case 'connect':
    case 'accept':
    case 'accept4':
      return String(t).startsWith('accept') ? 'accept' : 'connect';
    case 'dup':
    case 'dup2':
    case 'dup3':
      return 'dup';
    case undefined:
      return undefined;
    default:
      return typeof t === 'string' ? t : undefined;
  }
}

export interface ExtractContext {
  /** The workload of a peer address, when an event of that workload showed the address. */
  workloadOfIp?: (ip: string) => string | undefined;
  /** Previous event class of the same process (for the sequence channel). */
  prevClass?: string;
  /** True while the sensor reports lost events: features that need continuity are skipped. */
  gap?: boolean;
}

/** The features of one event. Events that say nothing about behaviour give none. */
export function extractFeatures(ev: RuntimeEvent, ctx: ExtractContext = {}): Feature[] {
  const type = ev['evt.type'];
  // the exe as a shape: runc re-executes itself from /dev/fd/N, interpreters carry versions
  const exe = pathShape(s(ev, 'proc.exepath') || s(ev, 'proc.exe'));
  const name = s(ev, 'proc.name');
  const out: Feature[] = [];
  const cls = eventClass(ev);
  switch (type) {
    case 'execve': {
      const pexe = outside(pathShape(s(ev, 'proc.pexepath') || s(ev, 'proc.pexe')));
      const user = s(ev, 'user.name') || s(ev, 'user.uid');
      const { cls: tc, prior } = toolClass(s(ev, 'proc.exepath') || s(ev, 'proc.exe'), name);
      const shape = argsShape(s(ev, 'proc.args'));
      const keys = pexe
        ? [`${exe} [${shape}] parent=${pexe} user=${user}`, `${exe} parent=${pexe}`, exe, `class=${tc}`]
        : [`${exe} [${shape}] user=${user}`, exe, `class=${tc}`];
      out.push({ ch: 'exec', keys, prior });
      const anc = ev['proc.aexepath'];
      if (!ctx.gap && pexe && Array.isArray(anc) && anc.length >= 1) {
        // who spawns what: the class of a child under its parent is where the prior applies
        // (a shell under a database server that never spawned one is the classic web/SQL RCE)
        const chain = [exe];
        for (const a of (anc as string[]).slice(0, 3)) {
          if (!a) break; // an ancestor the process table does not know ends the chain
          chain.push(outside(pathShape(String(a))));
          if (chain[chain.length - 1] === RUNTIME) break;
        }
        out.push({ ch: 'lineage', keys: [chain.join(' < '), `${exe} < ${pexe}`, `class=${tc} < ${pexe}`, `parent=${pexe}`], prior, priorLevel: 2 });
      }
      break;
    }
    case 'open':
    case 'openat':
    case 'openat2':
    case 'creat': {
      if (s(ev, 'fd.type') === 'directory') break;
      const path = s(ev, 'fd.name');
      if (!path.startsWith('/')) break;
      if (ev['evt.is_open_write'] === true) {
        const pre = dirPrefix(path);
        out.push({ ch: 'file', keys: [`w:${exe}:${pre}`, `w:${pre}`, `w:${topDir(pre)}`], prior: SENSITIVE_WRITE.test(path) ? 16 : 6, priorLevel: 1 });
        // A write the kernel refused for lack of permission: a service trying to write where it
        // does not own the directory (a CONFIG SET dir, a planted key) — known only if it happened
        // while learning. Missing files (ENOENT, which PostgreSQL probes all day) are not refusals.
        if (DENIED.has(s(ev, 'evt.res'))) out.push({ ch: 'file', keys: [`w!:${exe}:${pre}`, `w!:${pre}`, 'w!denied'], prior: 12, priorLevel: 2 });
      } else if (SENSITIVE_READ.test(path)) {
        const shape = pathShape(path);
        out.push({ ch: 'file', keys: [`r:${exe}:${shape}`, `r:${shape}`, `r:class=${sensitiveClass(path)}`, 'r:sensitive'], prior: 16, priorLevel: 2 });
      }
      break;
    }
    case 'unlink':
    case 'unlinkat':
    case 'rename':
    case 'renameat':
    case 'renameat2': {
      const path = s(ev, 'evt.arg.path') || s(ev, 'evt.arg.name') || s(ev, 'evt.arg.oldpath');
      if (!path.startsWith('/')) break;
      const pre = dirPrefix(path);
      out.push({ ch: 'file', keys: [`d:${exe}:${pre}`, `d:${pre}`, `d:${topDir(pre)}`], prior: SENSITIVE_WRITE.test(path) || path.startsWith('/var/log') ? 12 : 4, priorLevel: 1 });
      break;
    }
    case 'connect': {
      const l4 = s(ev, 'fd.l4proto') || 'tcp';
      const port = n(ev, 'fd.sport');
      const peer = peerShape(s(ev, 'fd.sip'), ctx.workloadOfIp);
      if (s(ev, 'fd.type') !== 'ipv4' && s(ev, 'fd.type') !== 'ipv6') break;
      // a peer workload backs off to its namespace, then to any peer on that port
      const ns = peer.startsWith('workload=k8s:') ? peer.split('/')[1] : undefined;
      const keys = ns
        ? [`out:${l4}:${peer}:${port}:${exe}`, `out:${l4}:${peer}:${port}`, `out:${l4}:namespace=${ns}:${port}`, `out:${l4}:*:${port}`, `out:${l4}`]
        : [`out:${l4}:${peer}:${port}:${exe}`, `out:${l4}:${peer}:${port}`, `out:${l4}:*:${port}`, `out:${l4}`];
      out.push({ ch: 'net', keys, prior: C2_PORTS.has(port) ? 16 : 10, priorLevel: keys.length - 2 });
      break;
    }
    case 'accept':
    case 'accept4': {
      const l4 = s(ev, 'fd.l4proto') || 'tcp';
      const port = n(ev, 'fd.sport');
      out.push({ ch: 'net', keys: [`in:${l4}:${port}:${exe}`, `in:${l4}:${port}`, `in:${l4}`], prior: C2_PORTS.has(port) ? 16 : 12, priorLevel: 1 });
      break;
    }
    case 'dup':
    case 'dup2':
    case 'dup3':
      out.push({ ch: 'sys', keys: [`dup-socket:${exe}`, 'dup-socket'], prior: 14, priorLevel: 0 });
      break;
    case 'socket':
      if (s(ev, 'evt.arg.domain').includes('PACKET')) out.push({ ch: 'sys', keys: [`packet-socket:${exe}`, 'packet-socket'], prior: 18, priorLevel: 0 });
      break;
    case 'ptrace':
      out.push({ ch: 'sys', keys: [`ptrace:${s(ev, 'evt.arg.request')}:${exe}`, `ptrace:${exe}`, 'ptrace'], prior: 18, priorLevel: 1 });
      break;
    case 'memfd_create':
      out.push({ ch: 'sys', keys: [`memfd_create:${exe}`, 'memfd_create'], prior: 16, priorLevel: 0 });
      break;
    case 'init_module':
    case 'finit_module':
      out.push({ ch: 'sys', keys: [`module:${exe}`, 'module'], prior: 20, priorLevel: 0 });
      break;
    case 'mount':
      // container runtimes mount while setting a container up; a mount by anything else is the signal
      out.push({ ch: 'sys', keys: [`mount:${s(ev, 'evt.arg.type')}:${exe}`, `mount:${exe}`, 'mount'], prior: 18, priorLevel: 1 });
      break;
    case 'setuid':
    case 'setgid':
    case 'setreuid':
    case 'setregid':
    case 'setresuid':
    case 'setresgid': {
      const id = ev['evt.arg.uid'] ?? ev['evt.arg.gid'];
      const toRoot = Number(id) === 0;
      out.push({ ch: 'sys', keys: [`${type}:${toRoot ? 'root' : 'user'}:${exe}`, `${type}:${toRoot ? 'root' : 'user'}`, 'setid'], prior: toRoot ? 14 : 6, priorLevel: 1 });
      break;
    }
    case 'symlink':
    case 'symlinkat':
    case 'link':
    case 'linkat': {
      const target = s(ev, 'evt.arg.target') || s(ev, 'evt.arg.oldpath');
      const sens = SENSITIVE_READ.test(target);
      out.push({ ch: 'sys', keys: [`link:${sens ? 'sensitive' : 'other'}:${exe}`, `link:${sens ? 'sensitive' : 'other'}`], prior: sens ? 16 : 4, priorLevel: 0 });
      break;
    }
    default:
      break;
  }
  // a chain never names one key twice (e.g. a lineage that ends at the runtime is its own exe < parent)
  for (const f of out) {
    const k = f.keys;
    for (let i = 1; i < k.length; i++) {
      if (k[i] === k[i - 1]) {
        k.splice(i, 1);
        if (f.priorLevel !== undefined && f.priorLevel >= i) f.priorLevel--;
        i--;
      }
    }
  }
  if (cls && !ctx.gap && ctx.prevClass !== undefined) {
    // supporting evidence only: orderings vary with timing, so a sequence never alerts alone
    out.push({ ch: 'seq', keys: [`${exe}: ${ctx.prevClass} > ${cls}`, `${ctx.prevClass} > ${cls}`], prior: 0, cap: SEQ_CAP });
  }
  return out;
}
