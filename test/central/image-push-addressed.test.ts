/**
 * Image pushes that name their SBOM's component list by address (issue 16's ingest): the
 * client sends `sbom.components` as the list's address, Central answers 409 missing-content
 * when it holds no such list, and the client sends the push whole. Proven against real
 * Centrals on SQLite and PostgreSQL:
 *   - differential: images pushed addressed (409, then whole, or accepted by address) are
 *     stored exactly as the same images pushed whole by an old client to another Central
 *     (image detail, list, SBOM text byte for byte, violations of a component policy);
 *   - a list in the store that the image worker never parsed is read from the store;
 *   - an unknown or malformed address, and a push naming one list while having sent
 *     another, store nothing or only what the client could have sent whole;
 *   - `image sbom --server` uses the protocol end to end.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { sql } from 'kysely';
import { addressedImageReport, sbomComponentsAddress, type ImageReport } from '../../src/central/client/ingest-types.js';
import { upsertImageReport } from '../../src/central/store/images.js';
import { runCli } from '../helpers/cli.js';
import { cacheHas, missing } from '../helpers/components.js';
import { startTestCentral, storeTest, type TestCentral } from '../helpers/central.js';
import { OCI_DIR } from '../fixtures/test-images.js';

const work = mkdtempSync(join(tmpdir(), 'gatehouse-push-addressed-'));
after(() => rmSync(work, { recursive: true, force: true }));

const NOW = new Date('2026-12-01T12:00:00.000Z');
const POLICIES = `apiVersion: gatehouse.dev/v1
kind: PolicyPack
metadata: { name: addressed }
subject: image
policies:
  - id: no-pkg-1-3
    name: pkg-1-3 is installed
    severity: LOW
    stages: [build]
    criteria: { field: component.name, op: equals, value: pkg-1-3 }
    enforcement: [inform]
  - id: no-gpl
    name: GPL component
    severity: MEDIUM
    stages: [build]
    criteria: { field: component.licenses, op: matches, value: "^GPL-" }
    enforcement: [inform]
`;

/** Component list `list` (lists differ in size, names, versions and licences). */
function components(list: number): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [{ type: 'operating-system', name: 'debian', version: '12', description: 'Debian GNU/Linux 12 (bookworm)' }];
  for (let i = 0; i < 20 + list * 7; i++) {
    const name = `pkg-${list}-${i}`;
    const version = `1.${i}.${list}`;
    out.push({
      type: 'library', name, version, purl: `pkg:deb/debian/${name}@${version}?arch=amd64`,
      ...(i % 5 === 0 ? { licenses: [{ license: { id: i % 10 === 0 ? 'GPL-2.0-only' : 'MIT' } }] } : {}),
      properties: [
        { name: 'gatehouse:package:ecosystem', value: 'Debian' },
        { name: 'gatehouse:package:location', value: '/var/lib/dpkg/status' },
        { name: 'gatehouse:package:layer', value: String(i % 3) },
        ...(i % 4 === 0 ? [{ name: 'gatehouse:package:sourceName', value: `src-${list}-${i}` }, { name: 'gatehouse:package:sourceVersion', value: version }] : []),
      ],
    });
  }
  return out;
}

