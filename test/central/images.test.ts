import assert from 'node:assert/strict';
import { startTestCentral, storeTest } from '../helpers/central.js';

const digest = 'sha256:' + 'a'.repeat(64);
const vuln = (id: string, severity: string, fixed?: string) => ({
  id, kind: 'vulnerability', severity, title: `${id} in openssl`,
  resource: { image: { ref: 'reg/app:1', layer: 0 } },
  data: { package: 'openssl', installedVersion: '3.0.1', ...(fixed ? { fixedVersion: fixed } : {}) },
});
const sbom = { bomFormat: 'CycloneDX', specVersion: '1.6', components: [{ type: 'library', name: 'openssl', version: '3.0.1', purl: 'pkg:deb/debian/openssl@3.0.1' }] };

await storeTest('pushing the same digest twice updates one image and replaces its findings', async (dialect) => {
  const c = await startTestCentral({ dialect });
  try {
    const ci = await c.token('ci');
    const first = await c.api('POST', '/api/v1/ingest/images', { image: { digest, refs: ['reg/app:1'], os: { family: 'debian', version: '12' } }, sbom, findings: [vuln('CVE-2024-1', 'HIGH', '3.0.2'), vuln('CVE-2024-2', 'LOW')] }, ci);
    assert.equal(first.status, 200);
    assert.equal(first.body.created, true);
    const second = await c.api('POST', '/api/v1/ingest/images', { image: { digest, refs: ['reg/app:latest'] }, findings: [vuln('CVE-2024-1', 'HIGH', '3.0.2')] }, ci);
    assert.equal(second.body.created, false);
    const list = await c.api('GET', `/api/v1/images?digest=${digest}`);
    assert.equal(list.body.items.length, 1);
    assert.deepEqual(list.body.items[0].refs, ['reg/app:1', 'reg/app:latest']);
    assert.deepEqual(list.body.items[0].summary, { counts: { vulnerability: { HIGH: 1 } }, fixable: 1, knownExploited: 0 });
    const detail = await c.api('GET', `/api/v1/images/${digest}`);
    assert.equal(detail.body.vulnerabilities.length, 1);
    assert.equal(detail.body.vulnerabilities[0].resource.image.digest, digest);
    assert.deepEqual(detail.body.components.map((x: { name: string }) => x.name), ['openssl'], 'the SBOM of the first push is kept');
    assert.deepEqual(detail.body.os, { family: 'debian', version: '12' });
    const byRef = await c.api('GET', '/api/v1/images?ref=reg/app:latest');
    assert.equal(byRef.body.items.length, 1);
    assert.equal((await c.api('GET', '/api/v1/images?ref=reg/app')).body.items.length, 0, 'a ref filter matches whole references');
  } finally {
    await c.close();
  }
});

await storeTest('a rejected push stores nothing, and only ingest roles may push', async (dialect) => {
  const c = await startTestCentral({ dialect });
  try {
    const bad = { ...vuln('CVE-1', 'HIGH'), colour: 'red' };
    const r = await c.api('POST', '/api/v1/ingest/images', { image: { digest }, findings: [vuln('CVE-0', 'LOW'), bad] });
    assert.equal(r.status, 400);
    assert.match(r.body.message, /unknown field "colour" in \/findings\/1/);
    const sev = await c.api('POST', '/api/v1/ingest/images', { image: { digest }, findings: [{ ...vuln('CVE-1', 'SEVERE') }] });
    assert.equal(sev.status, 400);
    assert.equal((await c.api('POST', '/api/v1/ingest/images', { image: { digest: 'latest' } })).status, 400);
    // The body is parsed in an image worker: the same guards and one-line answers as every route.
    const truncated = await c.api('POST', '/api/v1/ingest/images', `{"image": {"digest": "${digest}"}, "findings": [`);
    assert.equal(truncated.status, 400);
    assert.match(truncated.body.message, /^body is not valid JSON: /);
    assert.doesNotMatch(truncated.body.message, /\n|at .*\.(js|ts)/);
    const poisoned = await c.api('POST', '/api/v1/ingest/images', `{"image": {"digest": "${digest}"}, "__proto__": {"admin": true}}`);
    assert.equal(poisoned.status, 400);
    assert.match(poisoned.body.message, /forbidden prototype property/);
    const notJson = await fetch(`${c.url}/api/v1/ingest/images`, { method: 'POST', headers: { authorization: `Bearer ${c.adminToken}`, 'content-type': 'text/plain' }, body: 'x' });
    assert.equal(notJson.status, 415);
    assert.equal((await c.api('GET', '/api/v1/images')).body.items.length, 0);
    assert.equal((await c.api('POST', '/api/v1/ingest/images', { image: { digest } }, await c.token('sensor'))).status, 403);
    assert.equal((await c.api('POST', '/api/v1/ingest/images', { image: { digest } }, await c.token('analyst'))).status, 403);
    assert.equal((await c.api('GET', `/api/v1/images/${digest}`)).status, 404);
  } finally {
    await c.close();
  }
});

await storeTest('image lists page with a cursor', async (dialect) => {
  const c = await startTestCentral({ dialect });
  try {
    for (let i = 0; i < 7; i++) await c.api('POST', '/api/v1/ingest/images', { image: { digest: `sha256:${String(i).repeat(64)}` } });
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { body: { items: { digest: string }[]; nextCursor: string | null } } = await c.api('GET', `/api/v1/images?limit=3${cursor ? `&cursor=${cursor}` : ''}`);
      seen.push(...page.body.items.map((x) => x.digest));
      cursor = page.body.nextCursor;
    } while (cursor);
    assert.equal(seen.length, 7);
    assert.equal(new Set(seen).size, 7);
    assert.equal((await c.api('GET', '/api/v1/images?cursor=garbage')).status, 400);
  } finally {
    await c.close();
  }
});
