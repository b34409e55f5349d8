/**
 * Scans of root filesystems built for the test (an Alpine root with an `installed` DB at
 * versions named in the 3.10 secdb plus a PyPA-listed Jinja2; a Debian root with a dpkg
 * status file matched against a tracker JSON built for the test): exactly the expected ids.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCli } from '../helpers/cli.js';
import { inventoryDirectory } from '../../src/inventory/index.js';
import { VulnDb } from '../../src/vuln/db.js';
import { importPath } from '../../src/vuln/feeds/index.js';
import { scanInventory } from '../../src/vuln/scan.js';
import { trackerJson } from './fixtures.js';
import { vulndataDir } from './helpers.js';
import { assertValidSarif } from '../helpers/sarif-schema.js';

const work = mkdtempSync(join(tmpdir(), 'gatehouse-scan-'));
const dbPath = join(work, 'vuln.db');
const alpineRoot = join(work, 'alpine');
const debianRoot = join(work, 'debian');

function put(root: string, path: string, text: string): void {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  writeFileSync(join(root, path), text);
}

before(async () => {
  const db = VulnDb.open(dbPath, { create: true });
  await importPath(db, join(vulndataDir, 'alpine-secdb', 'v3.10', 'main.yaml'));
  cpSync(join(vulndataDir, 'pypa', 'vulns', 'jinja2'), join(work, 'pypa', 'jinja2'), { recursive: true });
  await importPath(db, join(work, 'pypa'));
  writeFileSync(join(work, 'tracker.json'), JSON.stringify(trackerJson()));
  await importPath(db, join(work, 'tracker.json'));
  db.close();

  put(alpineRoot, 'etc/os-release', 'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.10.4\nPRETTY_NAME="Alpine Linux v3.10"\n');
  // openssl 1.1.1c-r0 (3 CVEs fixed in 1.1.1d-r0 in 3.10), musl at its fixed version, zlib unlisted.
  put(
    alpineRoot,
    'lib/apk/db/installed',
    'P:libcrypto1.1\nV:1.1.1c-r0\nA:x86_64\no:openssl\n\nP:libssl1.1\nV:1.1.1c-r0\nA:x86_64\no:openssl\n\nP:musl\nV:1.1.22-r3\nA:x86_64\no:musl\n\nP:zlib\nV:1.2.11-r1\nA:x86_64\no:zlib\n\n',
  );
  put(alpineRoot, 'usr/lib/python3.7/site-packages/Jinja2-2.10.dist-info/METADATA', 'Metadata-Version: 2.1\nName: Jinja2\nVersion: 2.10\n');
  put(alpineRoot, 'usr/lib/python3.7/site-packages/Jinja2-2.11.3.dist-info/METADATA', 'Metadata-Version: 2.1\nName: Jinja2\nVersion: 2.11.3\n');

  put(debianRoot, 'etc/os-release', 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n');
  put(
    debianRoot,
    'var/lib/dpkg/status',
    [
      'Package: libssl3\nStatus: install ok installed\nArchitecture: amd64\nSource: openssl\nVersion: 3.0.8-1+deb12u1\n',
      'Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nSource: glibc\nVersion: 2.36-9+deb12u4\n',
    ].join('\n'),
  );
});
after(() => rmSync(work, { recursive: true, force: true }));

const ids = (r: { findings: { id: string }[] }): string[] => r.findings.map((f) => f.id).sort();

describe('vulnerability scan of root filesystems', () => {
  test('Alpine root: secdb CVEs of the openssl origin (both binaries), PyPA ids of Jinja2 2.10 only', async () => {
    const db = VulnDb.open(dbPath, { readonly: true });
    const r = scanInventory(db, await inventoryDirectory(alpineRoot), alpineRoot);
    db.close();
    assert.equal(r.os?.id, 'alpine');
    assert.deepEqual(ids(r), ['CVE-2019-1547', 'CVE-2019-1547', 'CVE-2019-1549', 'CVE-2019-1549', 'CVE-2019-1563', 'CVE-2019-1563', 'PYSEC-2019-217', 'PYSEC-2021-66']);
    assert.deepEqual([...new Set(r.findings.filter((f) => f.id.startsWith('CVE')).map((f) => f.data?.package))].sort(), ['libcrypto1.1', 'libssl1.1']);
    assert.ok(r.findings.every((f) => f.resource.image?.path));
  });

  test('Debian root: tracker statuses; --ignore-unfixed and --severity filters', async () => {
    const db = VulnDb.open(dbPath, { readonly: true });
    const inv = await inventoryDirectory(debianRoot);
    assert.deepEqual(ids(scanInventory(db, inv, debianRoot)), ['CVE-2023-0001', 'CVE-2023-0002', 'CVE-2023-0003', 'CVE-2023-0005']);
    assert.deepEqual(ids(scanInventory(db, inv, debianRoot, { ignoreUnfixed: true })), ['CVE-2023-0001']);
    assert.deepEqual(ids(scanInventory(db, inv, debianRoot, { severities: ['LOW'] })), ['CVE-2023-0002', 'CVE-2023-0005']);
    const stale = scanInventory(db, inv, debianRoot, { now: new Date(Date.now() + 30 * 86_400_000) });
    assert.ok(stale.db.stale);
    assert.match(stale.warnings.join('\n'), /more than 7 days ago/);
    db.close();
  });

  test('gatehouse fs scan: json output, --exit-code when findings remain, one-line errors', async () => {
    const r = await runCli(['fs', 'scan', debianRoot, '--db', dbPath, '--format', 'json', '--exit-code', '3', '--severity', 'MEDIUM,HIGH']);
    assert.equal(r.code, 3, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.deepEqual(report.findings.map((f: { id: string }) => f.id), ['CVE-2023-0001']);
    assert.equal(report.findings[0].data.fixedVersion, '3.0.9-1');
    const none = await runCli(['fs', 'scan', debianRoot, '--db', dbPath, '--exit-code', '3', '--severity', 'CRITICAL']);
    assert.equal(none.code, 0, none.stderr);
    assert.match(none.stdout, /2 packages, 0 vulnerabilities \(4 before filters\)/);
    const sarif = await runCli(['fs', 'scan', alpineRoot, '--db', dbPath, '--format', 'sarif']);
    assert.equal(sarif.code, 0, sarif.stderr);
    const doc = JSON.parse(sarif.stdout);
    assertValidSarif(doc);
    assert.equal(doc.version, '2.1.0');
    const results = doc.runs[0].results as { ruleId: string; ruleIndex: number; locations: { physicalLocation: { artifactLocation: { uri: string } } }[] }[];
    assert.deepEqual([...new Set(results.map((x) => x.ruleId))].sort(), ['CVE-2019-1547', 'CVE-2019-1549', 'CVE-2019-1563', 'PYSEC-2019-217', 'PYSEC-2021-66']);
    const rules = doc.runs[0].tool.driver.rules.map((x: { id: string }) => x.id);
    for (const res of results) assert.equal(rules[res.ruleIndex], res.ruleId);
    assert.ok(results.some((x) => x.locations[0]!.physicalLocation.artifactLocation.uri.endsWith('lib/apk/db/installed')));
    writeFileSync(join(work, '.trivyignore'), 'CVE-2023-0002\nCVE-2023-0003 exp:2020-01-01\n');
    writeFileSync(join(work, 'vex.json'), JSON.stringify({ statements: [{ vulnerability: { name: 'CVE-2023-0005' }, products: [{ '@id': 'pkg:deb/debian/libssl3' }], status: 'not_affected' }] }));
    const suppressed = await runCli(['fs', 'scan', debianRoot, '--db', dbPath, '--format', 'json', '--ignorefile', join(work, '.trivyignore'), '--vex', join(work, 'vex.json')]);
    assert.equal(suppressed.code, 0, suppressed.stderr);
    const sr = JSON.parse(suppressed.stdout);
    assert.deepEqual(sr.findings.map((f: { id: string }) => f.id).sort(), ['CVE-2023-0001', 'CVE-2023-0003']);
    assert.deepEqual(sr.suppressed.map((x: { id: string; by: string }) => `${x.id} ${x.by}`).sort(), ['CVE-2023-0002 ignore file', 'CVE-2023-0005 VEX not_affected']);
    assert.match(suppressed.stderr, /ignore entry CVE-2023-0003 expired on 2020-01-01: no longer suppressed/);
    const bad = await runCli(['fs', 'scan', debianRoot, '--db', dbPath, '--severity', 'SEVERE']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^gatehouse: invalid --severity: unknown severity "SEVERE"/);
  });
});

test('table: one section per target (OS packages, then each ecosystem) with totals; colour only on a terminal', async () => {
  const piped = await runCli(['fs', 'scan', alpineRoot, '--db', dbPath], { env: { NO_COLOR: undefined } });
  assert.equal(piped.code, 0, piped.stderr);
  const ESC = String.fromCharCode(27);
  assert.ok(!piped.stdout.includes(`${ESC}[`), 'no escape codes when piped');
  const titles = piped.stdout.split('\n').filter((l, i, all) => /^=+$/.test(all[i + 1] ?? ''));
  assert.deepEqual(titles, ['Alpine Linux v3.10 (OS packages)', 'Python (PyPI)']);
  assert.match(piped.stdout, /Alpine Linux v3.10 \(OS packages\)\n=+\nTotal: 6 \(CRITICAL: \d+, HIGH: \d+, MEDIUM: \d+, LOW: \d+, UNKNOWN: \d+\)/);
  const osSection = piped.stdout.slice(piped.stdout.indexOf('(OS packages)'), piped.stdout.indexOf('Python (PyPI)'));
  assert.match(osSection, /libssl1\.1 +1\.1\.1c-r0 +CVE-2019-1547/);
  assert.doesNotMatch(osSection, /Jinja2/);

  // A pseudo-terminal (script(1)) gets severities coloured; NO_COLOR turns that off.
  const cmd = `${process.execPath} ${join(process.cwd(), 'bin/gatehouse.mjs')} fs scan ${alpineRoot} --db ${dbPath}`;
  const env = { ...process.env, GATEHOUSE_FROM_SOURCE: '1' } as Record<string, string | undefined>;
  delete env.NO_COLOR;
  const onTty = spawnSync('script', ['-qec', cmd, '/dev/null'], { env, encoding: 'utf8' });
  assert.equal(onTty.status, 0, onTty.stderr);
  assert.match(onTty.stdout, new RegExp(`${ESC}\\[(1;31|31|33|34|90)m(CRITICAL|HIGH|MEDIUM|LOW|UNKNOWN) *${ESC}\\[0m`));
  const noColor = spawnSync('script', ['-qec', cmd, '/dev/null'], { env: { ...env, NO_COLOR: '1' }, encoding: 'utf8' });
  assert.ok(!noColor.stdout.includes(`${ESC}[3`) && !noColor.stdout.includes(`${ESC}[1;`), 'NO_COLOR: no colour codes');
  assert.match(noColor.stdout, /Python \(PyPI\)/);
});
