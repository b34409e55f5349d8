/**
 * Reading a changed file straight from the container's writable layer on this host (the
 * overlay driver's UpperDir, which holds exactly what the container added or changed)
 * instead of the engine's archive endpoint (about 0.3 s per file on podman). Everything in
 * the layer is the container's to shape, so nothing in it is followed: every directory on
 * the way must be a real directory (no symlink), the file is opened with O_NOFOLLOW, and
 * the opened descriptor must still be that path inside the layer (/proc/self/fd) — a swap
 * racing the checks is refused. Anything unexpected answers undefined and the caller falls
 * back to the engine.
 */
import { createHash } from 'node:crypto';
import { constants, createReadStream } from 'node:fs';
import { lstat, open, readlink, realpath } from 'node:fs/promises';
import { posix } from 'node:path';
import { magicOf, type ContainerFile, type ReadFileOptions } from './archive.js';
import type { ContainerInspect } from './engine.js';

/** The container's writable overlay layer, when the engine says it has one on this host. */
export function upperDirOf(inspect: ContainerInspect): string | undefined {
  const gd = inspect.GraphDriver as { Name?: string; Data?: Record<string, string> | null } | undefined;
  const upper = gd?.Name === 'overlay' || gd?.Name === 'overlay2' ? gd.Data?.UpperDir : undefined;
  return typeof upper === 'string' && posix.isAbsolute(upper) ? posix.normalize(upper) : undefined;
}

export async function readUpperFile(upperDir: string, path: string, opts: ReadFileOptions): Promise<ContainerFile | undefined> {
  if (!path.startsWith('/')) return undefined;
  const rel = posix.normalize(path).replace(/^\/+/, '');
  if (rel === '' || rel.split('/').some((c) => c === '..' || c === '.')) return undefined;
  const parts = rel.split('/');
  try {
    // The layer's own path may go through host symlinks (/var/lib/containers → …): compare real paths.
    const upper = await realpath(upperDir);
    let at = upper;
    for (const dir of parts.slice(0, -1)) {
      at = `${at}/${dir}`;
      const st = await lstat(at);
      if (!st.isDirectory()) return undefined;
    }
    const full = `${upper}/${rel}`;
    const st = await lstat(full);
    const mode = st.mode & 0o7777;
    if (st.isSymbolicLink()) return { type: 'symlink', size: 0, mode, linkTarget: await readlink(full) };
    if (st.isDirectory()) return { type: 'dir', size: 0, mode };
    if (!st.isFile()) return undefined; // whiteouts (0/0 char devices), fifos, devices: ask the engine
    const size = st.size;
    if (size > opts.hashLimit) return { type: 'file', size, mode, note: `larger than the hash limit (${opts.hashLimit} bytes): not read` };
    const fh = await open(full, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    try {
      const fst = await fh.stat();
      if (!fst.isFile() || fst.ino !== st.ino || fst.dev !== st.dev) return undefined;
      if ((await readlink(`/proc/self/fd/${fh.fd}`)) !== full) return undefined;
      const hash = createHash('sha256');
      const keep = fst.size <= opts.copyLimit ? ([] as Buffer[]) : undefined;
      let head: Buffer | undefined;
      let read = 0;
      for await (const chunk of createReadStream('', { fd: fh.fd, autoClose: false, start: 0, end: Math.max(0, opts.hashLimit - 1) }) as AsyncIterable<Buffer>) {
        hash.update(chunk);
        keep?.push(chunk);
        head ??= chunk.subarray(0, 4);
        read += chunk.length;
      }
      if (read > opts.hashLimit) return { type: 'file', size: read, mode, note: `grew past the hash limit while read` };
      const content = keep ? Buffer.concat(keep) : undefined;
      if (content && content.length > opts.copyLimit) return { type: 'file', size: read, mode, sha256: hash.digest('hex'), magic: magicOf(head) };
      return { type: 'file', size: read, mode, sha256: hash.digest('hex'), ...(content ? { content } : {}), magic: magicOf(head) };
    } finally {
      await fh.close();
    }
  } catch {
    return undefined;
  }
}
