/** .NET dependencies from *.deps.json, written next to every published .NET application. */
import type { Analyzer } from '../analyzer.js';
import type { Package } from '../package.js';
import { makePurl } from '../purl.js';
import { readJson } from '../streams.js';

export const dotnetAnalyzer: Analyzer = {
  name: 'dotnet',
  wants: (path) => path.endsWith('.deps.json'),
  async visit({ path, content }) {
    const json = await readJson(content, 64 * 1024 * 1024);
    const packages: Package[] = [];
    // "libraries": { "Newtonsoft.Json/13.0.1": { "type": "package", … } }; projects are the app itself.
    for (const [key, lib] of Object.entries<any>(json?.libraries ?? {})) {
      if (lib?.type !== 'package') continue;
      const slash = key.lastIndexOf('/');
      if (slash <= 0) continue;
      const name = key.slice(0, slash);
      const version = key.slice(slash + 1);
      packages.push({ ecosystem: 'NuGet', name, version, purl: makePurl('nuget', undefined, name, version), location: { path }, analyzer: 'dotnet' });
    }
    return { packages };
  },
};
