import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/*
 * The folder graph (../shared/ARCHITECTURE.md): imports flow one way, cli/central →
 * engines → policy/findings/util. Each row is a folder of src/ and the src/ folders its
 * files must not import; a new folder is one row. Relative specifiers are ambiguous about
 * depth (`../cli/x.js` from src/kube/netpol/ is src/kube/cli), so a config is generated for
 * each depth below src/, matching exactly `../` × depth + folder.
 */
const ENGINES = ['kube', 'vuln', 'image', 'inventory', 'runtime', 'sensor', 'engine-proxy', 'trust', 'hygiene', 'admission', 'respond', 'node', 'compliance', 'network', 'identity'];
/** Shells over the engines: the CLI, the composition root of subjects, the central server. */
export const SHELLS = ['cli', 'subjects', 'central'];
const CORE_FORBIDS = [...ENGINES, ...SHELLS, 'report'];
export const FOLDER_GRAPH = {
  // The policy engine, the Finding shape and utilities import no engine: engines register
  // their subjects with the policy engine, never the other way round.
  policy: CORE_FORBIDS,
  findings: CORE_FORBIDS,
  util: CORE_FORBIDS,
  // Formatters take Finding[]: findings, util and version only.
  report: [...CORE_FORBIDS.filter((f) => f !== 'report'), 'policy'],
  // Engines are libraries: they never import a shell.
  ...Object.fromEntries(ENGINES.map((e) => [e, SHELLS])),
  // The sensor feeds runtime detection; runtime never depends on the sensor.
  runtime: [...SHELLS, 'sensor'],
};
const MAX_DEPTH = 6;

const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function folderGraphConfigs() {
  const configs = [];
  for (const [folder, forbidden] of Object.entries(FOLDER_GRAPH)) {
    for (let depth = 1; depth <= MAX_DEPTH; depth++) {
      const regex = `^(\\.\\./){${depth}}(${forbidden.map(escape).join('|')})(/|$)`;
      const message = `src/${folder} must not import this folder (the folder graph in eslint.config.js; ../shared/ARCHITECTURE.md).`;
      configs.push({
        files: [`src/${folder}/${'*/'.repeat(depth - 1)}*.ts`],
        rules: {
          'no-restricted-imports': ['error', { patterns: [{ regex, message }] }],
          // import('…') too; esquery regexes cannot hold a slash, hence \x2F.
          'no-restricted-syntax': ['error', { selector: `ImportExpression[source.value=/${regex.replaceAll('/', '\\x2F')}/]`, message }],
        },
      });
    }
  }
  return configs;
}

export default tseslint.config(
  { ignores: ['dist/**', 'web/dist/**', 'node_modules/**', '**/*.mjs', '**/*.cjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'off',
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  ...folderGraphConfigs(),
);
