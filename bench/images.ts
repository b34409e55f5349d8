/** Generated images shared by the benchmarks. */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { OciLayoutWriter, type TarEntrySpec } from '../test/fixtures/oci-builder.js';
import { cachedPath } from '../test/helpers/components.js';

/** An image of 2,000 npm packages (each with a few source files) over the real artefacts. */
export async function buildNodeImage(dir: string): Promise<string> {
  const entries: TarEntrySpec[] = [{ name: 'app/', type: 'directory' }, { name: 'app/node_modules/', type: 'directory' }];
  const filler = 'module.exports = function () { return 42; };\n'.repeat(60);
  for (let i = 0; i < 2000; i++) {
    const name = i % 5 === 0 ? `@scope${i % 17}/pkg-${i}` : `pkg-${i}`;
    const base = `app/node_modules/${name}`;
    entries.push({ name: `${base}/package.json`, content: JSON.stringify({ name, version: `1.${i % 50}.${i % 7}`, license: 'MIT', main: 'index.js', description: 'x'.repeat(400) }) });
    for (const f of ['index.js', 'lib/a.js', 'lib/b.js', 'README.md']) entries.push({ name: `${base}/${f}`, content: filler });
  }
  const layers: { entries?: TarEntrySpec[]; tarFile?: string }[] = [{ entries }];
  const artefacts = cachedPath('inventory', 'root');
  if (existsSync(artefacts)) {
    const tar = join(dir, 'artefacts.tar');
    spawnSync('tar', ['-C', artefacts, '-cf', tar, '.'], { stdio: 'inherit' });
    layers.push({ tarFile: tar });
  }
  const out = new OciLayoutWriter(join(dir, 'oci'));
  out.tag(await out.image({ layers }), 'node2000');
  return `oci:${join(dir, 'oci')}:node2000`;
}

