/**
 * An rpmdb.sqlite whose newest changes are still only in its -wal file (rpm keeps the db in
 * WAL mode; an image may be built while a reader held the checkpoint back): the inventory
 * must list what rpm itself lists from the db and its WAL together, not the db file alone.
 * The WAL is made by the real rpm installing a package while this test holds a read
 * transaction open, which keeps SQLite from checkpointing it into the db file.
 */
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { inventoryDirectory } from '../../src/inventory/index.js';
import { cachedPath, cacheHas, hasCommand, missing } from '../helpers/components.js';

const rpms = cachedPath('inventory', 'build', 'rpm', 'top', 'RPMS', 'noarch');
const available = hasCommand('rpm') && cacheHas('inventory', 'build', 'rpm', 'top', 'RPMS', 'noarch', 'libdemo-0.9.1-1.noarch.rpm');
const work = mkdtempSync(join(tmpdir(), 'gatehouse-rpm-wal-'));
after(() => rmSync(work, { recursive: true, force: true }));

const rpm = (...args: string[]) => execFileSync('rpm', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
const listed = (dbpath: string) => rpm('-qa', '--dbpath', dbpath, '--qf', '%{NAME}-%{VERSION}-%{RELEASE}\\n').trim().split('\n').sort();

describe('rpmdb.sqlite with a -wal file', { skip: missing(available, 'rpm and the rpmbuild-built fixtures (bash .ci/setup.d/55-inventory-fixtures.sh)') }, () => {
  test('the inventory applies the WAL, as rpm does', async () => {
    const live = join(work, 'live');
    mkdirSync(live);
    rpm('--initdb', '--dbpath', live);
    rpm('-i', '--nodeps', '--justdb', '--ignoreos', '--dbpath', live, join(rpms, 'hello-tool-2.5.0-3.noarch.rpm'));
    const root = join(work, 'root');
    const dbDir = join(root, 'var/lib/rpm');
    mkdirSync(dbDir, { recursive: true });
    const reader = new Database(join(live, 'rpmdb.sqlite'), { readonly: true });
    try {
      reader.prepare('BEGIN').run();
      reader.prepare('SELECT count(*) FROM Packages').get();
      rpm('-i', '--nodeps', '--justdb', '--ignoreos', '--dbpath', live, join(rpms, 'libdemo-0.9.1-1.noarch.rpm'));
      for (const f of ['rpmdb.sqlite', 'rpmdb.sqlite-wal']) copyFileSync(join(live, f), join(dbDir, f));
      reader.prepare('COMMIT').run();
    } finally {
      reader.close();
    }
    assert.ok(statSync(join(dbDir, 'rpmdb.sqlite-wal')).size > 0, 'the second install is still in the WAL');
    // rpm's own answers (on copies: rpm checkpoints what it opens).
    const dbOnly = join(work, 'db-only');
    mkdirSync(dbOnly);
    copyFileSync(join(dbDir, 'rpmdb.sqlite'), join(dbOnly, 'rpmdb.sqlite'));
    const withWal = join(work, 'with-wal');
    mkdirSync(withWal);
    for (const f of ['rpmdb.sqlite', 'rpmdb.sqlite-wal']) copyFileSync(join(dbDir, f), join(withWal, f));
    assert.deepEqual(listed(dbOnly), ['hello-tool-2.5.0-3'], 'the db file alone lacks the newest package');
    const want = listed(withWal);
    assert.deepEqual(want, ['hello-tool-2.5.0-3', 'libdemo-0.9.1-1']);

    const inv = await inventoryDirectory(root, { only: ['rpm'] });
    assert.deepEqual(inv.warnings, []);
    assert.deepEqual(inv.packages.map((p) => `${p.name}-${p.version}`).sort(), want);
    assert.deepEqual(new Set(inv.packages.map((p) => p.location.path)), new Set(['/var/lib/rpm/rpmdb.sqlite']));
    assert.equal(statSync(join(dbDir, 'rpmdb.sqlite-wal')).size > 0, true, 'the scanned files are left as they were');
  });
});
