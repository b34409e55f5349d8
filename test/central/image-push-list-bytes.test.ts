/**
 * A component list sent whole reaches the store as UTF-8 bytes (the image worker moves them to
 * the main thread; the store makes them text: SQLite `cast(… as text)`, PostgreSQL
 * `convert_from`), not as a string cloned onto the main thread's heap. Proven against real
 * Centrals on both stores: lists holding every kind of character JSON carries (Latin-1,
 * CJK, astral, escaped quotes, backslashes and controls, U+2028, a lone surrogate's escape)
 * are stored as text equal to JSON.stringify of the list under its address, read back byte
 * for byte in the SBOM, found by address by a later push, and stored exactly as Central's
 * own scan path (the string path, upsertImageReport) stores the same list.
 */
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { addressedImageReport, sbomComponentsAddress, type ImageReport } from '../../src/central/client/ingest-types.js';
import { upsertImageReport } from '../../src/central/store/images.js';
import { startTestCentral, storeTest, type TestCentral } from '../helpers/central.js';

const NAMES = ['café-é', '中文包', 'whale-🐳', 'quote-"-back\\slash', 'ctl-\u0001\t\n', 'sep-\u2028\u2029', 'lone-\ud800-x', 'plain'];

function report(k: number): ImageReport {
  const components = [
    { type: 'operating-system', name: 'debian', version: '12', description: 'Débian GNU/Linux 12 « bookworm »' },
    ...NAMES.map((n, i) => ({
      type: 'library', name: `${n}-${k}`, version: `1.${i}`, purl: `pkg:deb/debian/p${i}@1.${i}?arch=amd64`, description: `${n} ${'ü'.repeat(i * 50)}`,
      properties: [{ name: 'gatehouse:package:ecosystem', value: 'Debian' }, { name: 'gatehouse:package:location', value: `/var/lib/dpkg/status ${n}` }],
    })),
  ];
  const digest = `sha256:${(k + 1).toString(16).padStart(2, '0').repeat(32)}`;
  return {
    image: { digest, refs: [`reg.example/bytes-${k}:1`], os: { family: 'debian', version: '12' } },
    sbom: { bomFormat: 'CycloneDX', specVersion: '1.6', serialNumber: `urn:uuid:00000000-0000-4000-8000-${k.toString(16).padStart(12, '0')}`, version: 1, components },
  };
}

/** The stored list rows: address, text, and the value's type as the store holds it. */
async function lists(c: TestCentral) {
  const type = c.store.dialect === 'postgres' ? sql<string>`pg_typeof(body)::text` : sql<string>`typeof(body)`;
  return (await c.db().selectFrom('sbom_component_lists').select(['hash', 'body', type.as('type')]).orderBy('hash').execute())
    .map((r) => ({ hash: r.hash, body: r.body, type: r.type }));
}

const sbomText = async (c: TestCentral, digest: string) => (await fetch(`${c.url}/api/v1/images/${digest}/sbom`, { headers: { authorization: `Bearer ${c.adminToken}` } })).text();

await storeTest('a list sent whole is stored as text equal to the list, from its UTF-8 bytes', async (dialect) => {
  const pushed = await startTestCentral({ dialect });
  const scanned = await startTestCentral({ dialect });
  try {
    for (const k of [0, 1]) {
      const r = report(k);
      const res = await pushed.api('POST', '/api/v1/ingest/images', r);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      await upsertImageReport(scanned.db(), r, new Date().toISOString());
      assert.equal(await sbomText(pushed, r.image.digest), JSON.stringify(r.sbom), 'the SBOM reads back as the text pushed');
    }
    const stored = await lists(pushed);
    assert.deepEqual(stored.map((l) => l.hash), [0, 1].map((k) => sbomComponentsAddress(report(k).sbom!.components as unknown[])).sort());
    for (const l of stored) {
      assert.equal(typeof l.body, 'string');
      assert.equal(l.type, 'text', 'stored as text, not as a blob');
      assert.equal(sbomComponentsAddress(JSON.parse(l.body) as unknown[]), l.hash, 'the text is the list under its address');
    }
    assert.deepEqual(stored, await lists(scanned), 'the same rows as the string path stores');
    // A later image of list 1 names it by address: found, and its SBOM reads back whole.
    const again = { ...report(1), image: { ...report(1).image, digest: `sha256:${'ab'.repeat(32)}` } };
    const named = await pushed.api('POST', '/api/v1/ingest/images', addressedImageReport(again));
    assert.equal(named.status, 200, JSON.stringify(named.body));
    assert.equal(await sbomText(pushed, again.image.digest), JSON.stringify(again.sbom));
  } finally {
    await pushed.close();
    await scanned.close();
  }
});
