/**
 * Re-matching stored SBOMs after a vulnerability DB change (issue 16 item 7), with real
 * parts: the debootstrap-built Debian test image's SBOM (the real image reader and
 * inventory), real vulnerability DBs built with the feed importer (PyPA records from
 * ../shared/vulndata and a Debian tracker made from the image's own source packages, as
 * test/vuln/image-scan.test.ts does), and a real Central on SQLite and PostgreSQL.
 *
 * The image's references name a registry nobody listens on: re-matching never pulls.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startTestCentral, storeTest, type TestCentral } from '../helpers/central.js';
import { cacheHas, missing } from '../helpers/components.js';
import { OCI_DIR } from '../fixtures/test-images.js';
import { vulndataDir } from '../vuln/helpers.js';
import { openImage } from '../../src/image/index.js';
import { inventoryImage, sbomFormats, type Inventory } from '../../src/inventory/index.js';
import { readImageFindings } from '../../src/central/store/image-findings.js';
import { VulnDb } from '../../src/vuln/db.js';
import { importPath } from '../../src/vuln/feeds/index.js';
import { scanInventoryDetailed } from '../../src/vuln/scan.js';
import { vulnDbVersion } from '../../src/central/images/db-version.js';
import { VulnDbWatcher, vulnDbWatchJobWith } from '../../src/central/images/db-watch.js';
import { imagePolicyJob } from '../../src/central/images/image-policies.js';
import { packagesFromCycloneDx } from '../../src/central/images/sbom-packages.js';

const skip = missing(cacheHas('oci', 'index.json'), 'test images not built (.ci/setup.d/40-test-images.sh)');
const work = mkdtempSync(join(tmpdir(), 'gatehouse-rematch-'));
after(() => rmSync(work, { recursive: true, force: true }));

/** A registry address nothing listens on: any pull would fail. */
const UNREACHABLE_REF = '127.0.0.1:9/gatehouse-test/debian:bookworm';

interface Fixture {
  digest: string;
  inventory: Inventory;
  sbom: Record<string, unknown>;
  /** DB without advisories that affect the image's Debian packages; with them. */
  oldDb: string;
  newDb: string;
  oldVersion: string;
  newVersion: string;
  /** CVE ids the new DB reports for the image (constructed). */
  expectedIds: string[];
  /** What a direct scan of the image's inventory with the new DB reports: id|package|version. */
  directScan: string[];
  /** A later DB: one advisory withdrawn from the tracker, the open ones fixed, one new; and its direct scan. */
  laterDb: string;
  laterScan: string[];
}

let fx: Fixture;

