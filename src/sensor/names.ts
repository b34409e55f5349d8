/**
 * Renders raw syscall numbers the way Falco prints them (flag names, errno names,
 * capability names), so rules written against Falco's output match unchanged.
 */
import { constants } from 'node:os';

const OPEN_FLAGS: [number, string][] = [
  [0o100, 'O_CREAT'],
  [0o200, 'O_EXCL'],
  [0o400, 'O_NOCTTY'],
  [0o1000, 'O_TRUNC'],
  [0o2000, 'O_APPEND'],
  [0o4000, 'O_NONBLOCK'],
  [0o10000, 'O_DSYNC'],
  [0o40000, 'O_DIRECT'],
  [0o100000, 'O_LARGEFILE'],
  [0o200000, 'O_DIRECTORY'],
  [0o400000, 'O_NOFOLLOW'],
  [0o1000000, 'O_NOATIME'],
  [0o2000000, 'O_CLOEXEC'],
  [0o20000000, 'O_PATH'],
];

/** x86_64 open(2) flags as Falco renders them, e.g. "O_WRONLY|O_CREAT|O_TRUNC". */
export function openFlags(flags: number): string {
  const acc = flags & 3;
  const names = [acc === 0 ? 'O_RDONLY' : acc === 1 ? 'O_WRONLY' : 'O_RDWR'];
  for (const [bit, name] of OPEN_FLAGS) if (flags & bit) names.push(name);
  if ((flags & 0o20200000) === 0o20200000) names.push('O_TMPFILE');
  return names.join('|');
}

export const openIsWrite = (flags: number): boolean => (flags & 3) !== 0;
export const openIsRead = (flags: number): boolean => (flags & 3) !== 1;

const ERRNO_NAMES = new Map<number, string>(
  Object.entries(constants.errno).map(([name, n]) => [n as number, name]),
);

/** evt.res: "SUCCESS" for a non-negative return, else the errno name ("ENOENT"). */
export function resName(ret: number): string {
  if (ret >= 0) return 'SUCCESS';
  return ERRNO_NAMES.get(-ret) ?? `E${-ret}`;
}

const CAPS = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL',
  'CAP_SETGID', 'CAP_SETUID', 'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST', 'CAP_NET_ADMIN', 'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER',
  'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE', 'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP', 'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ', 'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
];

const capCache = new Map<bigint, string>();

/** thread.cap_effective: space-separated capability names, as Falco prints them. */
export function capNames(mask: bigint): string {
  let s = capCache.get(mask);
  if (s === undefined) {
    s = renderCaps(mask);
    if (capCache.size < 1024) capCache.set(mask, s);
  }
  return s;
}

function renderCaps(mask: bigint): string {
  const out: string[] = [];
  CAPS.forEach((name, bit) => {
    if ((mask >> BigInt(bit)) & 1n) out.push(name);
  });
  return out.join(' ');
}

export const hasCap = (mask: bigint, bit: number): boolean => ((mask >> BigInt(bit)) & 1n) === 1n;
export const CAP_DAC_OVERRIDE = 1;

const PTRACE: Record<number, string> = {
  0: 'PTRACE_TRACEME', 1: 'PTRACE_PEEKTEXT', 2: 'PTRACE_PEEKDATA', 3: 'PTRACE_PEEKUSR',
  4: 'PTRACE_POKETEXT', 5: 'PTRACE_POKEDATA', 6: 'PTRACE_POKEUSR', 7: 'PTRACE_CONT',
  8: 'PTRACE_KILL', 9: 'PTRACE_SINGLESTEP', 12: 'PTRACE_GETREGS', 13: 'PTRACE_SETREGS',
  14: 'PTRACE_GETFPREGS', 15: 'PTRACE_SETFPREGS', 16: 'PTRACE_ATTACH', 17: 'PTRACE_DETACH',
  24: 'PTRACE_SYSCALL', 0x4200: 'PTRACE_SETOPTIONS', 0x4201: 'PTRACE_GETEVENTMSG',
  0x4202: 'PTRACE_GETSIGINFO', 0x4203: 'PTRACE_SETSIGINFO', 0x4204: 'PTRACE_GETREGSET',
  0x4205: 'PTRACE_SETREGSET', 0x4206: 'PTRACE_SEIZE', 0x4207: 'PTRACE_INTERRUPT', 0x4208: 'PTRACE_LISTEN',
};

export const ptraceRequest = (n: number): string => PTRACE[n] ?? String(n);

const SOCK_TYPES: Record<number, string> = { 1: 'SOCK_STREAM', 2: 'SOCK_DGRAM', 3: 'SOCK_RAW', 4: 'SOCK_RDM', 5: 'SOCK_SEQPACKET', 10: 'SOCK_PACKET' };
export const sockType = (n: number): string => SOCK_TYPES[n & 0xf] ?? String(n);

export const familyName = (n: number): string =>
  ({ 1: 'AF_UNIX', 2: 'AF_INET', 10: 'AF_INET6', 16: 'AF_NETLINK', 17: 'AF_PACKET' })[n] ?? `AF_${n}`;

export function l4proto(proto: number): string {
  return proto === 6 ? 'tcp' : proto === 17 ? 'udp' : proto === 1 || proto === 58 ? 'icmp' : proto === 255 ? 'raw' : 'unknown';
}

const MFD: [number, string][] = [
  [1, 'MFD_CLOEXEC'],
  [2, 'MFD_ALLOW_SEALING'],
  [4, 'MFD_HUGETLB'],
  [8, 'MFD_NOEXEC_SEAL'],
  [16, 'MFD_EXEC'],
];
export const memfdFlags = (n: number): string => MFD.filter(([b]) => n & b).map(([, s]) => s).join('|');

const MS: [number, string][] = [
  [1, 'RDONLY'], [2, 'NOSUID'], [4, 'NODEV'], [8, 'NOEXEC'], [16, 'SYNCHRONOUS'], [32, 'REMOUNT'],
  [64, 'MANDLOCK'], [128, 'DIRSYNC'], [1024, 'NOATIME'], [2048, 'NODIRATIME'], [4096, 'BIND'],
  [8192, 'MOVE'], [16384, 'REC'], [32768, 'SILENT'], [1 << 17, 'PRIVATE'], [1 << 18, 'SLAVE'],
  [1 << 19, 'SHARED'], [1 << 21, 'RELATIME'],
];
export const mountFlags = (n: number): string => MS.filter(([b]) => n & b).map(([, s]) => s).join('|');
