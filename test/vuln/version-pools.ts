/**
 * Real version strings for differential tests: from the shared advisories, this machine's
 * Debian packages and the reference vectors. Text-scanned, not YAML-parsed, to stay fast.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { readVectors, vulndataDir } from './helpers.js';
import { rng } from '../helpers/random.js';
export { rng };


export function sample<T>(items: readonly T[], n: number, rand: () => number): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy.slice(0, n);
}

export function vectorVersions(file: string): string[] {
  return readVectors(file).flatMap((v) => [v.a, v.b]);
}

/** Versions named in the PyPA advisories: range events and explicit version lists. */
export function pypaVersions(): string[] {
  const root = join(vulndataDir, 'pypa', 'vulns');
  const out = new Set<string>();
  for (const dir of readdirSync(root).filter((d) => !d.startsWith('.'))) {
    for (const f of readdirSync(join(root, dir))) {
      let inVersions = -1;
      for (const line of readFileSync(join(root, dir, f), 'utf8').split('\n')) {
        const indent = line.length - line.trimStart().length;
        const ev = /^\s*-?\s*(?:introduced|fixed|last_affected|limit):\s*"?([^"\s]+)"?\s*$/.exec(line);
        if (ev) out.add(ev[1]!);
        if (/^\s*versions:\s*$/.test(line)) {
          inVersions = indent;
          continue;
        }
        if (inVersions >= 0) {
          const item = /^\s*-\s+"?([^"]+?)"?\s*$/.exec(line);
          if (item && indent >= inVersions) out.add(item[1]!);
          else inVersions = -1;
        }
      }
    }
  }
  for (const v of out) if (/^[0-9a-f]{40}$/.test(v)) out.delete(v); // GIT range commits
  return [...out];
}

/** Versions named in the Go vulndb's OSV records (Go module versions without "v"). */
export function goVulndbVersions(): string[] {
  const root = join(vulndataDir, 'go-vulndb', 'data', 'osv');
  const out = new Set<string>();
  for (const f of readdirSync(root)) {
    if (!f.endsWith('.json')) continue;
    const rec = JSON.parse(readFileSync(join(root, f), 'utf8')) as {
      affected?: { ranges?: { events?: Record<string, string>[] }[] }[];
    };
    for (const a of rec.affected ?? []) for (const r of a.ranges ?? []) for (const e of r.events ?? []) for (const v of Object.values(e)) out.add(v);
  }
  return [...out];
}

/** Fixed versions named in the Alpine secdb YAML files (all branches). */
export function alpineSecdbVersions(): string[] {
  const root = join(vulndataDir, 'alpine-secdb');
  const out = new Set<string>();
  for (const dir of readdirSync(root).filter((d) => d.startsWith('v'))) {
    for (const f of readdirSync(join(root, dir))) {
      for (const m of readFileSync(join(root, dir, f), 'utf8').matchAll(/^ {8}"?([^"\s:]+)"?:\s*$/gm)) out.add(m[1]!);
    }
  }
  return [...out];
}

/** Versions of the Debian packages installed on this machine. */
export function installedDebianVersions(): string[] {
  const r = spawnSync('dpkg-query', ['-W', '-f', '${Version}\n'], { encoding: 'utf8' });
  if (r.status !== 0) return [];
  return [...new Set(r.stdout.split('\n').filter(Boolean))];
}