before(async () => {
  if (skip) return;
  const img = await openImage(`oci:${OCI_DIR}:debian`);
  let inventory: Inventory;
  try {
    inventory = await inventoryImage(img);
  } finally {
    await img.close();
  }
  const digest = img.digest;
  const sbom = JSON.parse(sbomFormats.cyclonedx!({ target: { kind: 'image', name: UNREACHABLE_REF, digest }, inventory, toolVersion: 'test' })) as Record<string, unknown>;
  const codename = inventory.os?.codename ?? 'bookworm';
  const sources = new Map<string, string>();
  for (const p of inventory.packages) if (p.ecosystem === 'Debian') sources.set(p.source?.name ?? p.name, p.source?.version ?? p.version);
  const picked = [...sources.keys()].sort().slice(0, 3);
  const rel = (r: Record<string, unknown>) => ({ releases: { [codename]: r } });
  const oldTracker: Record<string, Record<string, unknown>> = {};
  const newTracker: Record<string, Record<string, unknown>> = {};
  const laterTracker: Record<string, Record<string, unknown>> = {};
  const expectedIds: string[] = [];
  picked.forEach((src, i) => {
    const installed = sources.get(src)!;
    // Known in both DBs, fixed before the installed version: never a finding.
    oldTracker[src] = { [`CVE-2098-${i}001`]: rel({ status: 'resolved', fixed_version: '0.0.1-1', urgency: 'high' }) };
    newTracker[src] = {
      ...oldTracker[src],
      [`CVE-2099-${i}001`]: rel({ status: 'resolved', fixed_version: `${installed}+gh1`, urgency: 'high' }),
      [`CVE-2099-${i}002`]: rel({ status: 'open', urgency: 'low' }),
    };
    expectedIds.push(`CVE-2099-${i}001`, `CVE-2099-${i}002`);
    laterTracker[src] = {
      ...oldTracker[src],
      ...(i === 0 ? {} : { [`CVE-2099-${i}001`]: newTracker[src]![`CVE-2099-${i}001`] }),
      [`CVE-2099-${i}002`]: rel({ status: 'resolved', fixed_version: `${installed}+gh2`, urgency: 'medium' }),
      ...(i === 1 ? { [`CVE-2099-${i}003`]: rel({ status: 'open', urgency: 'high' }) } : {}),
    };
  });
  const build = async (name: string, tracker: Record<string, unknown>) => {
    const path = join(work, `${name}.db`);
    writeFileSync(join(work, `${name}-tracker.json`), JSON.stringify(tracker));
    const db = VulnDb.open(path, { create: true });
    try {
      await importPath(db, join(vulndataDir, 'pypa', 'vulns', 'jinja2'));
      await importPath(db, join(work, `${name}-tracker.json`));
      return { path, version: vulnDbVersion(db) };
    } finally {
      db.close();
    }
  };
  const oldDb = await build('old', oldTracker);
  const newDb = await build('new', newTracker);
  const laterDb = await build('later', laterTracker);
  const scan = (path: string) => {
    const db = VulnDb.open(path, { readonly: true });
    try {
      return scanInventoryDetailed(db, inventory, 'direct').vulnerabilities.map((f) => `${f.id}|${String(f.data?.package)}|${String(f.data?.installedVersion)}|${String(f.data?.fixedVersion)}|${f.severity}`).sort();
    } finally {
      db.close();
    }
  };
  fx = {
    digest, inventory, sbom, oldDb: oldDb.path, newDb: newDb.path, oldVersion: oldDb.version, newVersion: newDb.version, expectedIds: expectedIds.sort(),
    directScan: scan(newDb.path), laterDb: laterDb.path, laterScan: scan(laterDb.path),
  };
});

const silent = { info() {}, warn() {}, error() {} };

