/**
 * OS feeds beyond Debian and Alpine (issue 24 item 3): real records of each distribution
 * (test/vuln/fixtures/feeds/<distro>/, sources in its README) imported through `importPath`
 * — the code path of `db import` and `db update` — and matched against installed packages
 * of that distribution as its inventory analyzer reports them. Each case: a version below
 * the fix is affected (exactly the advisory that fixes it), the fixed version and a later
 * one are not, and another release of the same distribution is not matched.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { OsInfo, Package } from '../../src/inventory/package.js';
import { VulnDb } from '../../src/vuln/db.js';
import { importPath } from '../../src/vuln/feeds/index.js';
import { matchVulnerabilities } from '../../src/vuln/match.js';
import { scanCoverage } from '../../src/vuln/scan.js';
import { repoRoot } from './helpers.js';

const fixtures = join(repoRoot, 'test', 'vuln', 'fixtures', 'feeds');
const work = mkdtempSync(join(tmpdir(), 'gatehouse-os-feeds-'));
after(() => rmSync(work, { recursive: true, force: true }));

async function dbOf(...dirs: string[]): Promise<VulnDb> {
  const db = VulnDb.open(join(work, `${dirs.join('-')}-${Math.random().toString(36).slice(2)}.db`), { create: true });
  for (const d of dirs) {
    const stats = await importPath(db, join(fixtures, d));
    assert.equal(stats.invalid, 0, `${d}: ${stats.problems.join('; ')}`);
    assert.ok(stats.added > 0, `${d}: nothing imported`);
  }
  return db;
}

interface Installed { name: string; version: string; epoch?: number; source?: string }

/** A package as the OS package analyzers report it (rpm: version-release and the epoch apart; dpkg/apk: the source package). */
function installed(analyzer: 'rpm' | 'dpkg' | 'apk', ecosystem: string, p: Installed): Package {
  return {
    ecosystem,
    name: p.name,
    version: p.version,
    purl: '',
    analyzer,
    location: { path: analyzer === 'rpm' ? '/var/lib/rpm/rpmdb.sqlite' : analyzer === 'apk' ? '/lib/apk/db/installed' : '/var/lib/dpkg/status' },
    ...(p.epoch !== undefined ? { epoch: p.epoch } : {}),
    ...(p.source ? { source: { name: p.source, version: p.version } } : {}),
  };
}

function idsFor(db: VulnDb, pkg: Package, os: OsInfo): string[] {
  return [...new Set(matchVulnerabilities(db, [pkg], os).map((m) => m.advisory.id))].sort();
}

interface Case {
  distro: string;
  feeds: string[];
  analyzer: 'rpm' | 'dpkg' | 'apk';
  /** The ecosystem the inventory gives the image's packages (src/inventory/analyzers). */
  ecosystem: string;
  os: OsInfo;
  /** Another release of the same distribution, whose advisories must not apply. */
  otherRelease?: OsInfo;
  pkg: Omit<Installed, 'version'>;
  below: string;
  fixed: string;
  above: string;
  expect: string[];
  /** The coverage report's name for the image's OS packages. */
  coverage: string;
}

