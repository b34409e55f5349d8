/** Builds a host root in a temp dir: files with contents, modes and owners (tests run as root in CI). */
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export interface FixtureFile {
  content?: string | Buffer;
  mode?: number;
  uid?: number;
  gid?: number;
  dir?: boolean;
}

export function makeRoot(files: Record<string, string | Buffer | FixtureFile>): { root: string; path(p: string): string; cleanup(): void } {
  const root = mkdtempSync(join(tmpdir(), 'gatehouse-node-'));
  for (const [p, spec] of Object.entries(files)) {
    const f: FixtureFile = typeof spec === 'string' || Buffer.isBuffer(spec) ? { content: spec } : spec;
    const full = join(root, p);
    if (f.dir) mkdirSync(full, { recursive: true });
    else {
      mkdirSync(dirname(full), { recursive: true });
      writeFileSync(full, f.content ?? '');
    }
    if (f.mode !== undefined) chmodSync(full, f.mode);
    if (f.uid !== undefined || f.gid !== undefined) chownSync(full, f.uid ?? 0, f.gid ?? 0);
  }
  return { root, path: (p) => join(root, p), cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

/** /proc/PID/cmdline content for an argv. */
export const cmdline = (...argv: string[]) => Buffer.from(`${argv.join('\0')}\0`);

export const isRoot = process.getuid?.() === 0;