/** Puts a DB file at `path` the way `db update` does: a complete copy renamed over it. */
function swapIn(from: string, path: string): void {
  copyFileSync(from, `${path}.tmp`);
  renameSync(`${path}.tmp`, path);
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false>, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const secret = {
  id: 'GH-SECRET-private-key', kind: 'secret', severity: 'HIGH', title: 'private-key in /root/.ssh/id_rsa (line 1)',
  resource: { image: { path: '/root/.ssh/id_rsa', layer: 0 } }, data: { secretKind: 'private-key', line: 1 },
};

async function pushScan(c: TestCentral, withSecret: boolean) {
  const r = await c.api('POST', '/api/v1/ingest/images', {
    image: { digest: fx.digest, refs: [UNREACHABLE_REF], os: { family: 'debian', version: '12' } },
    sbom: fx.sbom, findings: withSecret ? [secret] : [], db: { version: fx.oldVersion },
  }, await c.token('ci'));
  assert.equal(r.status, 200, JSON.stringify(r.body));
}

const vulnKeys = (body: { vulnerabilities: { id: string; severity: string; data: { package: string; installedVersion: string; fixedVersion?: string } }[] }) =>
  body.vulnerabilities.map((v) => `${v.id}|${v.data.package}|${v.data.installedVersion}|${String(v.data.fixedVersion)}|${v.severity}`).sort();

test('the SBOM read back gives the matcher the inventory it was written from', { skip }, () => {
  const back = packagesFromCycloneDx(fx.sbom);
  assert.equal(back.os?.id, fx.inventory.os?.id);
  assert.equal(back.os?.versionId, fx.inventory.os?.versionId);
  const key = (p: { ecosystem: string; name: string; version: string; source?: { name: string; version?: string }; location: { path: string; layer?: number } }) =>
    `${p.ecosystem}|${p.name}|${p.version}|${p.source?.name ?? ''}|${p.source?.version ?? ''}|${p.location.path}|${p.location.layer ?? ''}`;
  assert.deepEqual(back.packages.map(key).sort(), fx.inventory.packages.map(key).sort());
});

await storeTest('a DB change re-matches a stored SBOM without a pull; secrets stay; image policies open and resolve', async (dialect) => {
  if (skip) return;
  const c = await startTestCentral({ dialect });
  const stop = new AbortController();
  try {
    const policyJob = imagePolicyJob(c.ctx, stop.signal, { log: silent });
    // A policy over vulnerabilities: every fixable one is a violation.
    const pack = 'apiVersion: gatehouse.dev/v1\nkind: PolicyPack\npolicies:\n  - id: no-fixable-vulns\n    name: No fixable vulnerabilities\n    severity: HIGH\n    subject: image\n    stages: [build]\n    criteria: { field: vulnerability.fixable, op: equals, value: true }\n    enforcement: [fail-build]\n';
    assert.equal((await c.api('POST', '/api/v1/policies', { pack: 'mine', yaml: pack })).status, 200);

    await pushScan(c, true);
    const violations = async (policy: string, state: 'active' | 'resolved' = 'active') => (await c.db().selectFrom('violations').select(['id', 'state']).where('subject_kind', '=', 'image').where('subject_key', '=', fx.digest).where('policy_id', '=', policy).where('state', '=', state).execute()).length;
    // Pushed: the built-in secret policy fires from the stored findings (ctx.events 'image').
    await waitFor('the secret violation', async () => (await violations('image-embedded-secret')) === 1);
    assert.equal(await violations('no-fixable-vulns'), 0);

    const dbPath = join(work, `central-${dialect}.db`);
    swapIn(fx.oldDb, dbPath);
    const events: unknown[] = [];
    c.ctx.events.on('images', (e) => events.push(e));
    const watcher = new VulnDbWatcher(c.ctx, dbPath, silent);
    const first = await watcher.check();
    assert.equal(first?.images, 0, 'the pushed findings were matched with this DB version already');
    assert.equal(await watcher.check(), undefined, 'an unchanged file is not opened again');

    // A stored SBOM that is not JSON (a damaged row) is left as it was; the others go on.
    const damaged = `sha256:${'d'.repeat(64)}`;
    await c.db().insertInto('images').values({ digest: damaged, refs: '[]', os: null, created: null, layers: '[]', has_sbom: 1, signature: null, summary: '{}', db_version: null, scanned_at: null, first_seen: '2026-01-01T00:00:00.000Z', last_seen: '2026-01-01T00:00:00.000Z' }).execute();
    await c.db().insertInto('image_sboms').values({ digest: damaged, sbom: '{not json' }).execute();
    swapIn(fx.newDb, dbPath);
    const run = await watcher.check();
    assert.equal(run?.images, 1);
    assert.equal(run?.changed, 1);
    assert.equal(run?.failed, 1);
    assert.equal((await watcher.check())?.failed, 1, 'an image left stale is taken again at the next look');
    await c.db().deleteFrom('images').where('digest', '=', damaged).execute();
    const detail = (await c.api('GET', `/api/v1/images/${fx.digest}`)).body;
    assert.deepEqual([...new Set(detail.vulnerabilities.map((v: { id: string }) => v.id))].sort(), fx.expectedIds);
    assert.deepEqual(vulnKeys(detail), fx.directScan, 're-matching the SBOM finds what scanning the image finds');
    assert.equal(detail.dbVersion, fx.newVersion);
    assert.deepEqual(detail.findings.map((f: { id: string }) => f.id), ['GH-SECRET-private-key'], 'non-vulnerability findings are kept');
    const fixable = detail.vulnerabilities.filter((v: { data: { fixedVersion?: string } }) => v.data.fixedVersion).length;
    assert.ok(fixable > 0);
    assert.equal(detail.summary.fixable, fixable);
    assert.equal(detail.summary.counts.secret.HIGH, 1);
    assert.equal(detail.vulnerabilities.length, fx.directScan.length);
    assert.equal(await violations('no-fixable-vulns'), fixable, 'one violation per fixable vulnerability');
    assert.equal(await violations('image-embedded-secret'), 1);
    assert.deepEqual(events, [{ reason: 'rematch', dbVersion: fx.newVersion, images: 1, changed: 1 }]);

    // The same version again (a forced look): nothing is stale, nothing is written.
    assert.equal((await watcher.check(undefined, true))?.images, 0);

    // A later DB changes some findings, drops one advisory and adds one: only those findings change.
    // (The later DB was imported later: every record's import time, data.modified, differs; it is left out.)
    const vulnRows = async () => (await readImageFindings(c.db(), fx.digest)).vulnerabilities.map((f) => ({ fingerprint: f.fingerprint, body: JSON.stringify({ ...f, data: { ...f.data, modified: undefined } }) }));
    const before = new Map((await vulnRows()).map((r) => [r.fingerprint, r.body]));
    swapIn(fx.laterDb, dbPath);
    assert.equal((await watcher.check())?.changed, 1);
    const later = (await c.api('GET', `/api/v1/images/${fx.digest}`)).body;
    assert.deepEqual(vulnKeys(later), fx.laterScan, 'the stored findings are what a scan with the later DB finds');
    const after_ = await vulnRows();
    assert.ok(after_.some((r) => before.get(r.fingerprint) === r.body), 'findings the later DB did not change are kept as they were');
    assert.ok(after_.some((r) => before.has(r.fingerprint) && before.get(r.fingerprint) !== r.body), 'changed findings are updated');
    assert.ok(after_.some((r) => !before.has(r.fingerprint)) && [...before.keys()].some((fp) => !after_.some((r) => r.fingerprint === fp)), 'new ones added, withdrawn ones gone');

    // Back to the old DB: the vulnerabilities go, their violations resolve.
    swapIn(fx.oldDb, dbPath);
    assert.equal((await watcher.check())?.changed, 1);
    const back = (await c.api('GET', `/api/v1/images/${fx.digest}`)).body;
    assert.equal(back.vulnerabilities.length, 0);
    assert.equal(back.dbVersion, fx.oldVersion);
    assert.equal(await violations('no-fixable-vulns'), 0);
    // Every violation ever opened (the new DB's fixable ones, then the later DB's) is resolved.
    const laterFixable = later.vulnerabilities.filter((v: { data: { fixedVersion?: string } }) => v.data.fixedVersion).length;
    assert.ok(laterFixable > fixable);
    assert.ok(await violations('no-fixable-vulns', 'resolved') >= laterFixable);

    // A new push without the secret: its violation resolves after the push.
    await pushScan(c, false);
    await waitFor('the secret violation to resolve', async () => (await violations('image-embedded-secret')) === 0);
    stop.abort();
    await policyJob;
  } finally {
    stop.abort();
    await c.close();
  }
});

test('the watch job re-matches on its own when the DB file changes, and at once on a "db" notice', { skip }, async () => {
  const c = await startTestCentral();
  const stop = new AbortController();
  try {
    await pushScan(c, false);
    const dbPath = join(work, 'job.db');
    swapIn(fx.oldDb, dbPath);
    const version = async () => (await c.db().selectFrom('images').select('db_version').where('digest', '=', fx.digest).executeTakeFirstOrThrow()).db_version;
    const polling = vulnDbWatchJobWith({ dbPath, intervalMs: 100 })(c.ctx, stop.signal, { log: silent });
    swapIn(fx.newDb, dbPath);
    await waitFor('the timed look to re-match', async () => (await version()) === fx.newVersion);
    stop.abort();
    await polling;

    // A job that would look again only in an hour: the 'db' notice makes it look now.
    const stop2 = new AbortController();
    const slow = vulnDbWatchJobWith({ dbPath, intervalMs: 3_600_000 })(c.ctx, stop2.signal, { log: silent });
    await new Promise((r) => setTimeout(r, 200));
    swapIn(fx.oldDb, dbPath);
    c.ctx.events.emit('db');
    await waitFor('the notice to re-match', async () => (await version()) === fx.oldVersion);

    // An SBOM pushed alone (`image sbom`: no findings, no DB version) is matched at once.
    swapIn(fx.newDb, dbPath);
    c.ctx.events.emit('db');
    await waitFor('the new DB to be matched', async () => (await version()) === fx.newVersion);
    const sbomOnly = `sha256:${'e'.repeat(64)}`;
    assert.equal((await c.api('POST', '/api/v1/ingest/images', { image: { digest: sbomOnly, refs: [UNREACHABLE_REF.replace(':bookworm', ':sbom-only')] }, sbom: fx.sbom }, await c.token('ci'))).status, 200);
    const matched = await waitFor('the pushed SBOM to be matched', async () => {
      const d = (await c.api('GET', `/api/v1/images/${sbomOnly}`)).body;
      return d.dbVersion === fx.newVersion && d;
    });
    assert.deepEqual(vulnKeys(matched), fx.directScan);
    stop2.abort();
    await slow;
  } finally {
    stop.abort();
    await c.close();
  }
});