const CASES: Case[] = [
  {
    distro: 'Ubuntu 22.04 (OSV, source package, dpkg order)',
    feeds: ['ubuntu'],
    analyzer: 'dpkg',
    ecosystem: 'Ubuntu',
    os: { id: 'ubuntu', versionId: '22.04', codename: 'jammy' },
    otherRelease: { id: 'ubuntu', versionId: '24.04', codename: 'noble' },
    pkg: { name: 'libpam0g', source: 'pam' },
    below: '1.4.0-11ubuntu2.3',
    fixed: '1.4.0-11ubuntu2.4',
    above: '1.4.0-11ubuntu2.10',
    expect: ['CVE-2024-22365'],
    coverage: 'ubuntu:22.04',
  },
  {
    distro: 'AlmaLinux 9 (OSV, epoch in the fixed version)',
    feeds: ['almalinux'],
    analyzer: 'rpm',
    ecosystem: 'AlmaLinux',
    os: { id: 'almalinux', versionId: '9.3' },
    otherRelease: { id: 'almalinux', versionId: '8.9' },
    pkg: { name: 'openssl-libs', epoch: 1 },
    below: '3.0.1-46.el9_0',
    fixed: '3.0.1-47.el9_1',
    above: '3.0.7-16.el9_2',
    expect: ['ALSA-2023:0946'],
    coverage: 'almalinux:9.3',
  },
  {
    distro: 'Rocky Linux 8 (updateinfo.xml; bug-fix updates are not advisories)',
    feeds: ['rocky'],
    analyzer: 'rpm',
    ecosystem: 'Rocky Linux',
    os: { id: 'rocky', versionId: '8.4' },
    otherRelease: { id: 'rocky', versionId: '9.2' },
    pkg: { name: 'lz4' },
    below: '1.8.3-2.el8',
    fixed: '1.8.3-3.el8_4',
    above: '1.8.3-3.el8_4.1',
    expect: ['RLSA-2021:2575'],
    coverage: 'rocky:8.4',
  },
  {
    distro: 'Amazon Linux 2023 (updateinfo.xml.gz)',
    feeds: ['amazon'],
    analyzer: 'rpm',
    ecosystem: 'amzn',
    os: { id: 'amzn', versionId: '2023' },
    otherRelease: { id: 'amzn', versionId: '2' },
    pkg: { name: 'rsyslog' },
    below: '8.2204.0-3.amzn2023.0.1',
    fixed: '8.2204.0-3.amzn2023.0.2',
    above: '8.2204.0-4.amzn2023.0.1',
    expect: ['ALAS2023-2023-001'],
    coverage: 'amazon:2023',
  },
  {
    distro: 'Amazon Linux 2 (updateinfo.xml.gz, epoch 10)',
    feeds: ['amazon'],
    analyzer: 'rpm',
    ecosystem: 'amzn',
    os: { id: 'amzn', versionId: '2' },
    otherRelease: { id: 'amzn', versionId: '2023' },
    pkg: { name: 'qemu-kvm', epoch: 10 },
    below: '1.5.3-141.amzn2.5.2',
    fixed: '1.5.3-141.amzn2.5.3',
    above: '1.5.3-156.amzn2',
    expect: ['ALAS2-2018-942'],
    coverage: 'amazon:2',
  },
  {
    distro: 'Bottlerocket (updateinfo.xml.gz)',
    feeds: ['bottlerocket'],
    analyzer: 'rpm',
    ecosystem: 'bottlerocket',
    os: { id: 'bottlerocket', versionId: '1.40.0' },
    pkg: { name: 'glibc', epoch: 1 },
    below: '2.42-1.1760000000.aaaaaaaa.br1',
    fixed: '2.43-1.1773716061.e2e9d7a9.br1',
    above: '2.43-2.1780000000.bbbbbbbb.br1',
    expect: ['BRSA-kdg8bd1th2gb'],
    coverage: 'bottlerocket',
  },
  {
    distro: 'Photon OS 3.0 (cve_data_photon3.0.json)',
    feeds: ['photon'],
    analyzer: 'rpm',
    ecosystem: 'photon',
    os: { id: 'photon', versionId: '3.0' },
    otherRelease: { id: 'photon', versionId: '4.0' },
    pkg: { name: 'apache-tomcat' },
    below: '8.5.40-1.ph3',
    fixed: '8.5.40-2.ph3',
    above: '8.5.41-1.ph3',
    expect: ['CVE-2019-10072'],
    coverage: 'photon:3.0',
  },
  {
    distro: 'Azure Linux 3.0 (OVAL, source package)',
    feeds: ['azurelinux'],
    analyzer: 'rpm',
    ecosystem: 'azurelinux',
    os: { id: 'azurelinux', versionId: '3.0.20240601' },
    otherRelease: { id: 'mariner', versionId: '2.0.20240609' },
    pkg: { name: 'golang-bin', source: 'golang' },
    below: '1.20.6-1.azl3',
    fixed: '1.20.7-1.azl3',
    above: '1.21.11-1.azl3',
    expect: ['CVE-2023-29409'],
    coverage: 'azurelinux:3.0.20240601',
  },
  {
    distro: 'CBL-Mariner 2.0 (OVAL, one CVE over two packages)',
    feeds: ['azurelinux'],
    analyzer: 'rpm',
    ecosystem: 'mariner',
    os: { id: 'mariner', versionId: '2.0.20240609' },
    otherRelease: { id: 'azurelinux', versionId: '3.0.20240601' },
    pkg: { name: 'openssl-libs', source: 'openssl' },
    below: '1.1.1k-27.cm2',
    fixed: '1.1.1k-28.cm2',
    above: '1.1.1k-29.cm2',
    expect: ['CVE-2023-5678'],
    coverage: 'azurelinux:2.0.20240609',
  },
  {
    distro: 'SUSE Linux Enterprise 12 SP4 (CVRF; the fix is filed under Desktop, SAP and Legacy-module products)',
    feeds: ['suse'],
    analyzer: 'rpm',
    ecosystem: 'SUSE',
    os: { id: 'sles', versionId: '12.4' },
    otherRelease: { id: 'sles', versionId: '15.1' },
    pkg: { name: 'libopenssl0_9_8' },
    below: '0.9.8j-106.9.1',
    fixed: '0.9.8j-106.12.1',
    above: '0.9.8j-106.15.1',
    expect: ['SUSE-SU-2019:1608-1'],
    coverage: 'sles:12.4',
  },
  {
    distro: 'openSUSE Leap 15.0 (CVRF)',
    feeds: ['suse'],
    analyzer: 'rpm',
    ecosystem: 'openSUSE',
    os: { id: 'opensuse-leap', versionId: '15.0' },
    otherRelease: { id: 'opensuse-leap', versionId: '15.1' },
    pkg: { name: 'glibc' },
    below: '2.26-lp150.11.3.1',
    fixed: '2.26-lp150.11.3.2',
    above: '2.26-lp150.11.6.1',
    expect: ['openSUSE-SU-2018:1633-1'],
    coverage: 'opensuse:15.0',
  },
  {
    distro: 'Wolfi (security.json, apk origin)',
    feeds: ['wolfi'],
    analyzer: 'apk',
    ecosystem: 'Alpine',
    os: { id: 'wolfi', versionId: '20230201' },
    pkg: { name: 'libctf', source: 'binutils' },
    below: '2.39-r1',
    fixed: '2.39-r3',
    above: '2.40-r0',
    expect: ['CVE-2022-38128', 'CVE-2022-38533'],
    coverage: 'wolfi',
  },
  {
    distro: 'Chainguard (security.json)',
    feeds: ['chainguard'],
    analyzer: 'apk',
    ecosystem: 'Alpine',
    os: { id: 'chainguard', versionId: '20230214' },
    pkg: { name: 'binutils', source: 'binutils' },
    below: '2.39-r2',
    fixed: '2.39-r3',
    above: '2.39-r10',
    expect: ['CVE-2022-38128'],
    coverage: 'chainguard',
  },
];

