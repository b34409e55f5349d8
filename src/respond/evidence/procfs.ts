/**
 * What the host's /proc says about a container, from its init process's host pid (inspect's
 * State.Pid): every process in the same pid namespace (command line, executable, parent,
 * user, pid inside the container) and the sockets of its network namespace
 * (/proc/PID/net/{tcp,tcp6,udp,udp6}), with the processes that hold them. Only works on the
 * engine's own host with the right to read /proc; callers fall back to the engine API.
 */
import { readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';

export interface ProcessRecord {
  /** Host pid. */
  pid: number;
  ppid: number;
  /** Pid inside the container's namespace (last NSpid), when known. */
  nspid?: number;
  comm: string;
  /** argv, NUL-split (bounded). */
  cmdline: string[];
  exe?: string;
  uid?: number;
  /** Seconds since boot at which it started (clock ticks / 100). */
  startTicks?: number;
  /** Socket inodes it holds. */
  sockets?: number[];
}

export interface Connection {
  proto: 'tcp' | 'tcp6' | 'udp' | 'udp6';
  local: string;
  remote: string;
  state: string;
  uid: number;
  inode: number;
  /** Host pids holding the socket. */
  pids?: number[];
}

const MAX_CMDLINE = 8192;
const MAX_PROCESSES = 4096;
const MAX_FDS = 4096;

async function readSmall(path: string, max = 65536): Promise<string | undefined> {
  try {
    const b = await readFile(path);
    return b.subarray(0, max).toString('utf8');
  } catch {
    return undefined;
  }
}

async function link(path: string): Promise<string | undefined> {
  try {
    return await readlink(path);
  } catch {
    return undefined;
  }
}

/**
 * Whether host pid `pid` on this machine is the container's: its cgroup path names the
 * container id (podman's libpod-<id>, Docker's docker-<id> / /docker/<id>). A remote
 * engine's pid is some unrelated local process, never read as the container's.
 */
export async function pidBelongsTo(pid: number, containerId: string, procRoot = '/proc'): Promise<boolean> {
  const cgroup = await readSmall(join(procRoot, String(pid), 'cgroup'));
  return cgroup !== undefined && containerId.length >= 12 && cgroup.includes(containerId);
}

/** Processes sharing the pid namespace of `initPid` (the container's processes); with the host's namespace, its cgroup's. */
export async function containerProcesses(initPid: number, procRoot = '/proc'): Promise<ProcessRecord[]> {
  const ns = await link(join(procRoot, String(initPid), 'ns', 'pid'));
  if (!ns) throw new Error(`cannot read ${procRoot}/${initPid}/ns/pid`);
  // A container sharing the host's pid namespace (--pid=host): its processes are those of its cgroup.
  const hostNs = ns === (await link(join(procRoot, 'self', 'ns', 'pid')));
  const cgroup = hostNs ? await readSmall(join(procRoot, String(initPid), 'cgroup')) : undefined;
  if (hostNs && !cgroup) throw new Error(`cannot read ${procRoot}/${initPid}/cgroup`);
  const out: ProcessRecord[] = [];
  const names = await readdir(procRoot);
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    if ((await link(join(procRoot, name, 'ns', 'pid'))) !== ns) continue;
    if (hostNs && (await readSmall(join(procRoot, name, 'cgroup'))) !== cgroup) continue;
    const rec = await readProcess(Number(name), procRoot);
    if (rec) out.push(rec);
    if (out.length >= MAX_PROCESSES) break;
  }
  return out.sort((a, b) => a.pid - b.pid);
}

