/**
 * The dpkg inventory of a real debootstrap'ed Debian bookworm root equals what dpkg itself
 * reports inside that root (chroot dpkg-query), package for package, with source package,
 * architecture and installed file lists.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PackageURL } from 'packageurl-js';
import { inventoryDirectory } from '../../src/inventory/index.js';
import { missing } from '../helpers/components.js';
import { debianRoot, haveDebian, run, sorted } from './helpers.js';

test('dpkg inventory equals chroot dpkg-query on the debootstrap root', { skip: missing(haveDebian, `Debian rootfs (${debianRoot})`) }, async () => {
  const q = run('chroot', [debianRoot, 'dpkg-query', '-W', '-f', '${Package} ${Version} ${source:Package} ${source:Version} ${Architecture} ${db:Status-Status}\n']);
  const want = q
    .trim()
    .split('\n')
    .map((l) => l.split(' '))
    .filter((f) => f[5] === 'installed')
    .map((f) => f.slice(0, 5).join(' '));
  assert.ok(want.length > 50, `dpkg-query listed only ${want.length} packages`);

  const got = await inventoryDirectory(debianRoot, { only: ['dpkg'] });
  assert.deepEqual(got.warnings, []);
  assert.deepEqual(got.os && { id: got.os.id, versionId: got.os.versionId, codename: got.os.codename }, { id: 'debian', versionId: '12', codename: 'bookworm' });
  const lines = got.packages.map((p) => `${p.name} ${p.version} ${p.source?.name} ${p.source?.version} ${p.arch}`);
  assert.deepEqual(sorted(lines), sorted(want));

  // Packages whose binary name differs from the source are the ones advisories depend on.
  assert.ok(got.packages.some((p) => p.source && p.source.name !== p.name), 'no package with a distinct source package');
  for (const p of got.packages) {
    assert.equal(p.ecosystem, 'Debian');
    const purl = PackageURL.fromString(p.purl);
    assert.deepEqual([purl.type, purl.namespace, purl.name, purl.version, purl.qualifiers?.distro], ['deb', 'debian', p.name, p.version, 'debian-12']);
    assert.equal(p.location.path, '/var/lib/dpkg/status');
  }

  // Installed files: the same as dpkg -L for a package with many files.
  const bash = got.packages.find((p) => p.name === 'bash')!;
  const dpkgL = run('chroot', [debianRoot, 'dpkg-query', '-L', 'bash']).trim().split('\n').filter((l) => l !== '/.');
  assert.deepEqual(sorted(bash.metadata!.files as string[]), sorted(dpkgL));
  assert.ok(readFileSync(join(debianRoot, 'var/lib/dpkg/status'), 'utf8').includes('Package: bash'));
});
