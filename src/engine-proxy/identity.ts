/**
 * Who is calling. Unix sockets: the kernel's SO_PEERCRED. Node exposes no getsockopt, so
 * this uses the `sockopt` package (small N-API addon, compiled on install: its linux-x64
 * prebuild is unusable, see .ci/setup.d/70-engine-proxy.sh). It reads options as a C int, so SO_PEERCRED yields the first member of
 * `struct ucred` — the peer's pid as the kernel recorded it at connect(); uid/gid are then
 * read from /proc/<pid>/status (effective ids, as SO_PEERCRED reports). Chosen over
 * matching /proc/net/unix inodes because that table does not name a socket's peer (only
 * netlink sock_diag does, which Node cannot speak). Caveat: a process that changes its ids
 * after connecting shows its current ids.
 * TLS: the verified client certificate's subject CN.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';

export interface Caller {
  transport: 'unix' | 'tls' | 'tcp';
  uid?: number;
  gid?: number;
  pid?: number;
  user?: string;
  /** TLS client certificate subject CN. */
  cn?: string;
  address?: string;
}

const SOL_SOCKET = 1;
const SO_PEERCRED = 17;

type GetSockOpt = (socket: Socket, level: number, name: number) => number;
let getsockopt: GetSockOpt | null | undefined;

function loadSockopt(): GetSockOpt | null {
  if (getsockopt === undefined) {
    try {
      getsockopt = (createRequire(import.meta.url)('sockopt') as { getsockopt: GetSockOpt }).getsockopt;
    } catch {
      getsockopt = null;
    }
  }
  return getsockopt;
}

export function peerCredentialsAvailable(): boolean {
  return loadSockopt() !== null;
}

/**
 * Peer credentials of an accepted unix-socket connection. When they cannot be read the
 * user is "" (unknown), so allow-lists of users (`caller.user notIn [...]`) deny: fail closed.
 */
export function unixPeer(socket: Socket): Caller {
  const caller: Caller = { transport: 'unix', user: '' };
  const get = loadSockopt();
  if (!get) return caller;
  try {
    const pid = get(socket, SOL_SOCKET, SO_PEERCRED);
    if (pid > 0) {
      caller.pid = pid;
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      caller.uid = Number(/^Uid:\s+\d+\s+(\d+)/m.exec(status)?.[1]);
      caller.gid = Number(/^Gid:\s+\d+\s+(\d+)/m.exec(status)?.[1]);
      caller.user = userName(caller.uid);
    }
  } catch {
    // The peer may already be gone; the request is decided with what is known.
  }
  return caller;
}

export function tlsPeer(socket: TLSSocket): Caller {
  const cert = socket.getPeerCertificate();
  const cn = cert?.subject?.CN;
  return { transport: 'tls', cn: Array.isArray(cn) ? cn[0] : cn, user: Array.isArray(cn) ? cn[0] : cn, address: socket.remoteAddress };
}

let passwd: Map<number, string> | undefined;
function userName(uid: number | undefined): string | undefined {
  if (uid === undefined || Number.isNaN(uid)) return undefined;
  if (!passwd) {
    passwd = new Map();
    try {
      for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
        const [name, , id] = line.split(':');
        if (name && id && !passwd.has(Number(id))) passwd.set(Number(id), name);
      }
    } catch {
      // No passwd file: callers are known by uid only.
    }
  }
  return passwd.get(uid) ?? String(uid);
}
