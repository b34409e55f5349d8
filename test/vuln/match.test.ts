/**
 * Matching real advisories (Go vulndb, PyPA, Alpine secdb) and a Debian tracker built for the
 * test against handcrafted package lists: exactly the expected ids, read off the advisories.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { OsInfo, Package } from '../../src/inventory/package.js';
import { VulnDb } from '../../src/vuln/db.js';
import { importPath } from '../../src/vuln/feeds/index.js';
import { matchPackages, rangeVerdict } from '../../src/vuln/match.js';
import { schemeFor } from '../../src/vuln/versions/index.js';
import { osvDebianRecord, trackerJson } from './fixtures.js';
import { vulndataDir } from './helpers.js';

const work = mkdtempSync(join(tmpdir(), 'gatehouse-match-'));
let db: VulnDb;

before(async () => {
  db = VulnDb.open(join(work, 'vuln.db'), { create: true });
  await importPath(db, join(vulndataDir, 'go-vulndb', 'data', 'osv'));
  const pypa = join(work, 'pypa');
  mkdirSync(pypa);
  for (const p of ['jinja2', 'accesscontrol', 'werkzeug', 'flask']) cpSync(join(vulndataDir, 'pypa', 'vulns', p), join(pypa, p), { recursive: true });
  await importPath(db, pypa);
  await importPath(db, join(vulndataDir, 'alpine-secdb', 'v3.10', 'main.yaml'));
  await importPath(db, join(vulndataDir, 'alpine-secdb', 'v3.11', 'main.yaml'));
  writeFileSync(join(work, 'tracker.json'), JSON.stringify(trackerJson()));
  await importPath(db, join(work, 'tracker.json'));
  writeFileSync(join(work, 'dsa.json'), JSON.stringify(osvDebianRecord()));
  await importPath(db, join(work, 'dsa.json'));
});
after(() => {
  db.close();
  rmSync(work, { recursive: true, force: true });
});

function pkg(ecosystem: string, name: string, version: string, extra: Partial<Package> = {}): Package {
  return { ecosystem, name, version, purl: `pkg:generic/${name}@${version}`, location: { path: '/lib/x', layer: 2 }, analyzer: 'test', ...extra };
}

const ids = (packages: Package[], os?: OsInfo): string[] => [...new Set(matchPackages(db, packages, os).map((f) => f.id))].sort();

describe('matching language packages', () => {
  test('Go modules from the Go vulndb: v prefix, pseudo-versions, fixed versions', () => {
    const gin = 'github.com/gin-gonic/gin';
    assert.deepEqual(ids([pkg('Go', gin, 'v1.6.3')]), ['GO-2021-0052', 'GO-2023-1737']);
    assert.deepEqual(ids([pkg('Go', gin, 'v1.5.0')]), ['GO-2020-0001', 'GO-2021-0052', 'GO-2023-1737']);
    assert.deepEqual(ids([pkg('Go', gin, 'v1.3.0')]), ['GO-2020-0001', 'GO-2021-0052']);
    assert.deepEqual(ids([pkg('Go', gin, 'v1.3.1-0.20190301021747-ccb9e902956d')]), ['GO-2020-0001', 'GO-2021-0052', 'GO-2023-1737']);
    assert.deepEqual(ids([pkg('Go', gin, 'v1.9.1')]), []);
    const f = matchPackages(db, [pkg('Go', gin, 'v1.6.3')]).find((x) => x.id === 'GO-2021-0052')!;
    assert.equal(f.kind, 'vulnerability');
    assert.equal(f.data?.fixedVersion, '1.7.7');
    assert.equal(f.data?.status, 'fixed');
    assert.deepEqual(f.data?.aliases, ['CVE-2020-28483', 'GHSA-h395-qcrw-5vmq']);
    assert.deepEqual(f.resource, { image: { path: '/lib/x', layer: 2 } });
    assert.equal(f.remediation, `upgrade ${gin} to 1.7.7`);
  });

  test('PyPI packages from the PyPA advisories, names normalized per PEP 503', () => {
    assert.deepEqual(ids([pkg('PyPI', 'Jinja2', '2.10')]), ['PYSEC-2019-217', 'PYSEC-2021-66']);
    assert.deepEqual(ids([pkg('PyPI', 'jinja2', '2.11.3')]), []);
    assert.deepEqual(ids([pkg('PyPI', 'AccessControl', '4.2')]).includes('PYSEC-2021-335'), true);
    assert.deepEqual(ids([pkg('PyPI', 'accesscontrol', '4.3')]).includes('PYSEC-2021-335'), false);
  });

  test('no false positives across ecosystems, unknown ecosystems or unparsable versions', () => {
    assert.deepEqual(ids([pkg('npm', 'github.com/gin-gonic/gin', '1.0.0')]), []);
    assert.deepEqual(ids([pkg('Go', 'jinja2', 'v2.10.0')]), []);
    assert.deepEqual(ids([pkg('CRAN', 'jinja2', '2.10')]), []);
    assert.deepEqual(ids([pkg('Go', 'github.com/gin-gonic/gin', 'latest')]), []);
  });
});

describe('matching OS packages', () => {
  const alpine310: OsInfo = { id: 'alpine', versionId: '3.10.4' };
  const alpine311: OsInfo = { id: 'alpine', versionId: '3.11.3' };
  const bookworm: OsInfo = { id: 'debian', versionId: '12', codename: 'bookworm' };
  const bullseye: OsInfo = { id: 'debian', versionId: '11', codename: 'bullseye' };

  test('Alpine: origin + branch from the secdb', () => {
    const libcrypto = (v: string): Package => pkg('Alpine', 'libcrypto1.1', v, { source: { name: 'openssl' } });
    assert.deepEqual(ids([libcrypto('1.1.1c-r0')], alpine310), ['CVE-2019-1547', 'CVE-2019-1549', 'CVE-2019-1563']);
    assert.deepEqual(ids([libcrypto('1.1.1d-r0')], alpine310), []);
    assert.deepEqual(ids([libcrypto('1.1.1d-r2')], alpine311), ['CVE-2019-1551']);
    assert.deepEqual(ids([libcrypto('1.1.1a-r1')], alpine311), ['CVE-2019-1543', 'CVE-2019-1547', 'CVE-2019-1549', 'CVE-2019-1551', 'CVE-2019-1563']);
    assert.deepEqual(ids([libcrypto('1.1.1c-r0')], { id: 'alpine', versionId: '3.12.0' }), [], 'no data for that branch');
  });

  test('Debian: source package + release, tracker statuses and OSV "Debian:12" records', () => {
    const libssl = (v: string): Package => pkg('Debian', 'libssl3', `${v}+b1`, { source: { name: 'openssl', version: v } });
    assert.deepEqual(ids([libssl('3.0.8-1+deb12u1')], bookworm), ['CVE-2023-0001', 'CVE-2023-0002', 'CVE-2023-0003', 'CVE-2023-0005']);
    assert.deepEqual(ids([libssl('3.0.9-1')], bookworm), ['CVE-2023-0002', 'CVE-2023-0003', 'CVE-2023-0005']);
    assert.deepEqual(ids([libssl('1.1.1n-0+deb11u4')], bullseye), ['CVE-2023-0004']);
    assert.deepEqual(ids([pkg('Debian', 'libc6', '2.36-9+deb12u4', { source: { name: 'glibc' } })], bookworm), []);
    assert.deepEqual(ids([pkg('Debian', 'zlib1g', '1:1.2.13.dfsg-1', { source: { name: 'zlib' } })], bookworm), ['DSA-9999-1']);
    assert.deepEqual(ids([pkg('Debian', 'zlib1g', '1:1.2.13.dfsg-1', { source: { name: 'zlib' } })], bullseye), []);
    // Only /etc/debian_version (point release, no codename), or only a codename: both keys still found.
    assert.deepEqual(ids([libssl('3.0.9-1'), pkg('Debian', 'zlib1g', '1:1.2.13.dfsg-1', { source: { name: 'zlib' } })], { id: 'debian', versionId: '12.4' }), [
      'CVE-2023-0002',
      'CVE-2023-0003',
      'CVE-2023-0005',
      'DSA-9999-1',
    ]);
    assert.deepEqual(ids([libssl('1.1.1n-0+deb11u4')], { id: 'debian', codename: 'bullseye' }), ['CVE-2023-0004']);

    const findings = matchPackages(db, [libssl('3.0.8-1+deb12u1')], bookworm);
    const byId = Object.fromEntries(findings.map((f) => [f.id, f]));
    assert.equal(byId['CVE-2023-0001']!.data?.fixedVersion, '3.0.9-1');
    assert.equal(byId['CVE-2023-0001']!.severity, 'MEDIUM');
    assert.equal(byId['CVE-2023-0001']!.data?.severitySource, 'debian');
    assert.equal(byId['CVE-2023-0002']!.data?.status, 'no-fix-yet');
    assert.equal(byId['CVE-2023-0003']!.data?.status, 'end-of-life');
    assert.equal(byId['CVE-2023-0005']!.data?.status, 'will-not-fix');
    assert.equal(byId['CVE-2023-0002']!.remediation, 'no fix yet');
    const dsa = matchPackages(db, [pkg('Debian', 'zlib1g', '1:1.2.13.dfsg-1', { source: { name: 'zlib' } })], bookworm)[0]!;
    assert.equal(dsa.severity, 'CRITICAL');
    assert.equal(dsa.data?.severitySource, 'CVSS 4.0');
  });
});

describe('OSV range evaluation', () => {
  const semver = schemeFor('npm');
  const range = (...events: Record<string, string>[]) => ({ type: 'SEMVER' as const, events: events as never });
  test('introduced/fixed pairs, last_affected, limit', () => {
    const r = range({ introduced: '1.0.0' }, { fixed: '1.2.0' }, { introduced: '2.0.0' }, { fixed: '2.1.0' });
    assert.deepEqual(rangeVerdict(semver, '0.9.0', r), { affected: false });
    assert.deepEqual(rangeVerdict(semver, '1.0.0', r), { affected: true, fixed: '1.2.0' });
    assert.deepEqual(rangeVerdict(semver, '1.5.0', r), { affected: false });
    assert.deepEqual(rangeVerdict(semver, '2.0.5', r), { affected: true, fixed: '2.1.0' });
    assert.deepEqual(rangeVerdict(semver, '2.1.0', r), { affected: false });
    const la = range({ introduced: '0' }, { last_affected: '1.4.0' });
    assert.deepEqual(rangeVerdict(semver, '1.4.0', la), { affected: true });
    assert.deepEqual(rangeVerdict(semver, '1.4.1', la), { affected: false });
    // Events out of order are sorted first, as the OSV spec requires.
    const unordered = range({ fixed: '2.1.0' }, { introduced: '2.0.0' }, { fixed: '1.2.0' }, { introduced: '0' });
    assert.deepEqual(rangeVerdict(semver, '1.1.0', unordered), { affected: true, fixed: '1.2.0' });
    assert.deepEqual(rangeVerdict(semver, '1.3.0', unordered), { affected: false });
    const limited = range({ introduced: '0' }, { limit: '3.0.0' });
    assert.deepEqual(rangeVerdict(semver, '2.0.0', limited), { affected: true });
    assert.deepEqual(rangeVerdict(semver, '3.0.0', limited), { affected: false });
  });
});
