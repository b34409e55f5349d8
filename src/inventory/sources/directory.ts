/**
 * Walks a plain directory (a source tree or an unpacked root filesystem) with the same
 * visitor contract and result shape as the image walker. Symlinks are never followed, so
 * nothing outside DIR is ever read; special files are skipped.
 */
import { createReadStream, lstatSync, readlinkSync } from 'node:fs';
import { lstat, opendir, realpath } from 'node:fs/promises';
import { join } from 'node:path';
import type { FileEntry, FileVisitor, VisitResult } from '../../image/files.js';
import { UserError } from '../../util/errors.js';

export interface DirectoryWalkResult {
  /** Visitor name → one result per file it kept something for. */
  results: Map<string, VisitResult[]>;
  /** Regular files seen. */
  files: number;
  /** Directories or files that could not be read (permission, vanished…). */
  errors: Array<{ path: string; message: string }>;
  /** The real directory walked (symlinks in DIR itself resolved). */
  root: string;
}

export interface DirectoryWalkOptions {
  /** Files visited concurrently (default 8). */
  concurrency?: number;
  /** Called now and then with the number of files seen so far. */
  onProgress?: (files: number) => void;
}

export async function walkDirectory(dir: string, visitors: FileVisitor[], opts: DirectoryWalkOptions = {}): Promise<DirectoryWalkResult> {
  let root: string;
  try {
    root = await realpath(dir);
    if (!(await lstat(root)).isDirectory()) throw new UserError(`${dir} is not a directory`, 'bad-input');
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(`cannot read directory ${dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, 'bad-input');
  }
  const results = new Map<string, VisitResult[]>(visitors.map((v) => [v.name, []]));
  const errors: DirectoryWalkResult['errors'] = [];
  const limit = opts.concurrency ?? 8;
  const running = new Set<Promise<void>>();
  let files = 0;

  const visitFile = async (abs: string, rel: string, entry: FileEntry, wanting: FileVisitor[]) => {
    for (const v of wanting) {
      const content = createReadStream(abs);
      // An unreadable file surfaces as a stream error: the visitor sees it as a read failure.
      content.on('error', () => {});
      try {
        const result = await v.visit({ path: rel, entry, content });
        if (result !== undefined) results.get(v.name)!.push({ path: rel, layer: -1, result });
      } catch (e) {
        errors.push({ path: rel, message: `${v.name}: ${(e as Error).message}` });
      } finally {
        content.destroy();
      }
    }
  };

  const walk = async (abs: string, rel: string): Promise<void> => {
    let handle;
    try {
      handle = await opendir(abs);
    } catch (e) {
      errors.push({ path: rel || '/', message: `cannot read directory: ${(e as NodeJS.ErrnoException).code ?? e}` });
      return;
    }
    for await (const d of handle) {
      const childAbs = join(abs, d.name);
      const childRel = `${rel}/${d.name}`;
      if (d.isDirectory()) {
        await walk(childAbs, childRel);
        continue;
      }
      if (!d.isFile()) continue;
      files++;
      if (opts.onProgress && files % 500 === 0) opts.onProgress(files);
      let st;
      try {
        st = await lstat(childAbs);
      } catch {
        continue;
      }
      const entry: FileEntry = { path: childRel, type: 'file', size: st.size, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, layer: -1 };
      const wanting = visitors.filter((v) => v.wants(childRel, entry));
      if (!wanting.length) continue;
      const p = visitFile(childAbs, childRel, entry, wanting).finally(() => running.delete(p));
      running.add(p);
      if (running.size >= limit) await Promise.race(running);
    }
  };

  await walk(root, '');
  await Promise.all(running);
  // Results in path order, independent of completion order.
  for (const list of results.values()) list.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  opts.onProgress?.(files);
  return { results, files, errors, root };
}

/**
 * Where `path` (absolute inside the scanned root) leads once symlinks are followed, with
 * absolute link targets taken as relative to the root (as in an unpacked root filesystem)
 * and never leaving it; undefined on a loop, an escape or an unreadable component.
 */
export function resolveInDirectory(root: string, path: string, maxHops = 40): string | undefined {
  const pending = path.split('/').filter((p) => p && p !== '.');
  const resolved: string[] = [];
  let hops = 0;
  while (pending.length) {
    const part = pending.shift()!;
    if (part === '..') {
      if (!resolved.length) return undefined;
      resolved.pop();
      continue;
    }
    resolved.push(part);
    let target: string;
    try {
      if (!lstatSync(join(root, ...resolved)).isSymbolicLink()) continue;
      target = readlinkSync(join(root, ...resolved));
    } catch {
      return undefined;
    }
    if (++hops > maxHops) return undefined;
    resolved.pop();
    if (target.startsWith('/')) resolved.length = 0;
    pending.unshift(...target.split('/').filter((p) => p && p !== '.'));
  }
  return `/${resolved.join('/')}`;
}
