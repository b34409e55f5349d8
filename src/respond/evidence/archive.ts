/**
 * One file read out of a container through `GET /containers/{id}/archive?path=` (a tar
 * stream): its first entry is hashed (sha256) and, when small enough, kept in memory for
 * the bundle. Directories and links are not followed (their tar would hold a whole tree);
 * the stream is cut as soon as the first entry says what it is. Names inside the tar are
 * never used as paths.
 */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { extract as tarExtract } from 'tar-stream';
import { describeError } from '../../util/errors.js';
import type { EngineApi } from './engine.js';
import { readUpperFile } from './upperdir.js';

export interface ReadFileOptions {
  /** Files up to this size are kept (copied into the bundle); bigger ones are only hashed. */
  copyLimit: number;
  /** Files bigger than this are neither copied nor hashed (size and mode only). */
  hashLimit: number;
}

export interface ContainerFile {
  type: 'file' | 'dir' | 'symlink' | 'other';
  size: number;
  /** Permission bits (with setuid/setgid/sticky). */
  mode: number;
  linkTarget?: string;
  /** hex sha256 of the content (regular files within hashLimit). */
  sha256?: string;
  /** The content, when size ≤ copyLimit. */
  content?: Buffer;
  /** Why there is no hash, when there is none for a regular file. */
  note?: string;
  /** ELF, shebang script or other (first bytes). */
  magic?: 'elf' | 'script' | 'other';
}

/**
 * A changed file of the container: from its writable layer on this host when `upperDir` is
 * given and the file reads there safely (fast), else through the engine's archive endpoint.
 */
export async function readChangedFile(engine: EngineApi, id: string, path: string, opts: ReadFileOptions, upperDir?: string): Promise<ContainerFile | undefined> {
  if (upperDir) {
    const local = await readUpperFile(upperDir, path, opts);
    if (local) return local;
  }
  return readContainerFile(engine, id, path, opts);
}

export async function readContainerFile(engine: EngineApi, id: string, path: string, opts: ReadFileOptions): Promise<ContainerFile | undefined> {
  let res;
  try {
    res = await engine.stream(`/containers/${encodeURIComponent(id)}/archive?path=${encodeURIComponent(path)}`);
  } catch (e) {
    if ((e as { statusCode?: number }).statusCode === 404) return undefined;
    throw e;
  }
  const body = res.body as unknown as Readable;
  const extract = tarExtract();
  body.on('error', (e) => extract.destroy(e));
  body.pipe(extract);
  try {
    for await (const entry of extract) {
      const h = entry.header;
      const mode = (h.mode ?? 0) & 0o7777;
      if (h.type === 'directory') return { type: 'dir', size: 0, mode };
      if (h.type === 'symlink' || h.type === 'link') return { type: 'symlink', size: 0, mode, linkTarget: h.linkname ?? undefined };
      if (h.type !== 'file' && h.type !== 'contiguous-file') return { type: 'other', size: 0, mode };
      const size = h.size ?? 0;
      if (size > opts.hashLimit) return { type: 'file', size, mode, note: `larger than the hash limit (${opts.hashLimit} bytes): not read` };
      const hash = createHash('sha256');
      const keep = size <= opts.copyLimit ? ([] as Buffer[]) : undefined;
      let head: Buffer | undefined;
      for await (const chunk of entry as AsyncIterable<Buffer>) {
        hash.update(chunk);
        keep?.push(chunk);
        head ??= chunk.subarray(0, 4);
      }
      return {
        type: 'file',
        size,
        mode,
        sha256: hash.digest('hex'),
        ...(keep ? { content: Buffer.concat(keep) } : {}),
        magic: magicOf(head),
      };
    }
    return undefined;
  } catch (e) {
    return { type: 'other', size: 0, mode: 0, note: `archive read failed: ${describeError(e)}` };
  } finally {
    body.unpipe(extract);
    body.destroy();
    extract.destroy();
  }
}

export function magicOf(head: Buffer | undefined): ContainerFile['magic'] {
  if (!head || head.length < 2) return 'other';
  if (head.length >= 4 && head[0] === 0x7f && head[1] === 0x45 && head[2] === 0x4c && head[3] === 0x46) return 'elf';
  if (head[0] === 0x23 && head[1] === 0x21) return 'script';
  return 'other';
}
