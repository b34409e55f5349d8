/**
 * The OS feeds end to end through the CLI (issue 24 item 3): `gatehouse db import` of the
 * real records in test/vuln/fixtures/feeds, then `gatehouse fs scan` of a Wolfi root and an
 * Ubuntu 22.04 root whose package databases (apk `installed`, dpkg `status`) hold one
 * package below the fix and one at it: the inventory's own analyzers and os-release
 * detection decide the distribution, the coverage names it.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { gunzipSync, gzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCli } from '../helpers/cli.js';
import { repoRoot } from './helpers.js';

const fixtures = join(repoRoot, 'test', 'vuln', 'fixtures', 'feeds');
const work = mkdtempSync(join(tmpdir(), 'gatehouse-os-scan-'));
const dbPath = join(work, 'vuln.db');
const wolfiRoot = join(work, 'wolfi');
const ubuntuRoot = join(work, 'ubuntu');

function put(root: string, path: string, text: string): void {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  writeFileSync(join(root, path), text);
}

before(async () => {
  for (const d of ['wolfi', 'ubuntu', 'amazon']) {
    const r = await runCli(['db', 'import', join(fixtures, d), '--db', dbPath]);
    assert.equal(r.code, 0, r.stderr);
  }
  put(wolfiRoot, 'etc/os-release', 'ID=wolfi\nNAME="Wolfi"\nPRETTY_NAME="Wolfi"\nVERSION_ID="20230201"\nHOME_URL="https://wolfi.dev"\n');
  // binutils at 2.39-r1 (CVE-2022-38533 fixed in r2, CVE-2022-38128 in r3); libctf from the same origin at r3.
  put(wolfiRoot, 'lib/apk/db/installed', 'P:binutils\nV:2.39-r1\nA:x86_64\no:binutils\n\nP:libctf\nV:2.39-r3\nA:x86_64\no:binutils\n\n');
  put(ubuntuRoot, 'etc/os-release', 'PRETTY_NAME="Ubuntu 22.04.4 LTS"\nNAME="Ubuntu"\nVERSION_ID="22.04"\nVERSION="22.04.4 LTS (Jammy Jellyfish)"\nVERSION_CODENAME=jammy\nID=ubuntu\nID_LIKE=debian\n');
  put(
    ubuntuRoot,
    'var/lib/dpkg/status',
    [
      'Package: libpam0g\nStatus: install ok installed\nArchitecture: amd64\nSource: pam\nVersion: 1.4.0-11ubuntu2.3\n',
      'Package: libpam-modules\nStatus: install ok installed\nArchitecture: amd64\nSource: pam\nVersion: 1.4.0-11ubuntu2.4\n',
    ].join('\n'),
  );
});
after(() => rmSync(work, { recursive: true, force: true }));

interface Report { findings: { id: string; data: { package?: string; fixedVersion?: string } }[]; coverage: { ecosystem: string; packages: number; advisories: number }[] }

async function scan(root: string): Promise<Report> {
  const r = await runCli(['fs', 'scan', root, '--db', dbPath, '--format', 'json', '--fail-on-uncovered']);
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /no advisories/);
  return JSON.parse(r.stdout) as Report;
}

describe('gatehouse fs scan with the OS feeds', () => {
  test('Wolfi: the apk origin below the fixes is found, the package at the last fix is not', async () => {
    const report = await scan(wolfiRoot);
    assert.deepEqual(report.findings.map((f) => f.id).sort(), ['CVE-2022-38128', 'CVE-2022-38533']);
    assert.deepEqual(report.coverage.map((c) => [c.ecosystem, c.packages]), [['wolfi', 2]]);
    assert.ok(report.coverage[0]!.advisories > 0);
  });

  test('Ubuntu 22.04: libpam0g below the fix is found, libpam-modules at it is not', async () => {
    const report = await scan(ubuntuRoot);
    assert.deepEqual(report.findings.map((f) => f.id), ['CVE-2024-22365']);
    assert.equal(report.findings[0]!.data.fixedVersion, '1.4.0-11ubuntu2.4');
    assert.deepEqual(report.coverage.map((c) => [c.ecosystem, c.packages]), [['ubuntu:22.04', 2]]);
  });
});

describe('gatehouse db import of a damaged OS feed', () => {
  test('a cut-off updateinfo.xml.gz is refused in one line and imports nothing', async () => {
    const whole = gunzipSync(readFileSync(join(fixtures, 'bottlerocket', 'updateinfo.xml.gz'))).toString('utf8');
    const cut = join(work, 'updateinfo.xml.gz');
    // Cut inside the second <update>: the first is complete, the document is not.
    writeFileSync(cut, gzipSync(whole.slice(0, whole.indexOf('<update ', whole.indexOf('</update>')) + 200)));
    const db = join(work, 'damaged.db');
    const r = await runCli(['db', 'import', cut, '--db', db]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^gatehouse: .*updateinfo\.xml\.gz: not well-formed XML \(line \d+: .+\)\n$/);
    const status = await runCli(['db', 'status', '--db', db, '--format', 'json']);
    // Either no DB was left behind, or it holds nothing of the half feed.
    if (status.code === 0) assert.equal((JSON.parse(status.stdout) as { advisories: number }).advisories, 0);
    else assert.match(status.stderr, /no vulnerability database/);
  });
});
