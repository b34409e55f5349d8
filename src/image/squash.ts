/**
 * The squashed filesystem of an image: layers applied in order (whiteouts, opaque
 * directories, replacements), remembering the layer each entry came from. Holds metadata
 * only, never file contents. Paths resolve inside the image root the way a container
 * runtime extracts layers: symlinks in parent directories are followed within the root,
 * and a lookup that loops or leaves the root is an error.
 */
import { posix } from 'node:path';
import { UserError } from '../util/errors.js';
import type { FileEntry } from './files.js';

interface Node {
  entry: FileEntry;
  children?: Map<string, Node>;
}

/**
 * Normalizes a tar member name to /a/b, rejecting names that leave the root. A leading `/`
 * is read relative to the image root, as GNU tar, containerd and Trivy do (umoci insert
 * names the root entry itself "/"); only `..` climbing above the root is refused.
 */
export function normalizeEntryPath(name: string, what: string): string {
  const out: string[] = [];
  for (const part of name.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length === 0) throw new UserError(`${what}: entry "${name}" escapes the image root`, 'path-traversal');
      out.pop();
    } else out.push(part);
  }
  return `/${out.join('/')}`;
}

function dirEntry(path: string, layer: number): FileEntry {
  return { path, type: 'dir', size: 0, mode: 0o755, uid: 0, gid: 0, layer };
}

export class SquashedFs {
  private readonly root: Node = { entry: dirEntry('/', -1), children: new Map() };
  private count = 0;
  readonly warnings: string[] = [];

  constructor(private readonly maxHops = 40) {}

  get size(): number {
    return this.count;
  }

  /** The entry at exactly this path (no symlink following), if present. */
  get(path: string): FileEntry | undefined {
    return this.node(path)?.entry;
  }

  private node(path: string): Node | undefined {
    let cur: Node | undefined = this.root;
    for (const part of path.split('/')) {
      if (!part) continue;
      cur = cur?.children?.get(part);
      if (!cur) return undefined;
    }
    return cur;
  }

  /** All entries, depth-first in byte order of names (like `find | sort`). */
  *entries(): Generator<FileEntry> {
    const stack: Node[] = [this.root];
    while (stack.length) {
      const n = stack.pop()!;
      if (n !== this.root) yield n.entry;
      if (n.children) {
        const names = [...n.children.keys()].sort((a, b) => (a < b ? 1 : a > b ? -1 : 0));
        for (const name of names) stack.push(n.children.get(name)!);
      }
    }
  }

  /**
   * Resolves `path` inside the root, following symlinks in every component (and in the
   * last one unless followLast is false). Returns the real path, existing or not.
   */
  resolvePath(path: string, followLast = true): string {
    const hops = { n: 0 };
    return this.resolveIn(path, followLast, hops, path);
  }

  private resolveIn(path: string, followLast: boolean, hops: { n: number }, original: string): string {
    const parts = path.split('/').filter((p) => p && p !== '.');
    const resolved: string[] = [];
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i]!;
      if (part === '..') {
        if (resolved.length === 0) throw new UserError(`path "${original}" leads outside the image root`, 'symlink-escape');
        resolved.pop();
        continue;
      }
      resolved.push(part);
      const isLast = i === parts.length - 1;
      if (isLast && !followLast) break;
      const n = this.node(`/${resolved.join('/')}`);
      if (n?.entry.type !== 'symlink') continue;
      if (++hops.n > this.maxHops) throw new UserError(`symlink loop while resolving "${original}" (at /${resolved.join('/')})`, 'symlink-loop');
      const target = n.entry.linkname ?? '';
      const linkDir = `/${resolved.slice(0, -1).join('/')}`;
      const base = target.startsWith('/') ? target : posix.join(linkDir, target);
      if (!target.startsWith('/') && escapesRoot(linkDir, target)) {
        throw new UserError(`symlink /${resolved.join('/')} -> ${target} points outside the image root`, 'symlink-escape');
      }
      const next = this.resolveIn(base, true, hops, original);
      resolved.length = 0;
      resolved.push(...next.split('/').filter(Boolean));
    }
    return `/${resolved.join('/')}`;
  }

  /** Follows symlinks and returns the entry a path finally designates. */
  resolve(path: string): FileEntry | undefined {
    return this.get(this.resolvePath(path));
  }

  /** The directory node for `dir` (resolved), creating implicit directories as tar does. */
  private ensureDir(dir: string, layer: number): { node: Node; path: string } {
    const real = this.resolvePath(dir);
    let cur = this.root;
    let path = '';
    for (const part of real.split('/')) {
      if (!part) continue;
      path += `/${part}`;
      let next = cur.children!.get(part);
      if (!next || next.entry.type !== 'dir') {
        if (next) this.count -= this.subtreeSize(next);
        next = { entry: dirEntry(path, layer), children: new Map() };
        cur.children!.set(part, next);
        this.count++;
      }
      cur = next;
    }
    return { node: cur, path: real };
  }

  private subtreeSize(n: Node): number {
    let total = 1;
    if (n.children) for (const c of n.children.values()) total += this.subtreeSize(c);
    return total;
  }

  /** Adds or replaces an entry from `entry.layer` (entry.path already normalized). */
  put(entry: FileEntry): FileEntry {
    const parent = this.ensureDir(posix.dirname(entry.path), entry.layer);
    const name = posix.basename(entry.path);
    const path = parent.path === '/' ? `/${name}` : `${parent.path}/${name}`;
    const stored: FileEntry = { ...entry, path };
    const existing = parent.node.children!.get(name);
    if (existing && existing.entry.type === 'dir' && stored.type === 'dir') {
      existing.entry = stored; // a directory re-declared by a later layer keeps its children
      return stored;
    }
    if (existing) this.count -= this.subtreeSize(existing);
    parent.node.children!.set(name, stored.type === 'dir' ? { entry: stored, children: new Map() } : { entry: stored });
    this.count++;
    return stored;
  }

  /** `.wh.NAME`: removes NAME (and everything below it) from lower layers. */
  whiteout(path: string): void {
    const parent = this.node(this.resolvePath(posix.dirname(path)));
    const name = posix.basename(path);
    const victim = parent?.children?.get(name);
    if (!victim) return;
    this.count -= this.subtreeSize(victim);
    parent!.children!.delete(name);
  }

  /** `.wh..wh..opq`: hides everything below `dir` that lower layers put there. */
  opaque(dir: string, layer: number): void {
    const { node } = this.ensureDir(dir, layer);
    for (const [name, child] of node.children!) {
      if (child.entry.layer < layer) {
        this.count -= this.subtreeSize(child);
        node.children!.delete(name);
      }
    }
  }

  /** Checks every symlink resolves without looping or leaving the root. */
  validateSymlinks(): void {
    for (const e of this.entries()) {
      if (e.type === 'symlink') this.resolvePath(e.path);
    }
  }
}

/** True when a relative link target climbs above the root from linkDir. */
function escapesRoot(linkDir: string, target: string): boolean {
  let depth = linkDir.split('/').filter(Boolean).length;
  for (const part of target.split('/')) {
    if (part === '..') {
      if (--depth < 0) return true;
    } else if (part && part !== '.') depth++;
  }
  return false;
}
