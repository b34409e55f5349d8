/**
 * encodeVulnerabilities reuses the split of a finding it saw before (same JSON but for the
 * fingerprint and image digest): it must give exactly what splitting afresh gives, for the
 * same findings under another digest and for findings that differ in any other way,
 * key order included.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeVulnerabilities, splitVulnerability, vulnerabilityEntry, type StoredFinding } from '../../src/central/store/image-findings.js';

const base = (i: number, digest: string): StoredFinding => ({
  id: `CVE-2026-${i}`, kind: 'vulnerability', severity: 'HIGH', title: `CVE-2026-${i} in pkg-${i}`, fingerprint: `fp-${digest}-${i}`,
  detail: `flaw ${i}`, references: [`https://example.test/${i}`],
  resource: { image: { ref: 'reg/app:1', digest, layer: i % 3, path: '/var/lib/dpkg/status' } },
  data: { package: `pkg-${i}`, installedVersion: '1.0', fixedVersion: '1.1', cve: `CVE-2026-${i}`, cvss: { score: 7.5, vector: 'AV:N' }, modified: '2026-01-01T00:00:00Z' },
});

/** What splitting every finding afresh gives. */
function fresh(list: StoredFinding[]) {
  const texts = { findings: {} as Record<string, string>, advisories: {} as Record<string, string> };
  const doc = JSON.stringify(list.map((f) => {
    const s = splitVulnerability(f);
    texts.findings[s.bodyHash] = s.body;
    if (s.advisory) texts.advisories[s.advisory.hash] = s.advisory.text;
    return vulnerabilityEntry(f.fingerprint, s);
  }));
  return { doc, texts };
}

test('a remembered split is reused only for the same finding, digest and fingerprint aside', () => {
  const variants: ((f: StoredFinding) => StoredFinding)[] = [
    (f) => f,
    (f) => ({ ...f, resource: { image: { ...f.resource.image, digest: 'sha256:other' } }, fingerprint: 'other' }),
    (f) => ({ ...f, detail: 'another text' }),
    (f) => ({ ...f, data: { ...f.data, cvss: { score: 9.8, vector: 'AV:N' } } }),
    (f) => ({ ...f, data: { ...f.data, modified: '2026-02-02T00:00:00Z' } }),
    (f) => ({ ...f, references: [...(f.references ?? []), 'https://example.test/more'] }),
    (f) => ({ ...f, resource: { image: { ...f.resource.image, layer: 7 } } }),
    (f) => { const { severity, ...rest } = f; return { severity, ...rest }; }, // same keys, another order
    (f) => ({ ...f, data: { cvss: f.data!.cvss, ...f.data } }),
    (f) => ({ ...f, resource: { image: { digest: f.resource.image!.digest, ...f.resource.image } } }),
    (f) => ({ ...f, title: `${f.title} ` }),
    (f) => { const { remediation: _r, ...rest } = { ...f, remediation: 'upgrade' }; return { ...rest, remediation: 'upgrade' }; },
  ];
  for (const [v, variant] of variants.entries()) {
    // The base findings remembered first, then the variant under another digest.
    const seen = [0, 1, 2].map((i) => base(i, 'sha256:a'));
    assert.deepEqual(encodeVulnerabilities(seen), fresh(seen));
    const list = [0, 1, 2].map((i) => variant(base(i, 'sha256:b')));
    assert.deepEqual(encodeVulnerabilities(list), fresh(list), `variant ${v}`);
  }
});
