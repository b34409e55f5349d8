/**
 * A container image's file index — path → type, size, mode, sha256 — built once per image
 * by the image walker (src/image) over the engine's export of the image (`docker-daemon:`
 * through the same endpoint), and kept in a bounded cache keyed by image id. Only files
 * that can run or be loaded (any x bit, or a shared-object name) are hashed; every path is
 * indexed. Hard links take their target's hash.
 */
import { createHash } from 'node:crypto';
import type { FileEntry, FileType, FileVisitor } from '../../image/files.js';
import { openImage } from '../../image/open.js';
import { walkImage } from '../../image/walk.js';

export interface ImageFile {
  type: FileType;
  size: number;
  /** Permission bits (with setuid/setgid/sticky). */
  mode: number;
  /** hex sha256, for executables and shared objects. */
  sha256?: string;
  /** Symlink target or hard-link target path. */
  linkname?: string;
}

export interface ImageFileIndex {
  /** The engine's image id (hex sha256 of the config). */
  imageId: string;
  files: Map<string, ImageFile>;
  /** Regular files (and hard links) with an x bit. */
  executables: number;
  warnings: string[];
}

const SHARED_OBJECT = /\.so(?:\.[0-9][0-9.]*)?$/;

/** Can it run or be loaded: any x bit, or a shared object's name. */
export function isExecutableCandidate(path: string, mode: number): boolean {
  return (mode & 0o111) !== 0 || SHARED_OBJECT.test(path);
}

export function isSharedObjectPath(path: string): boolean {
  return SHARED_OBJECT.test(path);
}

function hashVisitor(): FileVisitor<string> {
  return {
    name: 'drift-sha256',
    wants: (path: string, entry: FileEntry) => isExecutableCandidate(path, entry.mode),
    visit: async ({ content }) => {
      const h = createHash('sha256');
      for await (const chunk of content) h.update(chunk as Buffer);
      return h.digest('hex');
    },
  };
}

export interface LoadImageIndexOptions {
  /** Engine endpoint (DOCKER_HOST spelling) holding the image. */
  host: string;
  /** Where the export is spooled (default the system's temporary directory). */
  workDir?: string;
}

/** Reads the image `imageId` (hex or sha256:hex) from the engine and indexes its squashed filesystem. */
export async function loadImageIndex(imageId: string, opts: LoadImageIndexOptions): Promise<ImageFileIndex> {
  const hex = imageId.replace(/^sha256:/, '');
  const image = await openImage(`docker-daemon:${hex}`, { dockerHost: opts.host, workDir: opts.workDir });
  try {
    const walk = await walkImage(image, { visitors: [hashVisitor()], checkSymlinks: false });
    const hashes = new Map<string, string>();
    for (const r of walk.results.get('drift-sha256') ?? []) hashes.set(r.path, r.result as string);
    const files = new Map<string, ImageFile>();
    let executables = 0;
    for (const e of walk.files.entries()) {
      const target = e.type === 'hardlink' && e.linkname ? walk.files.get(e.linkname) : undefined;
      const sha256 = hashes.get(e.path) ?? (target && e.linkname ? hashes.get(e.linkname) : undefined);
      const mode = target ? target.mode : e.mode;
      if ((e.type === 'file' || e.type === 'hardlink') && (mode & 0o111) !== 0) executables++;
      files.set(e.path, {
        type: e.type,
        size: target ? target.size : e.size,
        mode,
        ...(sha256 ? { sha256 } : {}),
        ...(e.linkname ? { linkname: e.linkname } : {}),
      });
    }
    return { imageId: hex, files, executables, warnings: walk.warnings };
  } finally {
    await image.close();
  }
}

/**
 * The path `path` names in the image, following the image's symlinks (relative and
 * absolute, in directories and at the end) as exec does; `..` stops at the root. Undefined
 * on a loop (more than `maxHops` links).
 */
export function resolveInIndex(files: ReadonlyMap<string, ImageFile>, path: string, maxHops = 40): string | undefined {
  let rest = path.split('/').filter(Boolean);
  let done: string[] = [];
  let hops = 0;
  while (rest.length) {
    const part = rest.shift()!;
    if (part === '.') continue;
    if (part === '..') {
      done.pop();
      continue;
    }
    const here = `/${[...done, part].join('/')}`;
    const f = files.get(here);
    if (f?.type === 'symlink' && f.linkname !== undefined) {
      if (++hops > maxHops) return undefined;
      if (f.linkname.startsWith('/')) done = [];
      rest = [...f.linkname.split('/').filter(Boolean), ...rest];
      continue;
    }
    done.push(part);
  }
  return `/${done.join('/')}`;
}

/**
 * Image indexes by image id, at most `max` (least recently used evicted); concurrent
 * requests for one image share one load, and a failed load is not kept.
 */
export class ImageIndexCache {
  private readonly entries = new Map<string, Promise<ImageFileIndex>>();

  constructor(
    private readonly load: (imageId: string) => Promise<ImageFileIndex>,
    readonly max = 8,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  get(imageId: string): Promise<ImageFileIndex> {
    const key = imageId.replace(/^sha256:/, '');
    const hit = this.entries.get(key);
    if (hit) {
      this.entries.delete(key);
      this.entries.set(key, hit);
      return hit;
    }
    const p = this.load(key);
    this.entries.set(key, p);
    p.catch(() => {
      if (this.entries.get(key) === p) this.entries.delete(key);
    });
    while (this.entries.size > this.max) this.entries.delete(this.entries.keys().next().value as string);
    return p;
  }
}