async function readProcess(pid: number, procRoot: string): Promise<ProcessRecord | undefined> {
  const dir = join(procRoot, String(pid));
  const stat = await readSmall(join(dir, 'stat'));
  if (!stat) return undefined;
  // comm is in parentheses and may hold spaces or parentheses: split at the last ')'.
  const close = stat.lastIndexOf(')');
  const comm = stat.slice(stat.indexOf('(') + 1, close);
  const rest = stat.slice(close + 2).split(' ');
  const ppid = Number(rest[1]);
  const startTicks = Number(rest[19]);
  const cmdRaw = await readSmall(join(dir, 'cmdline'), MAX_CMDLINE);
  const cmdline = cmdRaw ? cmdRaw.split('\0').filter((s, i, a) => s !== '' || i < a.length - 1) : [];
  const status = (await readSmall(join(dir, 'status'))) ?? '';
  const uid = /^Uid:\s+(\d+)/m.exec(status)?.[1];
  const nspid = /^NSpid:\s+([\d\s]+)$/m.exec(status)?.[1]?.trim().split(/\s+/).pop();
  const exe = await link(join(dir, 'exe'));
  const sockets: number[] = [];
  try {
    const fds = await readdir(join(dir, 'fd'));
    for (const fd of fds.slice(0, MAX_FDS)) {
      const target = await link(join(dir, 'fd', fd));
      const m = target && /^socket:\[(\d+)\]$/.exec(target);
      if (m) sockets.push(Number(m[1]));
    }
  } catch {
    // no right to list fds: sockets stay unattributed
  }
  return {
    pid,
    ppid,
    ...(nspid ? { nspid: Number(nspid) } : {}),
    comm,
    cmdline,
    ...(exe !== undefined ? { exe } : {}),
    ...(uid !== undefined ? { uid: Number(uid) } : {}),
    ...(Number.isFinite(startTicks) ? { startTicks } : {}),
    ...(sockets.length ? { sockets } : {}),
  };
}

const TCP_STATES: Record<string, string> = {
  '01': 'ESTABLISHED',
  '02': 'SYN_SENT',
  '03': 'SYN_RECV',
  '04': 'FIN_WAIT1',
  '05': 'FIN_WAIT2',
  '06': 'TIME_WAIT',
  '07': 'CLOSE',
  '08': 'CLOSE_WAIT',
  '09': 'LAST_ACK',
  '0A': 'LISTEN',
  '0B': 'CLOSING',
  '0C': 'NEW_SYN_RECV',
};

/** Sockets of the network namespace `initPid` is in. */
export async function containerConnections(initPid: number, processes: ProcessRecord[] = [], procRoot = '/proc'): Promise<Connection[]> {
  const byInode = new Map<number, number[]>();
  for (const p of processes) for (const i of p.sockets ?? []) byInode.set(i, [...(byInode.get(i) ?? []), p.pid]);
  const out: Connection[] = [];
  for (const proto of ['tcp', 'tcp6', 'udp', 'udp6'] as const) {
    const text = await readSmall(join(procRoot, String(initPid), 'net', proto), 4 << 20);
    if (text === undefined) continue;
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      const inode = Number(f[9]);
      const pids = byInode.get(inode);
      out.push({
        proto,
        local: decodeAddress(f[1]!),
        remote: decodeAddress(f[2]!),
        state: proto.startsWith('tcp') ? (TCP_STATES[f[3]!.toUpperCase()] ?? f[3]!) : f[3] === '07' ? 'UNCONN' : f[3] === '01' ? 'ESTABLISHED' : f[3]!,
        uid: Number(f[7]),
        inode,
        ...(pids ? { pids } : {}),
      });
    }
  }
  return out;
}

/** `0100007F:1F90` → `127.0.0.1:8080`; IPv6 as 4 little-endian 32-bit words. */
export function decodeAddress(text: string): string {
  const [hex, portHex] = text.split(':') as [string, string];
  const port = parseInt(portHex, 16);
  if (hex.length === 8) {
    const b = Buffer.from(hex, 'hex');
    return `${b[3]}.${b[2]}.${b[1]}.${b[0]}:${port}`;
  }
  const words: string[] = [];
  for (let i = 0; i < 32; i += 8) {
    const w = Buffer.from(hex.slice(i, i + 8), 'hex').reverse();
    words.push(w.toString('hex'));
  }
  const groups = words.join('').match(/.{4}/g)!.map((g) => g.replace(/^0+(?=.)/, ''));
  // ::ffff:a.b.c.d, as ss prints it
  if (groups.slice(0, 5).every((g) => g === '0') && groups[5] === 'ffff') {
    const v4 = Buffer.from(words[3]!, 'hex');
    return `[::ffff:${v4[0]}.${v4[1]}.${v4[2]}.${v4[3]}]:${port}`;
  }
  return `[${compressV6(groups)}]:${port}`;
}

function compressV6(groups: string[]): string {
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < groups.length; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < groups.length && groups[j] === '0') j++;
    if (j - i > bestLen && j - i > 1) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}
