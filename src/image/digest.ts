/** Content digests: computing them on streams and checking them against what was promised. */
import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { UserError } from '../util/errors.js';

const SUPPORTED = new Set(['sha256', 'sha512']);

export function parseDigest(digest: string): { algorithm: string; hex: string } {
  const m = /^([a-z0-9]+):([a-f0-9]+)$/.exec(digest);
  if (!m || !SUPPORTED.has(m[1]!)) throw new UserError(`unsupported or malformed digest "${digest}"`, 'bad-digest');
  const algorithm = m[1]!;
  const hex = m[2]!;
  if (hex.length !== (algorithm === 'sha256' ? 64 : 128)) throw new UserError(`malformed digest "${digest}"`, 'bad-digest');
  return { algorithm, hex };
}

export function digestOf(data: Buffer | string, algorithm = 'sha256'): string {
  return `${algorithm}:${createHash(algorithm).update(data).digest('hex')}`;
}

/** Throws when `data` does not hash to `expected`. */
export function verifyBytes(data: Buffer, expected: string, what: string): void {
  const { algorithm } = parseDigest(expected);
  const actual = digestOf(data, algorithm);
  if (actual !== expected) {
    throw new UserError(`${what}: digest mismatch (expected ${expected}, got ${actual})`, 'digest-mismatch');
  }
}

/**
 * A pass-through stream that hashes what flows by. With `expected` set it fails the stream
 * at the end when the digest (or the size, when given) differs, so consumers never accept
 * a tampered blob as complete.
 */
export class DigestingStream extends Transform {
  private readonly hash;
  private bytes = 0;
  digest?: string;

  constructor(
    private readonly opts: { algorithm?: string; expected?: string; expectedSize?: number; what: string },
  ) {
    super();
    const algorithm = opts.expected ? parseDigest(opts.expected).algorithm : (opts.algorithm ?? 'sha256');
    this.hash = createHash(algorithm);
    this.algorithm = algorithm;
  }

  private readonly algorithm: string;

  get size(): number {
    return this.bytes;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    this.hash.update(chunk);
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    this.digest = `${this.algorithm}:${this.hash.digest('hex')}`;
    const { expected, expectedSize, what } = this.opts;
    if (expectedSize !== undefined && expectedSize >= 0 && this.bytes !== expectedSize) {
      cb(new UserError(`${what}: size mismatch (expected ${expectedSize} bytes, got ${this.bytes})`, 'digest-mismatch'));
      return;
    }
    if (expected && this.digest !== expected) {
      cb(new UserError(`${what}: digest mismatch (expected ${expected}, got ${this.digest})`, 'digest-mismatch'));
      return;
    }
    cb();
  }
}

/** Reads a whole (small) stream into memory, refusing more than `max` bytes. */
export async function readAll(stream: NodeJS.ReadableStream, max: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > max) {
      (stream as unknown as { destroy?: () => void }).destroy?.();
      throw new UserError(`${what} is larger than ${max} bytes`, 'too-large');
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}
