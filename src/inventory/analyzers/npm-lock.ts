/**
 * Node packages a source tree locks: package-lock.json v2/v3 ("packages" keyed by install
 * path). Directory scans only: in an image, what is installed (node_modules) is what counts.
 */
import type { Analyzer } from '../analyzer.js';
import type { Package } from '../package.js';
import { readJson } from '../streams.js';
import { npmPackage } from './npm.js';

export const npmLockAnalyzer: Analyzer = {
  name: 'npm-lock',
  sources: ['directory'],
  wants: (path) => path.endsWith('/package-lock.json') && !path.includes('/node_modules/'),
  async visit({ path, content }) {
    const lock = await readJson(content, 128 * 1024 * 1024);
    if (typeof lock?.packages !== 'object') throw new Error(`lockfileVersion ${lock?.lockfileVersion ?? '?'} without "packages" is not supported (npm ≥ 7 writes v2/v3)`);
    const packages: Package[] = [];
    for (const [key, entry] of Object.entries<any>(lock.packages)) {
      // "" is the project itself; links point at workspace folders listed on their own.
      if (!key || entry?.link || typeof entry?.version !== 'string') continue;
      const name = entry.name ?? key.slice(key.lastIndexOf('node_modules/') + 'node_modules/'.length);
      packages.push({ ...npmPackage(name, entry.version, path, entry.license ? [String(entry.license)] : undefined), analyzer: 'npm-lock' });
    }
    return { packages };
  },
};
