/**
 * Ruby: the gems of Debian's ruby package (default gems, bundled gems, rubygems-integration)
 * found from their installed gemspecs equal `gem list --local`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { inventoryDirectory } from '../../src/inventory/index.js';
import { hasCommand, missing } from '../helpers/components.js';
import { key, run, sorted } from './helpers.js';

test('gemspecs of the system ruby equal `gem list --local`', { skip: missing(hasCommand('gem'), 'ruby (apt ruby, .ci/setup.d/55-inventory-fixtures.sh)') }, async () => {
  const want: string[] = [];
  for (const line of run('gem', ['list', '--local']).trim().split('\n')) {
    const m = /^(\S+) \((.*)\)$/.exec(line);
    if (!m) continue;
    for (const v of m[2].split(', ')) want.push(`${m[1]}@${v.replace(/^default: /, '')}`);
  }
  assert.ok(want.length > 40, `gem list gave ${want.length}`);
  const dirs = run('gem', ['env', 'paths']).trim().split(':').filter((d) => existsSync(d));
  const got: string[] = [];
  for (const dir of dirs) {
    const inv = await inventoryDirectory(dir, { only: ['ruby'] });
    assert.deepEqual(inv.warnings, [], dir);
    got.push(...inv.packages.map(key));
    for (const p of inv.packages) assert.equal(p.purl, `pkg:gem/${p.name}@${p.version}`);
  }
  assert.deepEqual(sorted(new Set(got)), sorted(new Set(want)));
});
