/**
 * Image pushes that name their vulnerability findings by address (issue 16's ingest): the
 * client sends each vulnerability as its body's address plus its own fingerprint and
 * modified time (`vulnerabilities`, client/ingest-types.ts addressedImageReport); Central
 * answers 409 missing-content (`missing: ['findings']`) when it lacks a text, storing
 * nothing, and the client sends the push whole. Proven against real Centrals on SQLite and
 * PostgreSQL:
 *   - differential: generated images (findings with and without advisory text, data,
 *     modified times, client fingerprints, duplicates, other kinds; rebuilds and updates)
 *     pushed whole to one Central and by the addressed protocol to another are stored and
 *     served identically (image detail with findings, list, SBOM text, violations, the
 *     findings' documents and shared texts);
 *   - texts Central stored but its image worker never split are read from the store;
 *   - unknown, malformed or misplaced addresses: 409 or a one-line 400, nothing stored;
 *     an address naming another image's stored finding attaches exactly that finding;
 *   - `image scan --server` twice: the second push sends its findings by address.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { sql } from 'kysely';
import { addressedImageReport, type ImageReport } from '../../src/central/client/ingest-types.js';
import { upsertImageReport } from '../../src/central/store/images.js';
import { splitVulnerability } from '../../src/central/vulnerability-split.js';
import type { Finding } from '../../src/findings/finding.js';
import { openImage } from '../../src/image/index.js';
import { inventoryImage } from '../../src/inventory/index.js';
import { VulnDb } from '../../src/vuln/db.js';
import { importPath } from '../../src/vuln/feeds/index.js';
import { runCli } from '../helpers/cli.js';
import { cacheHas, missing } from '../helpers/components.js';
import { startTestCentral, storeTest, type TestCentral } from '../helpers/central.js';
import { OCI_DIR } from '../fixtures/test-images.js';

const work = mkdtempSync(join(tmpdir(), 'gatehouse-push-findings-'));
after(() => rmSync(work, { recursive: true, force: true }));

const NOW = new Date('2026-12-01T12:00:00.000Z');
const POLICIES = `apiVersion: gatehouse.dev/v1
kind: PolicyPack
metadata: { name: findings-addressed }
subject: image
policies:
  - id: no-critical
    name: Critical vulnerability
    severity: HIGH
    stages: [build]
    criteria: { field: vulnerability.severity, op: equals, value: CRITICAL }
    enforcement: [inform]
  - id: no-fixable-high-cvss
    name: Fixable vulnerability with CVSS 7 or more
    severity: MEDIUM
    stages: [build]
    criteria:
      all:
        - { field: vulnerability.fixable, op: equals, value: true }
        - { field: vulnerability.cvssScore, op: gte, value: 7 }
    enforcement: [inform]
`;

/** Deterministic generator (mulberry32): the cases are the same every run. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SEVERITIES = ['LOW', 'MEDIUM', 'HIGH', 'CRITICAL'] as const;

/** Vulnerability `v` of package `p`, in one of several shapes (which parts it has, key order, own fingerprint). */
function vulnerability(v: number, p: number, shape: number, digest: string): Finding {
  const id = `CVE-2026-${2000 + v}`;
  const pkg = `pkg-${p}`;
  const data: Record<string, unknown> = { package: pkg, installedVersion: `1.${p}.0` };
  if (v % 2) data.fixedVersion = `1.${p}.1`;
  if (shape % 3 !== 2) Object.assign(data, { cve: id, cvss: { score: 4 + (v % 6), vector: `CVSS:3.1/AV:N/AC:L/${v}` }, feed: v % 3 ? 'debian' : 'osv', published: '2025-06-01T00:00:00Z' });
  if (shape % 4 === 1) data.modified = `2026-0${1 + (v % 9)}-01T00:00:00Z`;
  if (shape % 7 === 3) data.modified = 20260101; // not a string: a whole push drops it from the stored finding
  if (v % 5 === 0) data.aliases = [`GHSA-${v}-xxxx`];
  const f: Finding = {
    id, kind: 'vulnerability', severity: SEVERITIES[(v + p) % 4]!, title: `${id} in ${pkg}`,
    resource: { image: { digest, ...(shape % 2 ? { layer: p % 3 } : {}), ...(shape % 5 === 4 ? { path: `/usr/lib/${pkg}` } : {}) } },
  };
  if (shape % 3 === 0) f.detail = `A flaw in ${pkg} (${id}).`;
  if (shape % 6 !== 5) f.references = [`https://example.test/${id}`];
  if (shape % 8 !== 7) f.data = data;
  if (shape % 9 === 4) f.fingerprint = `client-fp-${v}-${p}`;
  if (shape % 10 === 6) f.remediation = `upgrade ${pkg}`;
  // Another key order: a different body text, so a different address (both sides split alike).
  return shape % 11 === 10 ? Object.fromEntries(Object.entries(f).reverse()) as unknown as Finding : f;
}