/** Image `k` with component list `list`: a generated scan as `image scan` pushes it. */
function image(k: number, list: number): ImageReport {
  const digest = `sha256:${(k + 1).toString(16).padStart(2, '0').repeat(32)}`;
  const comps = components(list);
  const findings = comps.slice(1).filter((_, i) => i % 3 === k % 3).map((c, i) => ({
    id: `CVE-2026-${1000 + i}`, kind: 'vulnerability', severity: ['LOW', 'MEDIUM', 'HIGH', 'CRITICAL'][i % 4]!, title: `CVE-2026-${1000 + i} in ${c.name as string}`,
    detail: `A flaw in ${c.name as string}.`, references: [`https://example.test/CVE-2026-${1000 + i}`],
    resource: { image: { ref: `reg.example/app-${k}:1`, layer: i % 3 } },
    data: { package: c.name, installedVersion: c.version, ...(i % 2 ? { fixedVersion: `${c.version as string}+1` } : {}), cve: `CVE-2026-${1000 + i}`, cvss: { score: 5 + (i % 5) }, feed: 'debian', published: '2026-01-01T00:00:00Z', modified: '2026-02-01T00:00:00Z' },
  }));
  return {
    image: { digest, refs: [`reg.example/app-${k}:1`], os: { family: 'debian', version: '12' }, created: k % 2 ? '2020-01-01T00:00:00Z' : '2026-11-30T00:00:00Z', layers: [{ digest: `sha256:${'1'.repeat(64)}`, size: 1000 + k }] },
    sbom: {
      bomFormat: 'CycloneDX', specVersion: '1.6', serialNumber: `urn:uuid:00000000-0000-4000-8000-${k.toString(16).padStart(12, '0')}`, version: 1,
      metadata: { timestamp: `2026-11-${10 + k}T00:00:00Z`, component: { type: 'container', name: `reg.example/app-${k}:1` } },
      components: comps,
      dependencies: comps.slice(1, 4).map((c) => ({ ref: c.purl })),
    },
    findings: [...findings, { id: 'secret-aws-key', kind: 'secret', severity: 'HIGH', title: 'AWS key in /app/.env', resource: { image: { path: '/app/.env', layer: 2 } } }] as ImageReport['findings'],
    db: { version: 'v1-2026-12-01' },
  };
}

/** Images 0–5 over three lists, repeated as rebuilds repeat them. */
const LISTS = [0, 1, 0, 2, 1, 0];
const images = LISTS.map((list, k) => image(k, list));

async function central(dialect: 'sqlite' | 'postgres'): Promise<TestCentral> {
  const c = await startTestCentral({ dialect, now: () => NOW });
  assert.equal((await c.api('POST', '/api/v1/policies', { pack: 'addressed', yaml: POLICIES })).status, 200);
  return c;
}

/** Everything Central serves about an image, violations without their row ids. */
async function served(c: TestCentral, digest: string) {
  const sbom = await fetch(`${c.url}/api/v1/images/${digest}/sbom`, { headers: { authorization: `Bearer ${c.adminToken}` } });
  const violations = (await c.api('GET', `/api/v1/violations?subject=${encodeURIComponent(digest)}&limit=100`)).body.items as Record<string, unknown>[];
  return {
    detail: (await c.api('GET', `/api/v1/images/${digest}`)).body,
    listed: (await c.api('GET', `/api/v1/images?digest=${digest}`)).body.items,
    sbomStatus: sbom.status,
    sbomText: await sbom.text(),
    violations: violations.map(({ id: _id, ...v }) => v).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
  };
}

/** The push with only its component list by address (this file's subject; findings by address: image-push-findings-*.test.ts). */
const listOnly = (r: ImageReport): ImageReport => ({ ...addressedImageReport(r)!, findings: r.findings, vulnerabilities: undefined });

const count = async (c: TestCentral, table: string) => Number((await sql<{ n: number | string }>`select count(*) as n from ${sql.table(table)}`.execute(c.db())).rows[0]!.n);

