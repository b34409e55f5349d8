/**
 * A raw connection to the engine whose incoming bytes are relayed to another socket
 * through a small pool of reused read buffers. `socket.pipe()` allocates a fresh 64 KiB
 * buffer per read; at a gigabyte per second that is external memory the proxy's large
 * heap pays for in garbage collection (measured: GC took more time than the copy itself
 * on `docker cp` of 1 GiB). Reading into pooled buffers (net.connect's `onread`) and
 * returning each buffer once its write has completed keeps memory flat and GC idle.
 * Node has no splice(2), so the bytes still pass through user space once.
 */
import { createRequire } from 'node:module';
import { connect as netConnect, type Socket } from 'node:net';
import type { Writable } from 'node:stream';
import type { Address } from './address.js';

const BUFFER_BYTES = 256 << 10;
const POOL_SIZE = 8;
const SOL_SOCKET = 1;
const SO_SNDBUF = 7;
/** Kernel send buffer asked for on the client side of a bulk relay (capped by wmem_max). */
const CLIENT_SNDBUF = 4 << 20;

type SetSockOpt = (socket: Socket, level: number, name: number, value: number) => void;
let setsockopt: SetSockOpt | null | undefined;

/**
 * A larger send buffer towards the client lets the relay hand the kernel a whole pooled
 * buffer per write and decouples the engine's pace from the client's: measured on
 * `docker cp` of 1 GiB, the default (~208 KiB) left about a third of the writes partial.
 * Best effort: without the sockopt addon, or on a TLS socket, the default stays.
 */
export function enlargeSendBuffer(socket: Socket): void {
  if (setsockopt === undefined) {
    try {
      setsockopt = (createRequire(import.meta.url)('sockopt') as { setsockopt: SetSockOpt }).setsockopt;
    } catch {
      setsockopt = null;
    }
  }
  try {
    setsockopt?.(socket, SOL_SOCKET, SO_SNDBUF, CLIENT_SNDBUF);
  } catch {
    // not a plain socket (TLS): keep the default
  }
}

export function connectRelayedTo(a: Address, sink: Writable): Socket {
  const free: Buffer[] = Array.from({ length: POOL_SIZE }, () => Buffer.allocUnsafeSlow(BUFFER_BYTES));
  let paused = false;
  const release = (buf: Buffer) => {
    if (buf.length === BUFFER_BYTES) free.push(buf);
    if (paused) {
      paused = false;
      upstream.resume();
    }
  };
  const onread = {
    // A read can be scheduled before pause() takes effect: then a one-off buffer is used.
    buffer: () => free.pop() ?? Buffer.allocUnsafeSlow(BUFFER_BYTES),
    callback: (n: number, buf: Uint8Array): boolean => {
      const b = buf as Buffer;
      if (sink.destroyed) return false;
      sink.write(b.subarray(0, n), () => release(b));
      if (free.length === 0 && !paused) {
        paused = true;
        upstream.pause();
      }
      return true;
    },
  };
  const upstream: Socket =
    a.kind === 'unix'
      ? netConnect({ path: a.path, allowHalfOpen: true, onread })
      : netConnect({ host: a.host, port: a.port, allowHalfOpen: true, onread });
  upstream.on('end', () => sink.end());
  return upstream;
}
