/**
 * Red Hat Enterprise Linux from Red Hat's OVAL v2 (issue 24 item 3): real excerpts of Red
 * Hat's .oval.xml.bz2 files (test/vuln/fixtures/feeds/rhel/, source in the README) imported
 * through `importPath` — the code path of `db import` and `db update` — and matched against
 * packages as the rpm analyzer reports them on a RHEL image (binary name, epoch apart).
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { OsInfo, Package } from '../../src/inventory/package.js';
import { isUserError } from '../../src/util/errors.js';
import { VulnDb } from '../../src/vuln/db.js';
import { importPath } from '../../src/vuln/feeds/index.js';
import { matchVulnerabilities } from '../../src/vuln/match.js';
import { scanCoverage } from '../../src/vuln/scan.js';
import { repoRoot } from './helpers.js';

const fixtures = join(repoRoot, 'test', 'vuln', 'fixtures', 'feeds', 'rhel');
const ansible8 = join(fixtures, 'RHEL8', 'ansible-2-including-unpatched.oval.xml.bz2');
const work = mkdtempSync(join(tmpdir(), 'gatehouse-rhel-feeds-'));
after(() => rmSync(work, { recursive: true, force: true }));

const RHEL8: OsInfo = { id: 'rhel', versionId: '8.4' };
const RHEL7: OsInfo = { id: 'rhel', versionId: '7.9' };

async function importedDb(): Promise<VulnDb> {
  const db = VulnDb.open(join(work, `${Math.random().toString(36).slice(2)}.db`), { create: true });
  const stats = await importPath(db, fixtures);
  assert.equal(stats.invalid, 0, stats.problems.join('; '));
  assert.ok(stats.added > 0, 'nothing imported');
  return db;
}

function rpm(name: string, version: string, epoch?: number): Package {
  return { ecosystem: 'Red Hat', name, version, purl: '', analyzer: 'rpm', location: { path: '/var/lib/rpm/rpmdb.sqlite' }, ...(epoch !== undefined ? { epoch } : {}) };
}

function found(db: VulnDb, pkg: Package, os: OsInfo): { id: string; status: string; fixed?: string }[] {
  return matchVulnerabilities(db, [pkg], os)
    .map((m) => ({ id: m.advisory.id, status: m.status, ...(m.fixedVersion ? { fixed: m.fixedVersion } : {}) }))
    .sort((a, b) => a.id.localeCompare(b.id));
}

const ids = (rows: { id: string }[]): string[] => [...new Set(rows.map((r) => r.id))].sort();

describe('Red Hat OVAL v2', () => {
  test('RHEL 7 (RHSA patch definitions): affected below the fix, not at or above it, not on RHEL 8', async () => {
    const db = await importedDb();
    try {
      // RHSA-2020:0134 fixes CVE-2020-0602/0603 in 3.1.101-4.el7; RHSA-2020:2249 fixes CVE-2020-1108/1161 in 3.1.104-2.el7.
      const below = found(db, rpm('rh-dotnet31-dotnet', '3.1.100-1.el7'), RHEL7);
      assert.deepEqual(ids(below), ['CVE-2020-0602', 'CVE-2020-0603', 'CVE-2020-1108', 'CVE-2020-1161']);
      assert.ok(below.every((r) => r.status === 'fixed' && r.fixed), 'each has its fixed version');
      assert.equal(below.find((r) => r.id === 'CVE-2020-0602')!.fixed, '0:3.1.101-4.el7');
      assert.deepEqual(ids(found(db, rpm('rh-dotnet31-dotnet', '3.1.101-4.el7'), RHEL7)), ['CVE-2020-1108', 'CVE-2020-1161'], 'at the first fix only the later advisory remains');
      assert.deepEqual(found(db, rpm('rh-dotnet31-dotnet', '3.1.104-2.el7'), RHEL7), [], 'at the fix');
      assert.deepEqual(found(db, rpm('rh-dotnet31-dotnet', '3.1.105-1.el7'), RHEL7), [], 'above the fix');
      assert.deepEqual(found(db, rpm('rh-dotnet31-dotnet', '3.1.100-1.el7'), RHEL8), [], 'RHEL 7 advisories do not apply to RHEL 8');
      // CVE-2020-0605/0606 are only in oval:com.redhat.unaffected definitions ("installed" AND "not installed"): not vulnerabilities.
      assert.deepEqual(found(db, rpm('rh-dotnet31', '3.1-1.el7'), RHEL7), [], 'unaffected components are not reported');
      assert.deepEqual(found(db, rpm('rh-dotnet31-runtime', '3.1-1.el7'), RHEL7), [], 'unaffected components are not reported');
      assert.deepEqual(found(db, rpm('rh-dotnet31-dotnet', '3.1.100-1.el7'), { id: 'centos', versionId: '7.9.2009' }), [], 'CentOS is not matched against RHEL data');
      const coverage = scanCoverage(db, { packages: [rpm('rh-dotnet31-dotnet', '3.1.100-1.el7')], os: RHEL7 });
      assert.deepEqual(coverage.map((c) => c.ecosystem), ['rhel:7.9']);
      assert.ok(coverage[0]!.advisories > 0, 'coverage counts the imported RHEL 7 advisories');
    } finally {
      db.close();
    }
  });

  test('RHEL 8: the epoch is compared, unpatched CVEs have no fix, fixed ones end at the fix', async () => {
    const db = await importedDb();
    try {
      const unpatched = ['CVE-2020-10744', 'CVE-2020-1734', 'CVE-2020-1738'];
      const below = found(db, rpm('ansible', '2.9.0-1.el8'), RHEL8);
      assert.deepEqual(ids(below), ['CVE-2019-14864', 'CVE-2019-14904', 'CVE-2019-14905', ...unpatched].sort());
      assert.deepEqual(below.filter((r) => unpatched.includes(r.id)).map((r) => [r.status, r.fixed]), unpatched.map(() => ['no-fix-yet', undefined]));
      assert.deepEqual(ids(found(db, rpm('ansible', '2.9.4-1.el8ae'), RHEL8)), unpatched, 'at the last fix only the unpatched CVEs remain');
      assert.deepEqual(ids(found(db, rpm('ansible', '2.9.13-1.el8ae'), RHEL8)), unpatched, 'unpatched CVEs are never reported fixed');
      // Fixed in 0:2.9.1-1.el8: an installed epoch 1 is a later version than any epoch-0 fix.
      assert.deepEqual(ids(found(db, rpm('ansible', '2.9.0-1.el8', 1), RHEL8)), unpatched, 'epoch 1 is above the epoch-0 fixes');
      assert.deepEqual(found(db, rpm('ansible', '2.9.0-1.el8'), RHEL7), [], 'RHEL 8 advisories do not apply to RHEL 7');
      assert.deepEqual(scanCoverage(db, { packages: [rpm('ansible', '2.9.0-1.el8')], os: RHEL8 }).map((c) => c.ecosystem), ['rhel:8.4']);
    } finally {
      db.close();
    }
  });

  test('a truncated .oval.xml.bz2 download is refused in one line and imports nothing', async () => {
    const cut = join(work, 'rhel-8.oval.xml.bz2');
    const whole = readFileSync(ansible8);
    writeFileSync(cut, whole.subarray(0, Math.floor(whole.length / 2)));
    const db = VulnDb.open(join(work, 'cut.db'), { create: true });
    try {
      await assert.rejects(importPath(db, cut), (e: unknown) => {
        assert.ok(isUserError(e), String(e));
        assert.match(e.message, /rhel-8\.oval\.xml\.bz2: not a complete bzip2 file/);
        assert.ok(!e.message.includes('\n'), 'one line');
        return true;
      });
      assert.equal(matchVulnerabilities(db, [rpm('ansible', '2.9.0-1.el8')], RHEL8).length, 0);
    } finally {
      db.close();
    }
  });

  test('a download named by db update (….json) is recognized by its bzip2 content', async () => {
    const renamed = join(work, 'rhel-8.oval.xml.bz2.json');
    copyFileSync(ansible8, renamed);
    const db = VulnDb.open(join(work, 'renamed.db'), { create: true });
    try {
      const stats = await importPath(db, renamed);
      assert.equal(stats.added, 6);
      assert.deepEqual([...stats.sources], ['rhel-oval:rhel-8']);
    } finally {
      db.close();
    }
  });
});
