/** PHP packages installed by Composer: vendor/composer/installed.json (v1 array or v2 object). */
import type { Analyzer } from '../analyzer.js';
import type { Package } from '../package.js';
import { makePurl } from '../purl.js';
import { readJson } from '../streams.js';

export const phpAnalyzer: Analyzer = {
  name: 'php',
  wants: (path) => path.endsWith('/vendor/composer/installed.json'),
  async visit({ path, content }) {
    const json = await readJson(content, 64 * 1024 * 1024);
    const list: any[] = Array.isArray(json) ? json : Array.isArray(json?.packages) ? json.packages : [];
    const packages: Package[] = [];
    for (const p of list) {
      if (typeof p?.name !== 'string' || typeof p?.version !== 'string') continue;
      const [vendor, name] = p.name.includes('/') ? p.name.split('/', 2) : [undefined, p.name];
      // Composer keeps tags as written ("v1.2.3"); advisories use the bare number.
      const version = p.version.replace(/^v(?=\d)/, '');
      packages.push({
        ecosystem: 'Packagist',
        name: p.name,
        version,
        purl: makePurl('composer', vendor, name, version),
        licenses: Array.isArray(p.license) && p.license.length ? p.license.map(String) : undefined,
        location: { path },
        analyzer: 'php',
      });
    }
    return { packages };
  },
};