/** Component list `list`. */
function components(list: number): Record<string, unknown>[] {
  return Array.from({ length: 12 + list * 3 }, (_, i) => ({ type: 'library', name: `pkg-${i}`, version: `1.${i}.0`, purl: `pkg:deb/debian/pkg-${i}@1.${i}.0` }));
}

/**
 * Image `k`: findings drawn from a small pool (rebuilds repeat them), so later images name
 * texts earlier ones stored. Some images repeat a finding (last wins), carry other kinds, or
 * have no vulnerability at all.
 */
function image(k: number, random: () => number): ImageReport {
  const digest = `sha256:${(k + 1).toString(16).padStart(4, '0').repeat(16)}`;
  const list = k % 3;
  const findings: Finding[] = [];
  const n = k % 9 === 8 ? 0 : 3 + Math.floor(random() * 10);
  // Builds of a few "applications" (k % 5): a rebuild has its application's findings, and now and then one new.
  const app = rng(k % 5);
  for (let i = 0; i < n; i++) findings.push(vulnerability(Math.floor(app() * 8), Math.floor(app() * 6), Math.floor(app() * 24), digest));
  if (random() < 0.3) findings.push(vulnerability(Math.floor(random() * 8), Math.floor(random() * 6), Math.floor(random() * 24), digest));
  if (k % 4 === 1 && findings.length) findings.push({ ...findings[0]!, severity: 'CRITICAL' }); // same fingerprint again: this one is kept
  if (k % 3 === 0) findings.push({ id: 'secret-key', kind: 'secret', severity: 'HIGH', title: 'key in /app/.env', resource: { image: { digest, path: '/app/.env' } } });
  if (k % 5 === 2) findings.push({ id: 'hygiene-root', kind: 'hygiene', severity: 'LOW', title: 'runs as root', resource: { image: { digest } }, data: { check: 'user' } });
  return {
    image: { digest, refs: [`reg.example/app-${k % 4}:${k}`], os: { family: 'debian', version: '12' } },
    sbom: { bomFormat: 'CycloneDX', specVersion: '1.6', version: 1, components: components(list) },
    findings,
    db: { version: 'v1-2026-12-01' },
  };
}

async function central(dialect: 'sqlite' | 'postgres'): Promise<TestCentral> {
  const c = await startTestCentral({ dialect, now: () => NOW });
  assert.equal((await c.api('POST', '/api/v1/policies', { pack: 'findings-addressed', yaml: POLICIES })).status, 200);
  return c;
}

const rows = async <T,>(c: TestCentral, query: ReturnType<typeof sql<T>>): Promise<T[]> => (await query.execute(c.db())).rows;
const count = async (c: TestCentral, table: string) => Number((await rows(c, sql<{ n: number | string }>`select count(*) as n from ${sql.table(table)}`))[0]!.n);

