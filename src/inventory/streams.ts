/**
 * Bounded reads of a file's content stream: analyzers keep only small things. Streams are
 * never destroyed here: the walker owns them and drains what a visitor leaves (destroying
 * an image walker's tar entry would stall the layer). Entries from the image walker are
 * tar-stream (streamx) streams, so only the API both kinds share is used: data/end/error
 * events, pause and resume.
 */
import type { Readable } from 'node:stream';
import { wholeContent } from '../image/files.js';

export class TooLargeError extends Error {}

/** Pulls chunks from a stream one at a time, with backpressure; stop() detaches. */
export class ChunkReader {
  private readonly queue: Buffer[] = [];
  private done = false;
  private error: Error | undefined;
  private wake: (() => void) | undefined;
  private readonly onData = (c: Buffer | string) => {
    this.queue.push(typeof c === 'string' ? Buffer.from(c) : c);
    if (this.queue.length >= 4) this.stream.pause();
    this.notify();
  };
  private readonly onEnd = () => {
    this.done = true;
    this.notify();
  };
  private readonly onError = (e: Error) => {
    this.error = e;
    this.done = true;
    this.notify();
  };

  constructor(private readonly stream: Readable) {
    stream.on('data', this.onData);
    stream.on('end', this.onEnd);
    stream.on('error', this.onError);
  }

  private notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  /** The next chunk, or null at the end. */
  async next(): Promise<Buffer | null> {
    while (true) {
      const c = this.queue.shift();
      if (c) {
        if (this.queue.length < 2) this.stream.resume();
        return c;
      }
      if (this.error) throw this.error;
      if (this.done) return null;
      await new Promise<void>((r) => (this.wake = r));
    }
  }

  /** Stops listening; what is left stays for the stream's owner to drain. */
  stop(): void {
    this.stream.off('data', this.onData);
    this.stream.off('end', this.onEnd);
    this.stream.off('error', this.onError);
    this.queue.length = 0;
    this.done = true;
  }
}

/** Reads the whole stream, refusing past `limit` bytes. */
export async function readLimited(stream: Readable, limit: number): Promise<Buffer> {
  const whole = wholeContent(stream);
  if (whole) {
    if (whole.length > limit) throw new TooLargeError(`larger than ${Math.round(limit / 1024 / 1024)} MiB, skipped`);
    return whole;
  }
  const chunks: Buffer[] = [];
  let total = 0;
  const r = new ChunkReader(stream);
  try {
    for (let c = await r.next(); c; c = await r.next()) {
      total += c.length;
      if (total > limit) throw new TooLargeError(`larger than ${Math.round(limit / 1024 / 1024)} MiB, skipped`);
      chunks.push(c);
    }
  } finally {
    r.stop();
  }
  return Buffer.concat(chunks, total);
}

export async function readText(stream: Readable, limit: number): Promise<string> {
  return (await readLimited(stream, limit)).toString('utf8');
}

/**
 * Forward-only random access over a stream: read(offset, len) for non-decreasing offsets,
 * without holding more than the requested window. Used for ELF files, where the useful
 * parts are the headers at the start and one small region further on.
 */
export class StreamCursor {
  private readonly reader: ChunkReader;
  private buf: Buffer = Buffer.alloc(0);
  private bufStart = 0;
  private ended = false;
  /** Keep everything read so far (for a caller that may need the whole file after all). */
  retain = false;

  constructor(stream: Readable) {
    this.reader = new ChunkReader(stream);
  }

  /** Bytes [offset, offset+len), or fewer if the stream ends first. */
  async read(offset: number, len: number): Promise<Buffer> {
    if (offset < this.bufStart) throw new Error('StreamCursor reads must not go backwards');
    let end = this.bufStart + this.buf.length;
    if (end < offset + len && !this.ended) {
      // Chunks are gathered and joined once: joining per chunk is quadratic when retaining.
      let parts: Buffer[] = this.buf.length ? [this.buf] : [];
      let partsStart = this.bufStart;
      while (end < offset + len) {
        const next = await this.reader.next();
        if (!next) {
          this.ended = true;
          break;
        }
        if (!this.retain && end + next.length <= offset) {
          // Wholly before the requested offset: skipping must not accumulate memory.
          parts = [];
          partsStart = end + next.length;
        } else parts.push(next);
        end += next.length;
      }
      this.buf = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
      this.bufStart = partsStart;
      if (!this.retain) {
        const drop = Math.max(0, Math.min(offset - this.bufStart, this.buf.length));
        this.buf = this.buf.subarray(drop);
        this.bufStart += drop;
      }
    }
    const from = offset - this.bufStart;
    return this.buf.subarray(Math.max(0, from), Math.max(0, from + len));
  }

  /** Stops reading; the rest of the stream is left for the walker to drain. */
  close(): void {
    this.ended = true;
    this.buf = Buffer.alloc(0);
    this.reader.stop();
  }
}

/** Reads a bounded JSON document; a parse failure says "invalid JSON" (size errors pass as they are). */
export async function readJson(stream: Readable, maxBytes: number): Promise<any> {
  const text = await readText(stream, maxBytes);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`invalid JSON: ${(e as Error).message}`);
  }
}