describe('OS feeds: real records matched with the distribution’s version order', () => {
  for (const c of CASES) {
    test(c.distro, async () => {
      const db = await dbOf(...c.feeds);
      try {
        const at = (version: string): Package => installed(c.analyzer, c.ecosystem, { ...c.pkg, version });
        assert.deepEqual(idsFor(db, at(c.below), c.os), c.expect, `${c.below} is below the fix`);
        assert.deepEqual(idsFor(db, at(c.fixed), c.os), [], `${c.fixed} is the fixed version`);
        assert.deepEqual(idsFor(db, at(c.above), c.os), [], `${c.above} is above the fix`);
        if (c.otherRelease) assert.deepEqual(idsFor(db, at(c.below), c.otherRelease), [], 'advisories of another release');
        const found = matchVulnerabilities(db, [at(c.below)], c.os);
        assert.ok(found.every((m) => m.status === 'fixed' && m.fixedVersion), 'a fixed version is reported');
        const coverage = scanCoverage(db, { packages: [at(c.below)], os: c.os });
        assert.equal(coverage.length, 1);
        assert.equal(coverage[0]!.ecosystem, c.coverage);
        assert.ok(coverage[0]!.advisories > 0, `coverage of ${c.coverage} counts the imported advisories`);
      } finally {
        db.close();
      }
    });
  }
});