/** Everything Central serves and stores about an image's findings. */
async function served(c: TestCentral, digest: string) {
  const sbom = await fetch(`${c.url}/api/v1/images/${digest}/sbom`, { headers: { authorization: `Bearer ${c.adminToken}` } });
  const violations = (await c.api('GET', `/api/v1/violations?subject=${encodeURIComponent(digest)}&limit=100`)).body.items as Record<string, unknown>[];
  const detail = (await c.api('GET', `/api/v1/images/${digest}`)).body;
  // The detail's violations come in no set order on PostgreSQL (the same set, rows updated in another order).
  detail.violations?.sort((a: { id: string }, b: { id: string }) => a.id.localeCompare(b.id));
  return {
    detail,
    listed: (await c.api('GET', `/api/v1/images?digest=${digest}`)).body.items,
    sbomText: await sbom.text(),
    violations: violations.map(({ id: _id, ...v }) => v).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
    docs: await rows(c, sql`select vulnerabilities, others, count from image_finding_docs where image_digest = ${digest}`),
  };
}

/** The CLI's protocol: by address first; whole after a 409. */
async function pushAddressed(c: TestCentral, report: ImageReport, token?: string): Promise<'by address' | 'whole'> {
  const first = await c.api('POST', '/api/v1/ingest/images', addressedImageReport(report) ?? report, token);
  if (first.status === 200) return 'by address';
  assert.equal(first.status, 409, JSON.stringify(first.body));
  assert.equal(first.body.error, 'missing-content');
  assert.equal((await c.api('POST', '/api/v1/ingest/images', report, token)).status, 200);
  return 'whole';
}

await storeTest('findings pushed by address are stored exactly as the same findings pushed whole', async (dialect) => {
  const whole = await central(dialect);
  const addressed = await central(dialect);
  try {
    const random = rng(16);
    const reports = Array.from({ length: 24 }, (_, k) => image(k, random));
    // Updates: images 3 and 10 pushed again with other findings (the pool repeats them).
    reports.push({ ...image(40, random), image: reports[3]!.image }, { ...image(41, random), image: reports[10]!.image });
    for (const r of reports) r.findings = r.findings!.map((f) => ({ ...f, resource: { ...f.resource, image: { ...f.resource.image, digest: r.image.digest } } }));
    const how: string[] = [];
    for (const report of reports) {
      assert.equal((await whole.api('POST', '/api/v1/ingest/images', report)).status, 200);
      how.push(await pushAddressed(addressed, report));
    }
    assert.ok(how.filter((h) => h === 'by address').length >= 8, `most later pushes go by address: ${how.join(', ')}`);
    for (const digest of new Set(reports.map((r) => r.image.digest))) {
      const a = await served(addressed, digest);
      assert.deepEqual(a, await served(whole, digest), `image ${digest}`);
      assert.equal(a.docs.length, 1);
    }
    for (const table of ['finding_texts', 'advisory_texts', 'violations']) assert.equal(await count(addressed, table), await count(whole, table), table);
    assert.ok(await count(whole, 'violations') > 5, 'the vulnerability policies fired');
  } finally {
    await whole.close();
    await addressed.close();
  }
});

await storeTest('finding texts Central stored but its image worker never split are read from the store', async (dialect) => {
  const c = await central(dialect);
  const reference = await central(dialect);
  try {
    const random = rng(7);
    const first = image(1, random);
    // Stored the way Central's own scans store images: no push went through the worker.
    await upsertImageReport(c.db(), first, NOW.toISOString());
    const digest = `sha256:${'ab'.repeat(32)}`;
    const rebuild: ImageReport = { ...first, image: { ...first.image, digest }, findings: first.findings!.map((f) => ({ ...f, resource: { ...f.resource, image: { ...f.resource.image, digest } } })) };
    // The list and every text are in the store: accepted by address at the first try.
    const r = await c.api('POST', '/api/v1/ingest/images', addressedImageReport(rebuild));
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal((await reference.api('POST', '/api/v1/ingest/images', rebuild)).status, 200);
    const { docs, detail, violations } = await served(c, digest);
    const expected = await served(reference, digest);
    assert.deepEqual({ docs, vulnerabilities: detail.vulnerabilities, findings: detail.findings, violations }, { docs: expected.docs, vulnerabilities: expected.detail.vulnerabilities, findings: expected.detail.findings, violations: expected.violations });
    assert.ok(detail.vulnerabilities.length > 2);
  } finally {
    await c.close();
    await reference.close();
  }
});

