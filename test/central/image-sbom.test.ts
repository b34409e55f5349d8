/**
 * GET /api/v1/images/{digest}/sbom: the real CLI pushes the SBOM of the Debian test image
 * (`image sbom --server`), Central serves it back as CycloneDX (byte for byte what was
 * stored; valid by the CycloneDX library's strict JSON validator) and as SPDX 2.3 (valid by
 * the SPDX project's own validator, pyspdxtools; the same packages by purl).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { Spec, Validation } from '@cyclonedx/cyclonedx-library';
import { runCli } from '../helpers/cli.js';
import { cacheHas, missing } from '../helpers/components.js';
import { startTestCentral, storeTest } from '../helpers/central.js';
import { OCI_DIR } from '../fixtures/test-images.js';
import { inv } from '../inventory/helpers.js';

const work = mkdtempSync(join(tmpdir(), 'gatehouse-image-sbom-'));
after(() => rmSync(work, { recursive: true, force: true }));
const debian = `oci:${OCI_DIR}:debian`;
const pyspdxtools = join(inv, 'spdx-tools/bin/pyspdxtools');

await storeTest('an image SBOM downloads as CycloneDX (as stored) and as valid SPDX 2.3 with the same packages', async (dialect) => {
  if (!cacheHas('oci', 'index.json')) return void missing(false, 'test images not built (.ci/setup.d/40-test-images.sh)');
  if (spawnSync(pyspdxtools, ['--help']).status !== 0) return void missing(false, 'pyspdxtools (run bash .ci/setup.d/55-inventory-fixtures.sh)');
  const c = await startTestCentral({ dialect });
  try {
    const token = await c.token('ci');
    const out = join(work, `sbom-${dialect}.cdx.json`);
    const push = await runCli(['image', 'sbom', debian, '--format', 'cyclonedx', '--output', out, '--server', c.url, '--token', token], {
      env: { GATEHOUSE_SERVER: undefined, GATEHOUSE_TOKEN: undefined, GATEHOUSE_CA: undefined }, timeoutMs: 180_000,
    });
    assert.equal(push.code, 0, push.stderr);
    const digest = /pushed image (sha256:[0-9a-f]{64})/.exec(push.stderr)?.[1];
    assert.ok(digest, push.stderr);
    const analyst = await c.token('analyst');
    const get = (q: string, tok = analyst) => fetch(`${c.url}/api/v1/images/${digest}/sbom${q}`, { headers: { authorization: `Bearer ${tok}` } });

    // CycloneDX: what the CLI pushed, as a named attachment.
    const cdxRes = await get('?format=cyclonedx');
    assert.equal(cdxRes.status, 200);
    assert.match(cdxRes.headers.get('content-type') ?? '', /^application\/vnd\.cyclonedx\+json/);
    assert.match(cdxRes.headers.get('content-disposition') ?? '', new RegExp(`^attachment; filename="oci_debian-${digest.slice(7, 19)}\\.cdx\\.json"$`));
    const cdxText = await cdxRes.text();
    const cdx = JSON.parse(cdxText);
    const pushed = JSON.parse(readFileSync(out, 'utf8'));
    assert.deepEqual(cdx.components.map((x: { purl: string }) => x.purl).sort(), pushed.components.map((x: { purl: string }) => x.purl).sort());
    const cdxError = await new Validation.JsonStrictValidator(Spec.Version.v1dot6).validate(cdxText);
    assert.equal(cdxError, null, `CycloneDX schema errors: ${JSON.stringify(cdxError)}`);
    assert.deepEqual(await (await get('')).json(), cdx, 'CycloneDX is the default');

    // SPDX 2.3, written from the stored SBOM by the one SPDX writer.
    const spdxRes = await get('?format=spdx');
    assert.equal(spdxRes.status, 200);
    assert.match(spdxRes.headers.get('content-type') ?? '', /^application\/spdx\+json/);
    assert.match(spdxRes.headers.get('content-disposition') ?? '', /filename="oci_debian-[0-9a-f]{12}\.spdx\.json"/);
    const spdx = (await spdxRes.json()) as any;
    assert.equal(spdx.spdxVersion, 'SPDX-2.3');
    const file = join(work, `doc-${dialect}.spdx.json`);
    writeFileSync(file, JSON.stringify(spdx));
    const v = spawnSync(pyspdxtools, ['-i', file], { encoding: 'utf8' });
    assert.equal(v.status, 0, `pyspdxtools: ${v.stdout}${v.stderr}`);
    const spdxPurls = spdx.packages.flatMap((p: any) => (p.externalRefs ?? []).map((r: any) => r.referenceLocator)).sort();
    const libraryPurls = cdx.components.filter((x: { type: string }) => x.type !== 'operating-system').map((x: { purl: string }) => x.purl).sort();
    assert.ok(libraryPurls.length > 50, `the Debian image has packages (${libraryPurls.length})`);
    assert.deepEqual(spdxPurls, libraryPurls, 'SPDX lists the same packages as the CycloneDX SBOM');
    assert.ok(spdx.packages.some((p: any) => p.primaryPackagePurpose === 'OPERATING-SYSTEM' && p.name === 'debian'));
    assert.equal(spdx.packages[0].versionInfo, digest);

    // Errors: one line each, and only readers may download.
    const bad = await get('?format=xml');
    assert.equal(bad.status, 400);
    assert.equal((await get('?format=spdx&colour=red')).status, 400, 'an unknown query parameter is refused');
    const missingImage = await fetch(`${c.url}/api/v1/images/sha256:${'0'.repeat(64)}/sbom`, { headers: { authorization: `Bearer ${analyst}` } });
    assert.equal(missingImage.status, 404);
    assert.match(((await missingImage.json()) as { message: string }).message, /^no image sha256:0+$/);
    assert.equal((await get('?format=spdx', await c.token('sensor'))).status, 403);
    assert.equal((await fetch(`${c.url}/api/v1/images/${digest}/sbom`)).status, 401);

    // An image pushed without an SBOM: a clear 404.
    const bare = `sha256:${'b'.repeat(64)}`;
    assert.equal((await c.api('POST', '/api/v1/ingest/images', { image: { digest: bare } })).status, 200);
    const none = await c.api('GET', `/api/v1/images/${bare}/sbom?format=spdx`);
    assert.equal(none.status, 404);
    assert.match(none.body.message, /has no SBOM/);
  } finally {
    await c.close();
  }
});
