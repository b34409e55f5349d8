/**
 * The folder graph lint rule (eslint.config.js) is there and holds: virtual files linted
 * through ESLint's Node API with the repository's own config.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
// @ts-expect-error: the ESLint config is plain JavaScript, with no type declarations
import { FOLDER_GRAPH, SHELLS } from '../../eslint.config.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const eslint = new ESLint({ cwd: root });

/** The import specifiers the folder-graph rule reports in `code` placed at `file`. */
async function restricted(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: `${root}/${file}` });
  return result!.messages.filter((m) => m.ruleId === 'no-restricted-imports' || m.ruleId === 'no-restricted-syntax').map((m) => /'([^']+)'/.exec(m.message)?.[1] ?? m.message);
}

test('src/policy importing the Kubernetes engine is a lint error', async () => {
  const code = "import type { ManifestObject } from '../kube/manifests.js';\nexport type X = ManifestObject;\n";
  assert.deepEqual(await restricted('src/policy/graph-probe.ts', code), ['../kube/manifests.js']);
});

test('a dynamic import() is held to the same graph', async () => {
  const code = "export const load = () => import('../cli/main.js');\nexport const ok = () => import('../findings/finding.js');\n";
  assert.equal((await restricted('src/vuln/graph-probe.ts', code)).length, 1);
  assert.deepEqual(await restricted('src/vuln/feeds/graph-probe.ts', code), [], 'src/vuln/cli would be the engine\'s own folder');
});

test('the graph rows: what each folder may and may not import', async () => {
  const cases: [file: string, specifier: string, forbidden: boolean][] = [
    ['src/policy/p.ts', '../findings/finding.js', false],
    ['src/policy/p.ts', '../util/errors.js', false],
    ['src/policy/p.ts', '../subjects/index.js', true],
    ['src/findings/f.ts', '../vuln/model.js', true],
    ['src/util/u.ts', '../report/index.js', true],
    ['src/kube/k.ts', '../policy/evaluate.js', false],
    ['src/kube/k.ts', '../cli/main.js', true],
    ['src/kube/netpol/n.ts', '../../cli/main.js', true],
    ['src/kube/netpol/n.ts', '../workloads.js', false],
    ['src/vuln/feeds/v.ts', '../../central/server.js', true],
    ['src/image/i.ts', '../inventory/inventory.js', false],
    ['src/runtime/r.ts', '../sensor/reader.js', true],
    ['src/runtime/rules/r.ts', '../../sensor/reader.js', true],
    ['src/sensor/s.ts', '../runtime/rules/loader.js', false],
    ['src/report/r.ts', '../findings/finding.js', false],
    ['src/report/r.ts', '../version.js', false],
    ['src/report/r.ts', '../policy/types.js', true],
    ['src/report/r.ts', '../kube/manifests.js', true],
    ['src/cli/commands/c.ts', '../../kube/check.js', false],
  ];
  const wrong: string[] = [];
  for (const [file, spec, forbidden] of cases) {
    const got = await restricted(file, `export * from '${spec}';\n`);
    if ((got.length > 0) !== forbidden) wrong.push(`${file} → ${spec}: expected ${forbidden ? 'an error' : 'no error'}, got ${JSON.stringify(got)}`);
  }
  assert.deepEqual(wrong, []);
});

test('every folder of src/ is a shell or has a row in the folder graph', () => {
  const folders = readdirSync(`${root}/src`, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
  const missing = folders.filter((f) => !(f in FOLDER_GRAPH) && !(SHELLS as string[]).includes(f));
  assert.deepEqual(missing, [], 'add a row to FOLDER_GRAPH in eslint.config.js');
});
