/**
 * `gatehouse image scan` of the debootstrap-built Debian image (.ci/setup.d/40-test-images.sh)
 * against a Debian tracker JSON built for the test from that image's own source packages:
 * each constructed case (fixed above / below the installed version, open, "0") must come out
 * exactly as constructed, through the real image reader and inventory.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { cacheHas, missing } from '../helpers/components.js';
import { runCli } from '../helpers/cli.js';
import { OCI_DIR } from '../fixtures/test-images.js';
import { openImage } from '../../src/image/index.js';
import { inventoryImage } from '../../src/inventory/index.js';
import { VulnDb } from '../../src/vuln/db.js';
import { importPath } from '../../src/vuln/feeds/index.js';

const work = mkdtempSync(join(tmpdir(), 'gatehouse-image-scan-'));
after(() => rmSync(work, { recursive: true, force: true }));
const ref = `oci:${OCI_DIR}:debian`;

test('image scan of the Debian test image reports exactly the constructed tracker cases', { skip: missing(cacheHas('oci', 'index.json'), 'test images not built (.ci/setup.d/40-test-images.sh)') }, async () => {
  const img = await openImage(ref);
  let inv;
  try {
    inv = await inventoryImage(img);
  } finally {
    await img.close();
  }
  assert.equal(inv.os?.id, 'debian');
  const codename = inv.os?.codename ?? 'bookworm';
  // Source package → the source version installed (the key the tracker uses).
  const sources = new Map<string, string>();
  for (const p of inv.packages) if (p.ecosystem === 'Debian') sources.set(p.source?.name ?? p.name, p.source?.version ?? p.version);
  const picked = [...sources.keys()].sort().slice(0, 4);
  assert.equal(picked.length, 4, 'the image has at least 4 source packages');
  const tracker: Record<string, Record<string, unknown>> = {};
  const expected: string[] = [];
  picked.forEach((src, i) => {
    const installed = sources.get(src)!;
    const rel = (r: Record<string, unknown>) => ({ releases: { [codename]: r } });
    tracker[src] = {
      [`CVE-2099-${i}001`]: rel({ status: 'resolved', fixed_version: `${installed}+gh1`, urgency: 'high' }), // fixed later: affected
      [`CVE-2099-${i}002`]: rel({ status: 'resolved', fixed_version: '0.0.1-1', urgency: 'high' }), // fixed before: not affected
      [`CVE-2099-${i}003`]: rel({ status: 'open', urgency: 'low' }), // no fix yet: affected
      [`CVE-2099-${i}004`]: rel({ status: 'resolved', fixed_version: '0', urgency: 'low' }), // never affected
      [`CVE-2099-${i}005`]: { releases: { sid: { status: 'open', urgency: 'low' } } }, // other release only
    };
    expected.push(`CVE-2099-${i}001`, `CVE-2099-${i}003`);
  });
  writeFileSync(join(work, 'tracker.json'), JSON.stringify(tracker));
  const dbPath = join(work, 'vuln.db');
  const db = VulnDb.open(dbPath, { create: true });
  await importPath(db, join(work, 'tracker.json'));
  db.close();

  const r = await runCli(['image', 'scan', ref, '--db', dbPath, '--scanners', 'vuln', '--format', 'json']);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  const got = [...new Set(report.findings.map((f: { id: string }) => f.id))].sort();
  assert.deepEqual(got, expected.sort());
  assert.equal(report.findings.length, 2 * inv.packages.filter((p) => p.ecosystem === 'Debian' && picked.includes(p.source?.name ?? p.name)).length);
  for (const f of report.findings as { id: string; data: { status: string; fixedVersion?: string }; resource: { image: { path: string; layer?: number } } }[]) {
    assert.equal(f.resource.image.path, '/var/lib/dpkg/status');
    if (f.id.endsWith('001')) assert.match(f.data.fixedVersion!, /\+gh1$/);
    else assert.equal(f.data.status, 'no-fix-yet');
  }
  const gated = await runCli(['image', 'scan', ref, '--db', dbPath, '--scanners', 'vuln', '--ignore-unfixed', '--severity', 'HIGH', '--exit-code', '1']);
  assert.equal(gated.code, 1, gated.stderr);
  // One finding per installed binary package built from a picked source.
  const binaries = inv.packages.filter((p) => p.ecosystem === 'Debian' && picked.includes(p.source?.name ?? p.name)).length;
  assert.match(gated.stdout, new RegExp(`: ${inv.packages.length} packages, ${binaries} vulnerabilities \\(${binaries * 2} before filters\\)`));
});