await storeTest('unknown, malformed or misplaced finding addresses store nothing the client could not have sent whole', async (dialect) => {
  const c = await central(dialect);
  try {
    const ci = await c.token('ci');
    const push = (body: unknown) => c.api('POST', '/api/v1/ingest/images', body, ci);
    const random = rng(3);
    const report = image(0, random);
    const digest = report.image.digest;
    const addressed = addressedImageReport(report)!;
    const nothingStored = async (d = digest) => {
      assert.equal((await c.api('GET', `/api/v1/images/${d}`)).status, 404);
      assert.equal(await count(c, 'image_finding_docs'), 0);
      assert.equal(await count(c, 'finding_texts'), 0);
    };
    // Nothing held yet: 409 naming both, nothing stored.
    const first = await push(addressed);
    assert.equal(first.status, 409);
    assert.deepEqual(first.body.missing, ['sbom.components', 'findings']);
    await nothingStored();
    // Not an address, an unknown field, a bad fingerprint or modified: one line, 400.
    const refs = addressed.vulnerabilities!;
    const bad: [unknown, RegExp][] = [
      [[{ finding: 'short' }], /^body: .*\/vulnerabilities\/0\/finding/],
      [[{ finding: `${'A'.repeat(31)}=` }], /^body: .*\/vulnerabilities\/0\/finding/],
      [[{ ...refs[0], text: '{}' }], /^body: unknown field "text" in \/vulnerabilities\/0$/],
      [[{ ...refs[0], fingerprint: 'x'.repeat(201) }], /^body: .*\/vulnerabilities\/0\/fingerprint/],
      [[{ ...refs[0], modified: {} }], /^body: .*\/vulnerabilities\/0\/modified/],
      [[{ modified: '2026-01-01T00:00:00Z' }], /^body: .*finding/],
      ['all', /^body: .*\/vulnerabilities/],
    ];
    for (const [vulnerabilities, message] of bad) {
      const r = await push({ ...report, vulnerabilities });
      assert.equal(r.status, 400, JSON.stringify(vulnerabilities));
      assert.match(r.body.message, message);
      assert.doesNotMatch(r.body.message, /\n/);
    }
    await nothingStored();

    // The same image sent whole: its texts are Central's from now on.
    assert.equal((await push(report)).status, 200);
    const other = `sha256:${'9'.repeat(64)}`;
    // An address of no text (with the list Central holds): 409 for the findings only, nothing stored.
    const unknown = await push({ ...addressed, image: { ...report.image, digest: other }, vulnerabilities: [...refs, { finding: 'B'.repeat(32) }] });
    assert.equal(unknown.status, 409);
    assert.deepEqual(unknown.body.missing, ['findings']);
    assert.equal((await c.api('GET', `/api/v1/images/${other}`)).status, 404);
    // An advisory's address is not a finding's: a miss, not a finding made of an advisory.
    const advisory = (await rows(c, sql<{ hash: string }>`select hash from advisory_texts`))[0] as { hash: string };
    const misplaced = await push({ ...addressed, image: { ...report.image, digest: other }, vulnerabilities: [{ finding: advisory.hash }] });
    assert.equal(misplaced.status, 409);
    assert.deepEqual(misplaced.body.missing, ['findings']);
    assert.equal((await c.api('GET', `/api/v1/images/${other}`)).status, 404);
    assert.equal(await count(c, 'image_finding_docs'), 1);

    // Naming a finding another image stored attaches exactly that finding: what the client
    // could have sent whole, since knowing the address needs the text.
    const named = report.findings!.find((f) => f.kind === 'vulnerability')!;
    const asWhole: ImageReport = { image: { digest: other }, findings: [{ ...named, resource: { ...named.resource, image: { ...named.resource.image, digest: other } } }] };
    const byAddress = addressedImageReport(asWhole)!;
    assert.equal(byAddress.vulnerabilities![0]!.finding, splitVulnerability(named).bodyHash);
    const r = await push(byAddress);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const reference = await central(dialect);
    try {
      assert.equal((await reference.api('POST', '/api/v1/ingest/images', asWhole)).status, 200);
      const got = (await c.api('GET', `/api/v1/images/${other}`)).body;
      const want = (await reference.api('GET', `/api/v1/images/${other}`)).body;
      assert.deepEqual(got.vulnerabilities, want.vulnerabilities);
      assert.equal(got.vulnerabilities.length, 1);
    } finally {
      await reference.close();
    }
  } finally {
    await c.close();
  }
});