describe('OS feeds: what the importers read and leave out', () => {
  test('an RPM epoch decides: openssl-libs 1:3.0.7 is past the fix 1:3.0.1-47, 0:3.0.7 would not be', async () => {
    const db = await dbOf('almalinux');
    try {
      const os = { id: 'almalinux', versionId: '9.3' };
      assert.deepEqual(idsFor(db, installed('rpm', 'AlmaLinux', { name: 'openssl-libs', version: '3.0.7-16.el9_2', epoch: 1 }), os), []);
      assert.deepEqual(idsFor(db, installed('rpm', 'AlmaLinux', { name: 'openssl-libs', version: '3.0.7-16.el9_2' }), os), ['ALSA-2023:0946']);
    } finally {
      db.close();
    }
  });

  test('updateinfo: CVE aliases, vendor severity and dates come from the record; bug-fix updates are not imported', async () => {
    const db = await dbOf('rocky', 'amazon');
    try {
      assert.equal(db.byAlias('CVE-2021-3520').map((a) => a.id).join(), 'RLSA-2021:2575');
      const [alas] = db.byAlias('CVE-2022-24903');
      assert.equal(alas?.id, 'ALAS2023-2023-001');
      assert.equal(alas?.vendorSeverity?.rating, 'HIGH');
      assert.equal(alas?.modified, '2023-02-22T23:22:00.000Z');
      const rocky = matchVulnerabilities(db, [installed('rpm', 'Rocky Linux', { name: 'firewalld', version: '0.8.2-6.el8' })], { id: 'rocky', versionId: '8.4' });
      assert.deepEqual(rocky, [], 'RLBA-2021:2580 (firewalld) is a bug fix, not a vulnerability');
    } finally {
      db.close();
    }
  });

  test('Photon entries without a fixed version ("NA", Not Affected) are not advisories', async () => {
    const db = await dbOf('photon');
    try {
      const os = { id: 'photon', versionId: '3.0' };
      assert.deepEqual(idsFor(db, installed('rpm', 'photon', { name: 'curl', version: '7.61.1-1.ph3' }), os), []);
      assert.deepEqual(idsFor(db, installed('rpm', 'photon', { name: 'binutils', version: '2.31.1-2.ph3' }), os), ['CVE-2017-16826']);
    } finally {
      db.close();
    }
  });

  test('Azure OVAL "less than or equal" is the last affected version, reported with no fix', async () => {
    const db = await dbOf('azurelinux');
    try {
      const os = { id: 'mariner', versionId: '2.0.20240609' };
      const at = (version: string): Package => installed('rpm', 'mariner', { name: 'wireshark-cli', source: 'wireshark', version });
      const found = matchVulnerabilities(db, [at('3.4.4-2.cm1')], os);
      assert.deepEqual(found.map((m) => [m.advisory.id, m.status, m.fixedVersion]), [['CVE-2021-39924', 'no-fix-yet', undefined]]);
      assert.deepEqual(idsFor(db, at('3.4.4-3.cm1'), os), []);
    } finally {
      db.close();
    }
  });

  test('coverage names a new distribution with no advisories in the DB, so the scan warns about it', async () => {
    const db = await dbOf('wolfi');
    try {
      const os = { id: 'amzn', versionId: '2023' };
      const coverage = scanCoverage(db, { packages: [installed('rpm', 'amzn', { name: 'rsyslog', version: '8.2204.0-3.amzn2023.0.1' })], os });
      assert.deepEqual(coverage.map((c) => [c.ecosystem, c.packages, c.advisories]), [['amazon:2023', 1, 0]]);
    } finally {
      db.close();
    }
  });

  test('Wolfi advisories do not apply to Chainguard images, nor Chainguard’s to Wolfi', async () => {
    const db = await dbOf('chainguard');
    try {
      const p = installed('apk', 'Alpine', { name: 'binutils', version: '2.39-r0', source: 'binutils' });
      assert.deepEqual(idsFor(db, p, { id: 'wolfi', versionId: '20230201' }), []);
      assert.equal(idsFor(db, p, { id: 'chainguard', versionId: '20230214' }).length, 3);
    } finally {
      db.close();
    }
  });
});
