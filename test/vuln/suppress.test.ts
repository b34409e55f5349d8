/** Ignore files (.trivyignore lines and YAML, with expiry) and OpenVEX suppression. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { Finding } from '../../src/findings/finding.js';
import { applySuppressions, loadIgnoreFile, loadOpenVex } from '../../src/vuln/suppress.js';

const work = mkdtempSync(join(tmpdir(), 'gatehouse-suppress-'));
after(() => rmSync(work, { recursive: true, force: true }));
const file = (name: string, text: string): string => {
  writeFileSync(join(work, name), text);
  return join(work, name);
};

function finding(id: string, pkg: string, purl: string, aliases: string[] = [], matchedName = pkg): Finding {
  return { id, kind: 'vulnerability', severity: 'HIGH', title: id, resource: { image: { path: '/x' } }, data: { package: pkg, matchedName, purl, aliases } };
}

const findings = [
  finding('CVE-2023-0001', 'libssl3', 'pkg:deb/debian/libssl3@3.0.8-1?arch=amd64&distro=debian-12', [], 'openssl'),
  finding('CVE-2023-0001', 'libcrypto3', 'pkg:deb/debian/libcrypto3@3.0.8-1?arch=amd64', [], 'openssl'),
  finding('GO-2021-0052', 'github.com/gin-gonic/gin', 'pkg:golang/github.com/gin-gonic/gin@v1.6.3', ['CVE-2020-28483', 'GHSA-h395-qcrw-5vmq']),
  finding('PYSEC-2021-66', 'jinja2', 'pkg:pypi/jinja2@2.10'),
];
const now = new Date('2025-06-01T00:00:00Z');
const kept = (r: ReturnType<typeof applySuppressions>): string[] => r.kept.map((f) => `${f.id}/${f.data?.package}`);

describe('ignore files', () => {
  test('.trivyignore lines: ids or aliases, comments, exp: dates; expired entries stop suppressing', () => {
    const entries = loadIgnoreFile(file('.trivyignore', '# accepted risks\nCVE-2020-28483  # by alias\nPYSEC-2021-66 exp:2025-01-01\nCVE-2023-0001 exp:2026-01-01\n'));
    const r = applySuppressions(findings, entries, [], now);
    assert.deepEqual(kept(r), ['PYSEC-2021-66/jinja2']);
    assert.deepEqual(r.expired.map((e) => e.policy), ['PYSEC-2021-66']);
    assert.deepEqual(r.suppressed.map((s) => s.finding.id), ['CVE-2023-0001', 'CVE-2023-0001', 'GO-2021-0052']);
  });

  test('YAML entries limited to a package (binary or source name) or purl, with reasons', () => {
    const entries = loadIgnoreFile(
      file(
        'ignore.yaml',
        'vulnerabilities:\n  - id: CVE-2023-0001\n    package: libssl3\n    reason: not reachable\n  - id: GO-2021-0052\n    purls: ["pkg:golang/github.com/gin-gonic/gin@v1.9.0"]\n  - id: PYSEC-2021-66\n    package: jinja2\n    expired_at: 2026-01-01\n',
      ),
    );
    const r = applySuppressions(findings, entries, [], now);
    assert.deepEqual(kept(r), ['CVE-2023-0001/libcrypto3', 'GO-2021-0052/github.com/gin-gonic/gin']);
    assert.equal(r.suppressed[0]!.by, 'ignore file: not reachable');
    const bySource = applySuppressions(findings, loadIgnoreFile(file('src.yaml', 'vulnerabilities:\n  - id: CVE-2023-0001\n    package: openssl\n')), [], now);
    assert.equal(bySource.suppressed.length, 2);
  });

  test('bad ignore files are one-line errors', () => {
    assert.throws(() => loadIgnoreFile(join(work, 'missing')), /cannot read ignore file/);
    assert.throws(() => loadIgnoreFile(file('bad1', 'CVE-1 until:2020\n')), /bad1:1: unexpected "until:2020"/);
    assert.throws(() => loadIgnoreFile(file('bad2', 'CVE-1 exp:someday\n')), /expiry is not a date/);
    assert.throws(() => loadIgnoreFile(file('bad3.yaml', 'vulnerabilities:\n  - package: x\n')), /entry 1: missing "id"/);
  });
});

describe('OpenVEX', () => {
  test('not_affected / fixed suppress for the named products; affected and other products do not', () => {
    const vex = loadOpenVex(
      file(
        'doc.openvex.json',
        JSON.stringify({
          '@context': 'https://openvex.dev/ns/v0.2.0',
          statements: [
            { vulnerability: { name: 'CVE-2023-0001' }, products: [{ '@id': 'pkg:oci/app@sha256:abc', subcomponents: [{ '@id': 'pkg:deb/debian/libssl3' }] }], status: 'not_affected', justification: 'vulnerable_code_not_in_execute_path' },
            { vulnerability: { name: 'GHSA-h395-qcrw-5vmq' }, products: [{ '@id': 'pkg:oci/app@sha256:abc' }], status: 'fixed' },
            { vulnerability: { name: 'PYSEC-2021-66' }, products: [{ '@id': 'pkg:pypi/jinja2@2.10' }], status: 'affected' },
          ],
        }),
      ),
    );
    const r = applySuppressions(findings, [], vex, now);
    assert.deepEqual(kept(r), ['CVE-2023-0001/libcrypto3', 'PYSEC-2021-66/jinja2']);
    assert.deepEqual(r.suppressed.map((s) => s.by), ['VEX not_affected (vulnerable_code_not_in_execute_path)', 'VEX fixed']);
    const versioned = loadOpenVex(file('v.json', JSON.stringify({ statements: [{ vulnerability: 'PYSEC-2021-66', products: ['pkg:pypi/jinja2@2.11'], status: 'not_affected' }] })));
    assert.equal(applySuppressions(findings, [], versioned, now).suppressed.length, 0, 'another version of the package is not covered');
    assert.throws(() => loadOpenVex(file('nv.json', '{"hello": 1}')), /not an OpenVEX document/);
  });
});
