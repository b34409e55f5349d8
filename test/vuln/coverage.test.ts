/**
 * Issue 24 item 2: a scan against a DB without the image's OS must not read as "0
 * vulnerabilities". The debootstrap-built Debian image (.ci/setup.d/40-test-images.sh) and its
 * root filesystem are scanned with
 *   - a DB built by `gatehouse db import` from one real OSV record of another ecosystem
 *     (PyPA's PYSEC-2019-217, Jinja2, from ../shared/vulndata/pypa): the scan warns that debian:12
 *     has no advisories, lists it in `coverage` with 0, and --fail-on-uncovered fails;
 *   - the same DB plus Debian tracker advisories for one of the image's own source packages
 *     (built like image-scan.test.ts): no warning, coverage lists debian:12 with its advisories.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { cacheHas, missing } from '../helpers/components.js';
import { runCli } from '../helpers/cli.js';
import { DEBIAN_ROOTFS, OCI_DIR } from '../fixtures/test-images.js';
import { openImage } from '../../src/image/index.js';
import { inventoryImage } from '../../src/inventory/index.js';
import type { Inventory } from '../../src/inventory/index.js';
import { vulndataDir } from './helpers.js';

const work = mkdtempSync(join(tmpdir(), 'gatehouse-coverage-'));
after(() => rmSync(work, { recursive: true, force: true }));
const ref = `oci:${OCI_DIR}:debian`;
const pysec = join(vulndataDir, 'pypa', 'vulns', 'jinja2', 'PYSEC-2019-217.yaml');
const otherDb = join(work, 'other.db');
const debianDb = join(work, 'debian.db');
const warning = (n: number) => `gatehouse: warning: the vulnerability DB has no advisories for debian:12 (${n} packages not checked)`;

interface Coverage {
  ecosystem: string;
  packages: number;
  advisories: number;
  updated?: string;
}

describe('scan coverage of the Debian test image', { skip: missing(cacheHas('oci', 'index.json') && cacheHas('debian-rootfs', 'etc', 'os-release'), 'test images not built (.ci/setup.d/40-test-images.sh)') }, () => {
  let inv: Inventory;
  before(async () => {
    const img = await openImage(ref);
    try {
      inv = await inventoryImage(img);
    } finally {
      await img.close();
    }
    assert.equal(inv.os?.id, 'debian');
    assert.equal(inv.os?.versionId, '12');
    assert.ok(inv.packages.length > 0 && inv.packages.every((p) => p.ecosystem === 'Debian'), 'only Debian packages in the image');
    for (const db of [otherDb, debianDb]) {
      const imp = await runCli(['db', 'import', '--db', db, pysec]);
      assert.equal(imp.code, 0, imp.stderr);
      assert.match(imp.stdout, /1 added/);
    }
    // Debian tracker advisories for one of the image's own source packages (one affecting it, one not).
    const pkg = inv.packages.find((p) => p.source?.name) ?? inv.packages[0]!;
    const src = pkg.source?.name ?? pkg.name;
    const installed = pkg.source?.version ?? pkg.version;
    const tracker = {
      [src]: {
        'CVE-2099-7001': { releases: { bookworm: { status: 'resolved', fixed_version: `${installed}+gh1`, urgency: 'high' } } },
        'CVE-2099-7002': { releases: { bookworm: { status: 'resolved', fixed_version: '0.0.1-1', urgency: 'low' } } },
      },
    };
    writeFileSync(join(work, 'tracker.json'), JSON.stringify(tracker));
    const imp = await runCli(['db', 'import', '--db', debianDb, join(work, 'tracker.json')]);
    assert.equal(imp.code, 0, imp.stderr);
  });

  test('a DB with only a PyPI advisory: the scan warns that debian:12 was not checked', async () => {
    const r = await runCli(['image', 'scan', ref, '--db', otherDb, '--scanners', 'vuln', '--format', 'json']);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stderr.split('\n').includes(warning(inv.packages.length)), r.stderr);
    const report = JSON.parse(r.stdout) as { packages: number; findings: unknown[]; coverage: Coverage[] };
    assert.equal(report.packages, inv.packages.length);
    assert.deepEqual(report.coverage, [{ ecosystem: 'debian:12', packages: inv.packages.length, advisories: 0 }]);
    const table = await runCli(['image', 'scan', ref, '--db', otherDb, '--scanners', 'vuln']);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, new RegExp(`^  debian:12: ${inv.packages.length} packages, no advisories \\(not checked\\)$`, 'm'));
  });

  test('--fail-on-uncovered: exit 1, or the --exit-code value; --exit-code 0 never fails', async () => {
    const base = ['image', 'scan', ref, '--db', otherDb, '--scanners', 'vuln', '--fail-on-uncovered'];
    const one = await runCli(base);
    assert.equal(one.code, 1, one.stderr);
    assert.ok(one.stderr.includes(warning(inv.packages.length)), one.stderr);
    assert.equal((await runCli([...base, '--exit-code', '3'])).code, 3);
    assert.equal((await runCli([...base, '--exit-code', '0'])).code, 0);
    // fs scan of the same root filesystem, unpacked.
    const fs = await runCli(['fs', 'scan', DEBIAN_ROOTFS, '--db', otherDb, '--fail-on-uncovered', '--format', 'json']);
    assert.equal(fs.code, 1, fs.stderr);
    const report = JSON.parse(fs.stdout) as { packages: number; coverage: Coverage[] };
    assert.ok(fs.stderr.includes(warning(report.packages)), fs.stderr);
    assert.deepEqual(report.coverage, [{ ecosystem: 'debian:12', packages: report.packages, advisories: 0 }]);
  });

  test('a DB with Debian advisories: no warning, coverage lists debian:12 with its advisories and age', async () => {
    const r = await runCli(['image', 'scan', ref, '--db', debianDb, '--scanners', 'vuln', '--format', 'json', '--fail-on-uncovered']);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /no advisories for/);
    const report = JSON.parse(r.stdout) as { findings: { id: string }[]; coverage: Coverage[] };
    assert.equal(report.coverage.length, 1);
    const [c] = report.coverage;
    assert.equal(c!.ecosystem, 'debian:12');
    assert.equal(c!.packages, inv.packages.length);
    assert.equal(c!.advisories, 2);
    assert.ok(c!.updated && Date.now() - Date.parse(c!.updated) < 3_600_000, `updated: ${c!.updated}`);
    assert.ok(report.findings.some((f) => f.id === 'CVE-2099-7001'));
    const table = await runCli(['image', 'scan', ref, '--db', debianDb, '--scanners', 'vuln']);
    assert.match(table.stdout, new RegExp(`^  debian:12: ${inv.packages.length} packages, 2 advisories, updated \\d{4}-`, 'm'));
  });
});
