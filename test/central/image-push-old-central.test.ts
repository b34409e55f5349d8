/**
 * A CLI that pushes by address, against a Central from before pushes by address (the real one:
 * this repository at the commit before them, run from a git worktree). Such a Central reads
 * only application/json bodies and would have stored the address as the component list; the
 * addressed push goes with its own content type, which it refuses with 415, and the CLI then
 * sends the push whole: the old Central stores the real list.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ADDRESSED_PUSH_TYPE } from '../../src/central/client/ingest-types.js';
import { ADMIN_TOKEN, startCentralCli, type CentralProcess } from '../bus/helpers.js';
import { runCli } from '../helpers/cli.js';
import { cacheHas, missing } from '../helpers/components.js';
import { OCI_DIR } from '../fixtures/test-images.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
/** The last commit before pushes by address (6fc03a1 added them). */
const BEFORE_ADDRESSED_PUSH = 'ae6d659d8d99cac0e3b7705c1810569c5b73b87f';
const git = (...args: string[]) => spawnSync('git', ['-C', root, ...args], { encoding: 'utf8' });
const hasCommit = existsSync(join(root, '.git')) && git('cat-file', '-e', `${BEFORE_ADDRESSED_PUSH}^{commit}`).status === 0;

const work = mkdtempSync(join(tmpdir(), 'gatehouse-old-central-'));
const tree = join(work, 'tree');
after(() => {
  git('worktree', 'remove', '--force', tree);
  rmSync(work, { recursive: true, force: true });
});

test('a Central from before pushes by address refuses the addressed push (415) and gets it whole from the CLI', {
  skip: missing(hasCommit, `a git checkout holding commit ${BEFORE_ADDRESSED_PUSH}`) || missing(cacheHas('oci', 'index.json'), 'test images (.ci/setup.d/40-test-images.sh)'),
  timeout: 300_000,
}, async () => {
  const add = git('worktree', 'add', '--detach', tree, BEFORE_ADDRESSED_PUSH);
  assert.equal(add.status, 0, add.stderr);
  symlinkSync(join(root, 'node_modules'), join(tree, 'node_modules'));
  let old: CentralProcess | undefined;
  try {
    old = await startCentralCli([], {}, [], join(tree, 'bin', 'gatehouse.mjs'));
    // What the client relies on: the old route has no parser for the addressed push's type.
    const refused = await fetch(`${old.url}/api/v1/ingest/images`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': ADDRESSED_PUSH_TYPE }, body: '{}' });
    assert.equal(refused.status, 415, await refused.text());

    const r = await runCli(['image', 'sbom', `oci:${OCI_DIR}:debian`, '--format', 'cyclonedx', '--output', join(work, 'sbom.json'), '--server', old.url, '--token', ADMIN_TOKEN], {
      env: { GATEHOUSE_SERVER: undefined, GATEHOUSE_TOKEN: undefined, GATEHOUSE_CA: undefined }, timeoutMs: 180_000,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /pushed image sha256:[0-9a-f]{64} .*\(new, SBOM\)/);
    assert.doesNotMatch(r.stderr, /sent by address/);
    const digest = /pushed image (sha256:[0-9a-f]{64})/.exec(r.stderr)![1]!;
    const back = await old.get(`/api/v1/images/${digest}/sbom`);
    assert.equal(back.status, 200, back.text);
    const bom = JSON.parse(back.text) as { components: unknown };
    assert.ok(Array.isArray(bom.components) && bom.components.length > 50, `the old Central stored the list itself, not ${JSON.stringify(bom.components).slice(0, 80)}`);
  } finally {
    await old?.stop();
  }
});
