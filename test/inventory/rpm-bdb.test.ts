/**
 * BerkeleyDB rpmdb (`Packages`): databases written by Berkeley DB's own db_load from real
 * rpm headers, at two page sizes (512: headers on overflow chains; 65536: on hash pages),
 * and confirmed by rpm's own bdb_ro reader (.ci/setup.d/57-rpm-bdb.sh). The inventory must
 * equal rpm's listing; damaged copies give a warning naming the file, never a crash.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inventoryDirectory } from '../../src/inventory/index.js';
import { cachedPath, missing } from '../helpers/components.js';
import { rpmQaLine } from './helpers.js';

const dir = cachedPath('inventory', 'rpm-bdb');
const ready = existsSync(join(dir, '.done-v1'));

describe('rpm BerkeleyDB Packages', { skip: missing(ready, 'BerkeleyDB rpmdb fixtures (bash .ci/setup.d/57-rpm-bdb.sh)') }, () => {
  for (const size of [512, 65536]) {
    test(`${size}-byte pages: packages equal rpm -qa (bdb_ro)`, async () => {
      const want = readFileSync(join(dir, `p${size}`, 'rpm-qa.txt'), 'utf8').trim().split('\n').sort();
      assert.ok(want.length >= 2);
      const inv = await inventoryDirectory(join(dir, `p${size}`));
      assert.deepEqual(inv.warnings, []);
      const got = inv.packages.filter((p) => p.analyzer === 'rpm').map(rpmQaLine).sort();
      assert.deepEqual(got, want);
      assert.ok(inv.packages.every((p) => p.location.path === '/var/lib/rpm/Packages'));
    });
  }

  test('damaged databases: a warning naming the file, the rest of the inventory kept', async () => {
    const good = readFileSync(join(dir, 'p512', 'var/lib/rpm/Packages'));
    const root = mkdtempSync(join(tmpdir(), 'gh-rpm-bdb-'));
    const cases: Record<string, Buffer> = {
      truncated: good.subarray(0, good.length - 700),
      'bad-magic': Buffer.concat([good.subarray(0, 12), Buffer.from([1, 2, 3, 4]), good.subarray(16)]),
      'overflow-loop': loopedOverflow(good),
      tiny: Buffer.from('not a database'),
    };
    for (const [name, bytes] of Object.entries(cases)) {
      mkdirSync(join(root, name, 'var/lib/rpm'), { recursive: true });
      writeFileSync(join(root, name, 'var/lib/rpm/Packages'), bytes);
    }
    mkdirSync(join(root, 'ok', 'usr/lib/node_modules/left-pad'), { recursive: true });
    writeFileSync(join(root, 'ok', 'usr/lib/node_modules/left-pad/package.json'), '{"name":"left-pad","version":"1.3.0"}');
    for (const name of Object.keys(cases)) {
      const inv = await inventoryDirectory(join(root, name));
      const w = inv.warnings.find((x) => x.analyzer === 'rpm');
      if (name === 'truncated' && !w) {
        // Cutting the tail may leave every header intact; then the listing must still be exact.
        assert.equal(inv.packages.length, 2);
        continue;
      }
      assert.ok(w, `${name}: expected a warning`);
      assert.equal(w.path, '/var/lib/rpm/Packages');
    }
    const ok = await inventoryDirectory(join(root, 'ok'));
    assert.deepEqual(ok.packages.map((p) => p.name), ['left-pad']);
  });
});

/** Points the first overflow page's next-page link at itself. */
function loopedOverflow(db: Buffer): Buffer {
  const copy = Buffer.from(db);
  const pageSize = copy.readUInt32LE(20);
  for (let p = 1; p * pageSize < copy.length; p++) {
    if (copy[p * pageSize + 25] === 7) {
      copy.writeUInt32LE(p, p * pageSize + 16);
      return copy;
    }
  }
  throw new Error('fixture has no overflow page');
}