await storeTest('an addressed push stores exactly what the same push sent whole stores', async (dialect) => {
  const whole = await central(dialect);
  const addressed = await central(dialect);
  try {
    const seen = new Set<number>();
    for (const [k, report] of images.entries()) {
      assert.equal((await whole.api('POST', '/api/v1/ingest/images', report)).status, 200);
      const first = await addressed.api('POST', '/api/v1/ingest/images', listOnly(report));
      if (seen.has(LISTS[k]!)) {
        assert.equal(first.status, 200, JSON.stringify(first.body));
      } else {
        assert.equal(first.status, 409, JSON.stringify(first.body));
        assert.deepEqual(first.body, { error: 'missing-content', message: first.body.message, missing: ['sbom.components'] });
        assert.equal((await addressed.api('GET', `/api/v1/images/${report.image.digest}`)).status, 404, 'a push refused for its missing list stores nothing');
        assert.equal((await addressed.api('POST', '/api/v1/ingest/images', report)).status, 200);
      }
      seen.add(LISTS[k]!);
    }
    let violations = 0;
    for (const report of images) {
      const a = await served(addressed, report.image.digest);
      const w = await served(whole, report.image.digest);
      assert.deepEqual(a, w, `image ${report.image.digest}`);
      assert.equal(a.sbomStatus, 200);
      assert.equal(a.sbomText, JSON.stringify(report.sbom), 'the SBOM reads back as the text of the one pushed');
      assert.ok(a.detail.components.length > 20);
      violations += a.violations.length;
    }
    assert.ok(violations >= images.length, `the component policies fired (${violations} violations)`);
    // Each distinct list is stored once, in both Centrals (whole pushes store by address too).
    for (const c of [whole, addressed]) {
      assert.equal(await count(c, 'sbom_component_lists'), 3);
      assert.equal(await count(c, 'image_sboms'), images.length);
    }
  } finally {
    await whole.close();
    await addressed.close();
  }
});

await storeTest('a list Central stored but its image worker never parsed is read from the store', async (dialect) => {
  const c = await central(dialect);
  try {
    // Stored the way Central's own scans store images (scan-in-use): no push went through the worker.
    await upsertImageReport(c.db(), images[1]!, NOW.toISOString());
    const report = image(7, 1);
    const r = await c.api('POST', '/api/v1/ingest/images', listOnly(report));
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const { sbomText, violations, detail } = await served(c, report.image.digest);
    assert.equal(sbomText, JSON.stringify(report.sbom));
    assert.ok(violations.some((v) => v.policyId === 'no-pkg-1-3'), 'the policies saw the list read from the store');
    assert.equal(detail.components.length, components(1).length);
  } finally {
    await c.close();
  }
});