await storeTest('image scan --server sends its findings by address once Central holds them', async (dialect) => {
  if (!cacheHas('oci', 'index.json')) return void missing(false, 'test images not built (.ci/setup.d/40-test-images.sh)');
  const debian = `oci:${OCI_DIR}:debian`;
  const dbPath = join(work, `vuln-${dialect}.db`);
  // A DB with one CVE of a source package of the Debian test image, so the scan has findings.
  const img = await openImage(debian);
  const inv = await inventoryImage(img).finally(() => img.close());
  const deb = inv.packages.find((p) => p.ecosystem === 'Debian')!;
  writeFileSync(join(work, 'tracker.json'), JSON.stringify({ [deb.source?.name ?? deb.name]: { 'CVE-2099-1616': { releases: { [inv.os?.codename ?? 'bookworm']: { status: 'resolved', fixed_version: `${deb.source?.version ?? deb.version}+gh1`, urgency: 'high' } } } } }));
  const vdb = VulnDb.open(dbPath, { create: true });
  await importPath(vdb, join(work, 'tracker.json'));
  vdb.close();
  const c = await startTestCentral({ dialect });
  try {
    const token = await c.token('ci');
    const env = { GATEHOUSE_SERVER: undefined, GATEHOUSE_TOKEN: undefined, GATEHOUSE_CA: undefined };
    const out = (n: number) => join(work, `scan-${dialect}-${n}.json`);
    const args = (n: number) => ['image', 'scan', debian, '--db', dbPath, '--scanners', 'vuln,hygiene', '--format', 'json', '--output', out(n), '--server', c.url, '--token', token];
    const first = await runCli(args(1), { env, timeoutMs: 180_000 });
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stderr, /\(new, \d+ findings, SBOM\)/);
    assert.doesNotMatch(first.stderr, /sent by address/, 'new findings and list are sent whole');
    const digest = /pushed image (sha256:[0-9a-f]{64})/.exec(first.stderr)![1]!;
    const before = (await c.api('GET', `/api/v1/images/${digest}`)).body;
    const second = await runCli(args(2), { env, timeoutMs: 180_000 });
    assert.equal(second.code, 0, second.stderr);
    const vulns = (JSON.parse(readFileSync(out(2), 'utf8')) as { findings: Finding[] }).findings.filter((f) => f.kind === 'vulnerability').length;
    assert.ok(vulns > 0);
    assert.match(second.stderr, new RegExp(`\\(updated, \\d+ findings, SBOM\\)\\ngatehouse: the SBOM's component list and ${vulns} vulnerability findings were already in Central: sent by address`));
    const afterward = (await c.api('GET', `/api/v1/images/${digest}`)).body;
    assert.deepEqual(afterward.vulnerabilities, before.vulnerabilities, 'the findings sent by address are the ones sent whole');
    assert.deepEqual(afterward.findings, before.findings);
  } finally {
    await c.close();
  }
});
