/**
 * Decompresses a layer by its magic bytes (gzip, zstd, or plain tar), whatever the media
 * type claims: registries and archives are not always truthful about it.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { Decompress as ZstdDecompress } from 'fzstd';
import { UserError } from '../../util/errors.js';

export type Compression = 'gzip' | 'zstd' | 'none';

export function detectCompression(head: Buffer): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  return 'none';
}

/**
 * Node 20's zlib has no zstd; fzstd is a maintained pure-JS streaming decoder. This wraps
 * it as a Transform and fails on a stream that ends before its last frame.
 */
class ZstdStream extends Transform {
  private readonly decoder: ZstdDecompress;
  private ended = false;
  private pending: Uint8Array[] = [];

  constructor() {
    super();
    this.decoder = new ZstdDecompress((chunk, final) => {
      this.pending.push(chunk);
      if (final) this.ended = true;
    });
  }

  private flushPending(): void {
    for (const c of this.pending) this.push(Buffer.from(c.buffer, c.byteOffset, c.byteLength));
    this.pending = [];
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    try {
      this.decoder.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      this.flushPending();
      cb();
    } catch (e) {
      cb(new UserError(`corrupt zstd stream (${(e as Error).message})`, 'bad-layer'));
    }
  }

  override _flush(cb: TransformCallback): void {
    try {
      this.decoder.push(new Uint8Array(0), true);
      this.flushPending();
    } catch (e) {
      cb(new UserError(`truncated or corrupt zstd stream (${(e as Error).message})`, 'bad-layer'));
      return;
    }
    cb();
  }
}

/** A Transform that sniffs the first bytes, then decompresses accordingly. */
export class AutoDecompress extends Transform {
  private inner?: Transform;
  private head: Buffer[] = [];
  private headLen = 0;
  compression?: Compression;
  private innerDone?: Promise<void>;

  private start(): void {
    const head = Buffer.concat(this.head);
    this.compression = detectCompression(head);
    this.head = [];
    if (this.compression === 'none') {
      this.push(head);
      return;
    }
    const inner: Transform =
      this.compression === 'gzip' ? createGunzip({ chunkSize: 256 * 1024 }) : new ZstdStream();
    this.inner = inner;
    inner.on('data', (d: Buffer) => {
      if (!this.push(d)) inner.pause();
    });
    this.innerDone = new Promise((resolve, reject) => {
      inner.on('end', resolve);
      inner.on('error', (e: NodeJS.ErrnoException) => {
        const err =
          e instanceof UserError
            ? e
            : new UserError(`${e.code === 'Z_BUF_ERROR' ? 'truncated' : 'corrupt'} ${this.compression} stream (${e.message})`, 'bad-layer');
        reject(err);
        this.destroy(err);
      });
    });
    this.innerDone.catch(() => {});
    inner.write(head);
  }

  override _read(size: number): void {
    this.inner?.resume();
    super._read(size);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (!this.compression) {
      this.head.push(chunk);
      this.headLen += chunk.length;
      if (this.headLen < 4) return cb();
      this.start();
      return cb();
    }
    if (!this.inner) {
      this.push(chunk);
      return cb();
    }
    if (this.inner.write(chunk)) cb();
    else this.inner.once('drain', () => cb());
  }

  override _flush(cb: TransformCallback): void {
    if (!this.compression) this.start();
    if (!this.inner) return cb();
    this.inner.end();
    this.innerDone!.then(() => cb(), (e: Error) => cb(e));
  }
}
