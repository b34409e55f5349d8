/** Shared paths and loaders for the vulnerability engine's tests. */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const sharedDir = join(repoRoot, '..', 'shared');
export const vectorsDir = join(sharedDir, 'reference', 'version-vectors');
export const vulndataDir = join(sharedDir, 'vulndata');

export interface Vector {
  a: string;
  op: '<' | '=' | '>';
  b: string;
  line: number;
}

/** Reads "A op B" lines of a version-vectors file; blank and comment lines are skipped. */
export function readVectors(file: string): Vector[] {
  const out: Vector[] = [];
  readFileSync(join(vectorsDir, file), 'utf8')
    .split('\n')
    .forEach((raw, i) => {
      const line = raw.trim();
      if (line === '' || line.startsWith('#') || line.startsWith('//')) return;
      const m = /^(\S+) ([<=>]) (\S+)$/.exec(line);
      if (!m) throw new Error(`${file}:${i + 1}: unparsable vector line "${line}"`);
      out.push({ a: m[1]!, op: m[2] as Vector['op'], b: m[3]!, line: i + 1 });
    });
  return out;
}

export const opOf = (n: number): '<' | '=' | '>' => (n < 0 ? '<' : n > 0 ? '>' : '=');
export const flip = (op: '<' | '=' | '>'): '<' | '=' | '>' => (op === '<' ? '>' : op === '>' ? '<' : '=');
