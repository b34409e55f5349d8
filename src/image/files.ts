/**
 * The file-level view analyzers use, shared by images (squashed layers) and plain
 * directories. Analyzers never see layer tars: they name what they want (`wants`) and get
 * each matching file's content as a stream, once, in layer order; only results for files
 * that survive into the final filesystem are kept.
 */
import { Readable } from 'node:stream';

export type FileType = 'file' | 'dir' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo';

export interface FileEntry {
  /** Absolute, normalized path inside the image root, e.g. /etc/passwd. */
  path: string;
  type: FileType;
  size: number;
  /** Permission bits and setuid/setgid/sticky (no file-type bits). */
  mode: number;
  uid: number;
  gid: number;
  /** Symlink target as stored, or the absolute path a hard link points to. */
  linkname?: string;
  /** Index of the layer this entry came from (0 = base); -1 for a plain directory. */
  layer: number;
}

export interface VisitedFile {
  path: string;
  entry: FileEntry;
  /** The file's bytes. Read it or not; the walker drains what is left. */
  content: Readable;
}

/** One analyzer's interest in files. R is what it keeps per file (small, please). */
export interface FileVisitor<R = unknown> {
  /** Stable name, used as the key of the results. */
  name: string;
  /** Cheap filter on path and header; called for every regular file. */
  wants(path: string, entry: FileEntry): boolean;
  /** Reads the content and returns what to keep, or undefined for nothing. */
  visit(file: VisitedFile): Promise<R | undefined>;
}

const wholeContents = new WeakMap<Readable, Buffer>();

/**
 * A content stream over bytes the walker already holds (small files are read once for all
 * their visitors), marked so that readers can take the bytes without streaming them.
 */
export function bufferedContent(bytes: Buffer): Readable {
  const stream = new Readable({ read() {} });
  stream.push(bytes);
  stream.push(null);
  wholeContents.set(stream, bytes);
  return stream;
}

/** All of a file's bytes when its content stream came from `bufferedContent`, else undefined. */
export function wholeContent(stream: Readable): Buffer | undefined {
  return wholeContents.get(stream);
}

/**
 * All of a content stream's bytes (at most `max`; more is dropped), taken at once when the
 * walker already holds them. Plain data/end events rather than an async iterator: cheaper on
 * images with tens of thousands of small files.
 */
export function collectContent(stream: Readable, max = Infinity): Promise<Buffer> {
  const whole = wholeContent(stream);
  if (whole) return Promise.resolve(whole);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    stream.on('data', (c: Buffer) => {
      total += c.length;
      if (total <= max) chunks.push(c);
    });
    stream.once('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
    stream.once('error', reject);
  });
}

export interface VisitResult<R = unknown> {
  path: string;
  layer: number;
  result: R;
}
