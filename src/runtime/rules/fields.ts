/**
 * The field registry: every field a condition or an output may name, its type, whether it
 * takes an argument (`proc.aname[2]`, `evt.arg.flags`), and how to derive it when a source
 * did not fill it directly. A new field = one entry here.
 *
 * Fields marked `unsupplied` are understood by the compiler (so Falco's rule files load)
 * but no Gatehouse source fills them yet; a check on an absent field is false, as in Falco.
 */
import type { FieldValue, RuntimeEvent } from '../event.js';
import { splitImageName } from '../../image/reference.js';

export type FieldType = 'string' | 'number' | 'bool' | 'ipaddr' | 'ipnet' | 'list' | 'bytes' | 'any';

export interface FieldDef {
  name: string;
  type: FieldType;
  desc: string;
  /** `required`: only `name[arg]` is valid; `optional`: both; absent: no argument. */
  arg?: 'optional' | 'required';
  /** A family of fields named `prefix.<suffix>` (`evt.arg.flags`). */
  prefix?: boolean;
  /** Derives the value when the event does not carry `name` (or `name[arg]`) itself. */
  derive?: (ev: RuntimeEvent, arg: string | undefined) => FieldValue | undefined;
  /** Why no Gatehouse source fills this field yet (listed by `rules check`). */
  unsupplied?: string;
}

const str = (v: FieldValue | undefined): string | undefined => (v === undefined || v === null ? undefined : String(v));

function dirname(p: string): string {
  const i = p.lastIndexOf('/');
  if (i < 0) return '.';
  return i === 0 ? '/' : p.slice(0, i);
}

function basename(p: string): string {
  const i = p.lastIndexOf('/');
  return i < 0 ? p : p.slice(i + 1);
}

/** Ancestry: `proc.aname[0]` is the process itself, `[1]` its parent; the event's
 * `proc.aname` (no index) is the array of ancestors starting with the parent. */
function ancestor(self: string, parent: string | undefined, list: string) {
  return (ev: RuntimeEvent, arg: string | undefined): FieldValue | undefined => {
    const arr = ev[list];
    if (arg === undefined) {
      if (Array.isArray(arr)) return arr;
      const p = parent === undefined ? undefined : ev[parent];
      return p === undefined || p === null ? undefined : ([p] as string[]);
    }
    const n = Number(arg);
    if (!Number.isInteger(n) || n < 0) return undefined;
    if (n === 0) return ev[self];
    if (Array.isArray(arr)) return arr[n - 1];
    return n === 1 && parent !== undefined ? ev[parent] : undefined;
  };
}

const TYPECHAR: Record<string, string> = {
  file: 'f', directory: 'd', ipv4: '4', ipv6: '6', unix: 'u', pipe: 'p', event: 'e',
  signalfd: 's', eventpoll: 'l', inotify: 'i', timerfd: 't', netlink: 'n', memfd: 'm', bpf: 'b', userfaultfd: 'r',
};
const TYPE_OF_CHAR: Record<string, string> = Object.fromEntries(Object.entries(TYPECHAR).map(([k, v]) => [v, k]));


const either = (...keys: string[]) => (ev: RuntimeEvent): FieldValue | undefined => {
  const out: string[] = [];
  for (const k of keys) {
    const v = ev[k];
    if (v !== undefined && v !== null) out.push(String(v));
  }
  return out.length ? out : undefined;
};
const alias = (key: string) => (ev: RuntimeEvent): FieldValue | undefined => ev[key];

/** Event types that are not system calls (scheduler switches, process exits, …). */
const NON_SYSCALL = new Set(['switch', 'signaldeliver', 'page_fault', 'drop', 'sysdigevent', 'container', 'notification', 'infra', 'procinfo', 'cpu_hotplug', 'k8s', 'mesos', 'tracer', 'pluginevent', 'asyncevent']);
const NO_K8S = 'Kubernetes metadata needs the CRI/kubelet attribution, not built yet';
const NO_INODE = 'executable inode times are not collected by the bpftrace sensor';