await storeTest('an unknown, malformed or mismatched address stores nothing the client could not have sent whole', async (dialect) => {
  const c = await central(dialect);
  try {
    const ci = await c.token('ci');
    const report = images[0]!;
    const digest = report.image.digest;
    const push = (body: unknown) => c.api('POST', '/api/v1/ingest/images', body, ci);
    const nothingStored = async () => {
      assert.equal((await c.api('GET', `/api/v1/images/${digest}`)).status, 404);
      assert.equal(await count(c, 'image_sboms'), 0);
      assert.equal(await count(c, 'sbom_component_lists'), 0);
    };
    // An address Central holds no list under: 409, nothing stored, and the answer says no more than that.
    const unknown = await push({ ...report, sbom: { ...report.sbom, components: 'A'.repeat(32) } });
    assert.equal(unknown.status, 409);
    assert.deepEqual(unknown.body.missing, ['sbom.components']);
    await nothingStored();
    // Not an address: one line, 400.
    for (const bad of ['short', 'A'.repeat(33), `${'A'.repeat(31)}=`]) {
      const r = await push({ ...report, sbom: { ...report.sbom, components: bad } });
      assert.equal(r.status, 400, bad);
      assert.match(r.body.message, /^body: \/sbom\/components must be a list of components or the 32-character address of one$/);
    }
    // An envelope holding the placeholder of the very list it names: refused, not spliced twice.
    const address = sbomComponentsAddress(report.sbom!.components as unknown[]);
    const sneaky = { ...report, sbom: { ...report.sbom, metadata: { note: `gatehouse:components:${address}` }, components: address } };
    assert.equal((await push(sneaky)).status, 409, 'unknown list first');
    await nothingStored();

    // The client cannot say which content an address has: Central addresses what it parsed.
    const other = image(0, 2);
    assert.equal((await push(other)).status, 200);
    const stored = (await sql<{ hash: string }>`select hash from sbom_component_lists`.execute(c.db())).rows.map((r) => r.hash);
    assert.deepEqual(stored, [sbomComponentsAddress(other.sbom!.components as unknown[])]);
    const claimed = await push({ ...report, image: { ...report.image, digest: `sha256:${'e'.repeat(64)}` }, sbom: { ...report.sbom, components: address } });
    assert.equal(claimed.status, 409, 'naming list 0 after sending list 2 is still a miss');
    assert.equal((await c.api('GET', `/api/v1/images/sha256:${'e'.repeat(64)}`)).status, 404);
    // Naming the list it did send attaches that list: what it could have sent whole.
    const again = await push({ ...other, image: { ...other.image, digest: `sha256:${'f'.repeat(64)}` }, sbom: { ...other.sbom, components: stored[0] } });
    assert.equal(again.status, 200);
    const back = await fetch(`${c.url}/api/v1/images/sha256:${'f'.repeat(64)}/sbom`, { headers: { authorization: `Bearer ${c.adminToken}` } });
    assert.deepEqual((await back.json() as { components: unknown }).components, other.sbom!.components);

    // The placeholder text inside a whole SBOM: stored whole, read back as sent.
    const placeholderInside = { ...report, sbom: { ...report.sbom, metadata: { note: `gatehouse:components:${address}` } } };
    assert.equal((await push(placeholderInside)).status, 200);
    assert.equal((await served(c, digest)).sbomText, JSON.stringify(placeholderInside.sbom));
    // Once Central holds list 0, naming it from an envelope that holds its placeholder too: 400, one line, nothing stored.
    assert.equal((await push({ ...report, image: { ...report.image, digest: `sha256:${'c'.repeat(64)}` } })).status, 200);
    const r = await push({ ...sneaky, image: { ...report.image, digest: `sha256:${'d'.repeat(64)}` } });
    assert.equal(r.status, 400, JSON.stringify(r.body));
    assert.match(r.body.message, /^body: \/sbom an SBOM holding its own component-list placeholder cannot name its list by address$/);
    assert.equal((await c.api('GET', `/api/v1/images/sha256:${'d'.repeat(64)}`)).status, 404);
  } finally {
    await c.close();
  }
});

await storeTest('image sbom --server sends the component list by address once Central holds it', async (dialect) => {
  if (!cacheHas('oci', 'index.json')) return void missing(false, 'test images not built (.ci/setup.d/40-test-images.sh)');
  const c = await startTestCentral({ dialect });
  try {
    const token = await c.token('ci');
    const env = { GATEHOUSE_SERVER: undefined, GATEHOUSE_TOKEN: undefined, GATEHOUSE_CA: undefined };
    const args = (n: number) => ['image', 'sbom', `oci:${OCI_DIR}:debian`, '--format', 'cyclonedx', '--output', join(work, `sbom-${dialect}-${n}.json`), '--server', c.url, '--token', token];
    const first = await runCli(args(1), { env, timeoutMs: 180_000 });
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stderr, /pushed image sha256:[0-9a-f]{64} .*\(new, SBOM\)/);
    assert.doesNotMatch(first.stderr, /sent by address/, 'a new list is sent whole');
    const second = await runCli(args(2), { env, timeoutMs: 180_000 });
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stderr, /\(updated, SBOM\)\ngatehouse: the SBOM's component list was already in Central: sent by address/);
    assert.equal(await count(c, 'sbom_component_lists'), 1);
    const digest = /pushed image (sha256:[0-9a-f]{64})/.exec(second.stderr)![1]!;
    const back = await fetch(`${c.url}/api/v1/images/${digest}/sbom`, { headers: { authorization: `Bearer ${c.adminToken}` } });
    const bom = await back.json() as { components: { name: string }[]; serialNumber: string };
    assert.ok(bom.components.length > 50, 'the stored SBOM has the list the first push sent');
  } finally {
    await c.close();
  }
});
