/**
 * Node packages a pnpm-lock.yaml pins, for source trees. The `packages` keys name each
 * resolved package; their spelling changed across lockfile versions:
 *   5.x  `/name/1.2.3` or `/@scope/name/1.2.3_peer@1.0.0` (peers after `_`)
 *   6.x  `/name@1.2.3(peer@1.0.0)`
 *   9.x  `name@1.2.3` (peers only in `snapshots`)
 * Links and workspace folders are not packages; tarball/git entries carry `name`/`version`.
 */
import { parse as parseYaml } from 'yaml';
import type { Analyzer } from '../analyzer.js';
import type { Package } from '../package.js';
import { readText } from '../streams.js';
import { npmPackage } from './npm.js';

export const pnpmLockAnalyzer: Analyzer = {
  name: 'pnpm-lock',
  sources: ['directory'],
  wants: (path) => path.endsWith('/pnpm-lock.yaml') && !path.includes('/node_modules/'),
  async visit({ path, content }) {
    const doc = parseYaml(await readText(content, 128 * 1024 * 1024), { maxAliasCount: 100 }) as Record<string, any> | null;
    if (!doc || typeof doc !== 'object' || doc.lockfileVersion === undefined) throw new Error('not a pnpm lockfile (no lockfileVersion)');
    const major = Number.parseFloat(String(doc.lockfileVersion));
    const seen = new Set<string>();
    const packages: Package[] = [];
    for (const [key, entry] of Object.entries<any>(doc.packages ?? {})) {
      const pin = pinOf(key, entry, major);
      if (!pin || seen.has(`${pin.name}@${pin.version}`)) continue;
      seen.add(`${pin.name}@${pin.version}`);
      packages.push({ ...npmPackage(pin.name, pin.version, path), analyzer: 'pnpm-lock' });
    }
    return { packages };
  },
};

export function pinOf(key: string, entry: { name?: unknown; version?: unknown } | null, major: number): { name: string; version: string } | undefined {
  // Tarball and git dependencies say who they are.
  if (typeof entry?.name === 'string' && typeof entry?.version === 'string') return { name: entry.name, version: entry.version };
  let k = key.startsWith('/') ? key.slice(1) : key;
  if (major < 6) {
    k = k.replace(/_.+$/, '');
    const slash = k.lastIndexOf('/');
    if (slash <= 0) return undefined;
    return { name: k.slice(0, slash), version: k.slice(slash + 1) };
  }
  k = k.replace(/\(.*\)$/, '');
  const at = k.lastIndexOf('@');
  if (at <= 0) return undefined;
  const version = k.slice(at + 1);
  // `link:` / `file:` / URLs are not registry versions.
  if (!/^\d/.test(version)) return undefined;
  return { name: k.slice(0, at), version };
}