const DEFS: FieldDef[] = [
  // evt.*
  { name: 'evt.num', type: 'number', desc: 'event number' },
  { name: 'evt.type', type: 'string', desc: 'event (syscall) name' },
  { name: 'evt.dir', type: 'string', desc: "'>' enter, '<' exit" },
  { name: 'evt.cpu', type: 'number', desc: 'CPU number' },
  { name: 'evt.time', type: 'string', desc: 'event time (text)' },
  { name: 'evt.rawtime', type: 'number', desc: 'event time, ns since epoch' },
  { name: 'evt.outputtime', type: 'number', desc: 'event time used in outputs, ns' },
  { name: 'evt.datetime', type: 'string', desc: 'event date and time (text)' },
  { name: 'evt.res', type: 'string', desc: "result: 'SUCCESS' or an errno name" },
  { name: 'evt.rawres', type: 'number', desc: 'raw return value' },
  { name: 'evt.failed', type: 'bool', desc: 'the call returned an error', derive: (ev) => {
    const r = ev['evt.rawres'];
    return r === undefined || r === null ? undefined : Number(r) < 0;
  } },
  { name: 'evt.args', type: 'string', desc: 'all arguments as text' },
  { name: 'evt.info', type: 'string', desc: 'arguments or a description' },
  { name: 'evt.arg', type: 'any', desc: 'argument by name (evt.arg.NAME) or index (evt.arg[N])', prefix: true, arg: 'optional' },
  { name: 'evt.rawarg', type: 'any', desc: 'raw argument by name', prefix: true },
  { name: 'evt.buffer', type: 'bytes', desc: 'I/O buffer' },
  { name: 'evt.buflen', type: 'number', desc: 'I/O buffer length' },
  { name: 'evt.is_open_read', type: 'bool', desc: 'open with read access' },
  { name: 'evt.is_open_write', type: 'bool', desc: 'open with write access' },
  { name: 'evt.is_open_exec', type: 'bool', desc: 'open/create with exec bits' },
  { name: 'evt.hostname', type: 'string', desc: 'host name' },
  { name: 'evt.source', type: 'string', desc: "event source ('syscall')" },
  { name: 'syscall.type', type: 'string', desc: 'syscall name (absent for non-syscall events)', derive: (ev) => {
    const t = ev['evt.type'];
    return typeof t === 'string' && !NON_SYSCALL.has(t) ? t : undefined;
  } },
  // proc.* / thread.*
  { name: 'proc.pid', type: 'number', desc: 'process id' },
  { name: 'proc.ppid', type: 'number', desc: 'parent process id' },
  { name: 'proc.vpid', type: 'number', desc: 'process id in its pid namespace' },
  { name: 'proc.name', type: 'string', desc: 'process name (comm)' },
  { name: 'proc.exe', type: 'string', desc: 'argv[0]' },
  { name: 'proc.exepath', type: 'string', desc: 'full executable path' },
  { name: 'proc.cmdline', type: 'string', desc: 'name and arguments' },
  { name: 'proc.args', type: 'string', desc: 'arguments' },
  { name: 'proc.env', type: 'string', desc: 'environment (or one variable with [NAME])', arg: 'optional' },
  { name: 'proc.cwd', type: 'string', desc: 'working directory' },
  { name: 'proc.tty', type: 'number', desc: 'controlling terminal (0 if none)' },
  { name: 'proc.sid', type: 'number', desc: 'session id' },
  { name: 'proc.sname', type: 'string', desc: 'session leader name' },
  { name: 'proc.vpgid', type: 'number', desc: 'process group id (namespace)' },
  { name: 'proc.vpgid.name', type: 'string', desc: 'process group leader name' },
  { name: 'proc.vpgid.exe', type: 'string', desc: 'process group leader argv[0]' },
  { name: 'proc.is_vpgid_leader', type: 'bool', desc: 'is the process group leader' },
  { name: 'proc.pname', type: 'string', desc: 'parent name', derive: (ev) => (Array.isArray(ev['proc.aname']) ? (ev['proc.aname'] as string[])[0] : undefined) },
  { name: 'proc.pcmdline', type: 'string', desc: 'parent command line' },
  { name: 'proc.pexe', type: 'string', desc: 'parent argv[0]' },
  { name: 'proc.pexepath', type: 'string', desc: 'parent executable path' },
  { name: 'proc.aname', type: 'string', desc: 'ancestor name ([0] self, [1] parent, …; no index: any ancestor)', arg: 'optional', derive: ancestor('proc.name', 'proc.pname', 'proc.aname') },
  { name: 'proc.aexe', type: 'string', desc: 'ancestor argv[0]', arg: 'optional', derive: ancestor('proc.exe', 'proc.pexe', 'proc.aexe') },
  { name: 'proc.aexepath', type: 'string', desc: 'ancestor executable path', arg: 'optional', derive: ancestor('proc.exepath', 'proc.pexepath', 'proc.aexepath') },
  { name: 'proc.apid', type: 'number', desc: 'ancestor pid', arg: 'optional', derive: ancestor('proc.pid', undefined, 'proc.apid') }, // ppid alone does not prove the parent is known
  { name: 'proc.duration', type: 'number', desc: 'ns since the process started' },
  { name: 'proc.ppid.duration', type: 'number', desc: 'ns since the parent started', unsupplied: 'the sensor sets proc.duration only for the process itself' },
  { name: 'proc.is_exe_upper_layer', type: 'bool', desc: 'executable lives in the overlayfs upper layer' },
  { name: 'proc.is_exe_from_memfd', type: 'bool', desc: 'executable is a memfd' },
  { name: 'proc.is_exe_writable', type: 'bool', desc: 'executable is writable by the process' },
  { name: 'proc.exe_ino', type: 'number', desc: 'executable inode' },
  { name: 'proc.exe_ino.ctime', type: 'number', desc: 'executable inode ctime', unsupplied: NO_INODE },
  { name: 'proc.exe_ino.mtime', type: 'number', desc: 'executable inode mtime', unsupplied: NO_INODE },
  { name: 'proc.exe_ino.ctime_duration_proc_start', type: 'number', desc: 'ns between exe ctime and process start', unsupplied: NO_INODE },
  { name: 'thread.tid', type: 'number', desc: 'thread id' },
  { name: 'thread.vtid', type: 'number', desc: 'thread id in its namespace' },
  { name: 'thread.cap_effective', type: 'string', desc: 'effective capabilities (names, space separated)' },
  { name: 'thread.cap_permitted', type: 'string', desc: 'permitted capabilities' },
  { name: 'thread.cap_inheritable', type: 'string', desc: 'inheritable capabilities' },
  // user.* / group.*
  { name: 'user.uid', type: 'number', desc: 'user id' },
  { name: 'user.name', type: 'string', desc: 'user name' },
  { name: 'user.homedir', type: 'string', desc: 'home directory' },
  { name: 'user.shell', type: 'string', desc: 'login shell' },
  { name: 'user.loginuid', type: 'number', desc: 'audit login uid (-1 if none)' },
  { name: 'user.loginname', type: 'string', desc: 'audit login user name' },
  { name: 'group.gid', type: 'number', desc: 'group id' },
  { name: 'group.name', type: 'string', desc: 'group name' },
  // fd.*
  { name: 'fd.num', type: 'number', desc: 'file descriptor number' },
  { name: 'fd.type', type: 'string', desc: 'file, directory, ipv4, ipv6, unix, pipe, …', derive: (ev) => TYPE_OF_CHAR[str(ev['fd.typechar']) ?? ''] },
  { name: 'fd.typechar', type: 'string', desc: 'f, d, 4, 6, u, p, …', derive: (ev) => TYPECHAR[str(ev['fd.type']) ?? ''] },
  { name: 'fd.name', type: 'string', desc: 'file path or connection tuple' },
  { name: 'fd.nameraw', type: 'string', desc: 'path as passed to the syscall', derive: alias('fd.name') },
  { name: 'fd.name_changed', type: 'bool', desc: 'the name changed (rename)' },
  // As libsinsp: files and unknown-type fds have a directory (a name without '/' → '/'); only files a file name.
  { name: 'fd.directory', type: 'string', desc: 'directory of a file fd', derive: (ev) => {
    const name = str(ev['fd.name']);
    const tc = str(ev['fd.typechar']);
    if (name === undefined) return undefined;
    if (tc === 'd') return name;
    if (tc === undefined ? !name.startsWith('/') : tc !== 'f' && tc !== 'o') return undefined;
    return name.includes('/') ? dirname(name) : '/';
  } },
  { name: 'fd.filename', type: 'string', desc: 'file name of a file fd', derive: (ev) => {
    const name = str(ev['fd.name']);
    const tc = str(ev['fd.typechar']);
    if (!name || !name.includes('/') || (tc === undefined ? !name.startsWith('/') : tc !== 'f')) return undefined;
    return basename(name);
  } },
  { name: 'fd.types', type: 'list', desc: 'types of the fds of the process (fd.types[N]: of fd N)', arg: 'optional', unsupplied: 'the sensor does not keep per-process fd tables' },
  { name: 'fd.connected', type: 'bool', desc: 'socket is connected' },
  { name: 'fd.l4proto', type: 'string', desc: 'tcp, udp, icmp, raw' },
  { name: 'fd.sockfamily', type: 'string', desc: 'ip or unix' },
  { name: 'fd.cip', type: 'ipaddr', desc: 'client IP' },
  { name: 'fd.sip', type: 'ipaddr', desc: 'server IP' },
  { name: 'fd.lip', type: 'ipaddr', desc: 'local IP' },
  { name: 'fd.rip', type: 'ipaddr', desc: 'remote IP' },
  { name: 'fd.ip', type: 'ipaddr', desc: 'client or server IP', derive: either('fd.cip', 'fd.sip') },
  { name: 'fd.cport', type: 'number', desc: 'client port' },
  { name: 'fd.sport', type: 'number', desc: 'server port' },
  { name: 'fd.lport', type: 'number', desc: 'local port' },
  { name: 'fd.rport', type: 'number', desc: 'remote port' },
  { name: 'fd.dip', type: 'ipaddr', desc: 'destination IP of a connect/sendto (Gatehouse sensor)' },
  { name: 'fd.dport', type: 'number', desc: 'destination port of a connect/sendto (Gatehouse sensor)' },
  { name: 'fd.port', type: 'number', desc: 'client or server port', derive: either('fd.cport', 'fd.sport') },
  { name: 'fd.cnet', type: 'ipnet', desc: 'client IP, matched against a CIDR', derive: alias('fd.cip') },
  { name: 'fd.snet', type: 'ipnet', desc: 'server IP, matched against a CIDR', derive: alias('fd.sip') },
  { name: 'fd.lnet', type: 'ipnet', desc: 'local IP, matched against a CIDR', derive: alias('fd.lip') },
  { name: 'fd.rnet', type: 'ipnet', desc: 'remote IP, matched against a CIDR', derive: alias('fd.rip') },
  { name: 'fd.net', type: 'ipnet', desc: 'client or server IP, matched against a CIDR', derive: either('fd.cip', 'fd.sip') },
  { name: 'fd.cip.name', type: 'string', desc: 'client domain name', unsupplied: 'DNS names need the DNS tracer, not built' },
  { name: 'fd.sip.name', type: 'string', desc: 'server domain name', unsupplied: 'DNS names need the DNS tracer, not built' },
  { name: 'fd.lip.name', type: 'string', desc: 'local domain name', unsupplied: 'DNS names need the DNS tracer, not built' },
  { name: 'fd.rip.name', type: 'string', desc: 'remote domain name', unsupplied: 'DNS names need the DNS tracer, not built' },
  { name: 'fs.path', type: 'string', desc: 'path argument of a filesystem syscall (fs.path.name/source/target)', prefix: true },
  // container.*
  { name: 'container.id', type: 'string', desc: "container id ('host' outside containers)" },
  { name: 'container.name', type: 'string', desc: 'container name' },
  { name: 'container.image', type: 'string', desc: 'image reference' },
  { name: 'container.image.id', type: 'string', desc: 'image id' },
  { name: 'container.image.repository', type: 'string', desc: 'image repository', derive: (ev) => {
    const img = str(ev['container.image']);
    return img ? splitImageName(img).repository : undefined;
  } },
  { name: 'container.image.tag', type: 'string', desc: 'image tag', derive: (ev) => {
    const img = str(ev['container.image']);
    return img ? splitImageName(img).tag : undefined;
  } },
  { name: 'container.image.digest', type: 'string', desc: 'image digest', derive: (ev) => {
    const img = str(ev['container.image']);
    return img ? splitImageName(img).digest : undefined;
  } },
  { name: 'container.type', type: 'string', desc: 'docker, podman, cri, …' },
  { name: 'container.privileged', type: 'bool', desc: 'runs privileged' },
  { name: 'container.start_ts', type: 'number', desc: 'container start, ns' },
  { name: 'container.mounts', type: 'string', desc: 'mounts as text' },
  { name: 'container.mount.dest', type: 'string', desc: 'mount by destination ([PATH], glob allowed)', arg: 'required', unsupplied: 'container mounts are not attributed yet' },
  { name: 'container.label', type: 'string', desc: 'container label [KEY]', arg: 'required' },
  // k8s.*
  { name: 'k8s.ns.name', type: 'string', desc: 'Kubernetes namespace', unsupplied: NO_K8S },
  { name: 'k8s.pod.name', type: 'string', desc: 'Kubernetes pod', unsupplied: NO_K8S },
  { name: 'k8s.pod.uid', type: 'string', desc: 'Kubernetes pod uid', unsupplied: NO_K8S },
  { name: 'k8s.pod.label', type: 'string', desc: 'Kubernetes pod label [KEY]', arg: 'required', unsupplied: NO_K8S },
];

export class FieldRegistry {
  private readonly exact = new Map<string, FieldDef>();
  private readonly prefixes: FieldDef[] = [];

  constructor(defs: readonly FieldDef[]) {
    for (const d of defs) this.register(d);
  }

  register(def: FieldDef): void {
    this.exact.set(def.name, def);
    if (def.prefix) this.prefixes.push(def);
  }

  /** The definition of `name` (`evt.arg.flags` resolves to the `evt.arg` family). */
  lookup(name: string): FieldDef | undefined {
    const d = this.exact.get(name);
    if (d) return d;
    return this.prefixes.find((p) => name.startsWith(`${p.name}.`) && name.length > p.name.length + 1);
  }

  all(): FieldDef[] {
    return [...this.exact.values()];
  }
}

/** The registry every rule set uses by default. */
export const fieldRegistry = new FieldRegistry(DEFS);

/** Reads `name[arg]` from an event: the source's own value first, else the derivation. */
export function readField(def: FieldDef | undefined, ev: RuntimeEvent, name: string, arg: string | undefined): FieldValue | undefined {
  const key = arg === undefined ? name : `${name}[${arg}]`;
  const v = ev[key];
  if (v !== undefined) return v;
  return def?.derive ? def.derive(ev, arg) : undefined;
}
