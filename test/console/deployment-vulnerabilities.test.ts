/** `GET /api/v1/deployments/{id}/vulnerabilities` on SQLite and PostgreSQL. */
import assert from 'node:assert/strict';
import { startTestCentral, storeTest } from '../helpers/central.js';
import { APP, SIDECAR, twoImageDeployment } from './deployment-vulns-fixture.js';

interface Row { id: string; severity: string; package: string; version: string; fixedVersion?: string; images: string[]; layer?: string | number }

await storeTest('a deployment\'s vulnerabilities: one row per CVE and package across its images', async (dialect) => {
  const c = await startTestCentral({ dialect });
  try {
    const id = await twoImageDeployment(c);
    const path = `/api/v1/deployments/${encodeURIComponent(id)}/vulnerabilities`;
    const all = await c.api('GET', path, undefined, await c.token('analyst'));
    assert.equal(all.status, 200, JSON.stringify(all.body));
    const items = all.body.items as Row[];
    assert.deepEqual(items.map((v) => [v.severity, v.id, v.package]), [
      ['CRITICAL', 'CVE-2024-0002', 'libxml2'], ['HIGH', 'CVE-2024-0001', 'openssl'], ['MEDIUM', 'GHSA-aaaa-bbbb-cccc', 'lodash'], ['LOW', 'CVE-2024-0003', 'zlib'],
    ], 'by severity then id; the secret is not a vulnerability');
    const shared = items.find((v) => v.id === 'CVE-2024-0001')!;
    assert.deepEqual([...shared.images].sort(), [APP, SIDECAR].sort(), 'the shared package is one row listing both images');
    assert.deepEqual(shared, { id: 'CVE-2024-0001', severity: 'HIGH', package: 'openssl', version: '3.0.1', fixedVersion: '3.0.2', images: shared.images, layer: 0 });
    assert.deepEqual(items.find((v) => v.id === 'CVE-2024-0003')!.images, [SIDECAR]);
    assert.equal(all.body.nextCursor, null);

    const fixable = (await c.api('GET', `${path}?fixable=true`)).body.items as Row[];
    assert.deepEqual(fixable.map((v) => v.id), ['CVE-2024-0001', 'GHSA-aaaa-bbbb-cccc']);
    const severe = (await c.api('GET', `${path}?severity=critical,low`)).body.items as Row[];
    assert.deepEqual(severe.map((v) => v.id), ['CVE-2024-0002', 'CVE-2024-0003']);

    // Paged by a cursor: the pages join to the whole list.
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { status: number; body: { items: Row[]; nextCursor: string | null } } = await c.api('GET', `${path}?limit=3${cursor ? `&cursor=${cursor}` : ''}`);
      assert.equal(page.status, 200);
      seen.push(...page.body.items.map((v) => v.id));
      cursor = page.body.nextCursor;
    } while (cursor);
    assert.deepEqual(seen, items.map((v) => v.id));

    const missing = await c.api('GET', '/api/v1/deployments/no-such-deployment/vulnerabilities');
    assert.equal(missing.status, 404);
    assert.match(missing.body.message, /no deployment no-such-deployment/);
    const bad = await c.api('GET', `${path}?severity=SEVERE`);
    assert.equal(bad.status, 400);
    assert.match(bad.body.message, /unknown severity "SEVERE"/);
    assert.equal((await c.api('GET', `${path}?colour=red`)).status, 400, 'unknown parameters are errors');
    assert.equal((await c.api('GET', path, undefined, '')).status, 401);
  } finally {
    await c.close();
  }
});
