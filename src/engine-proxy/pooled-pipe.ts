/**
 * A raw connection to the engine whose incoming bytes are relayed to another socket
 * through a small pool of reused read buffers. `socket.pipe()` allocates a fresh 64 KiB
 * buffer per read; at a gigabyte per second that is external memory the proxy's large
 * heap pays for in garbage collection (measured: GC took more time than the copy itself
 * on `docker cp` of 1 GiB). Reading into pooled buffers (net.connect's `onread`) and
 * returning each buffer once its write has completed keeps memory flat and GC idle.
 * Node has no splice(2), so the bytes still pass through user space once.
 */
import { connect as netConnect, type Socket } from 'node:net';
import type { Writable } from 'node:stream';
import type { Address } from './address.js';

const BUFFER_BYTES = 256 << 10;
const POOL_SIZE = 8;

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
