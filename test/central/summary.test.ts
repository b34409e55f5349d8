/**
 * GET /api/v1/summary: exact counts for the dashboard, checked against the list routes
 * over data pushed the real way (`k8s check --server` for violations, sensor event batches,
 * image pushes, a host added through the API), sensors up by Central's (injected) clock,
 * and the vulnerability DB the DB-watch job uses ($GATEHOUSE_DB): its version and age, read
 * again only when the file changes.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after } from 'node:test';
import { runCli } from '../helpers/cli.js';
import { startTestCentral, storeTest, type TestCentral } from '../helpers/central.js';
import { VulnDb } from '../../src/vuln/db.js';
import { importPath } from '../../src/vuln/feeds/index.js';
import { openVulnDb } from '../../src/central/images/db-version.js';

const work = mkdtempSync(join(tmpdir(), 'gatehouse-summary-'));
after(() => rmSync(work, { recursive: true, force: true }));
const dbPath = join(work, 'vuln.db');
process.env.GATEHOUSE_DB = dbPath;

async function importTracker(cves: string[]): Promise<string> {
  const file = join(work, `tracker-${cves.length}.json`);
  writeFileSync(file, JSON.stringify({ openssl: Object.fromEntries(cves.map((c) => [c, { releases: { bookworm: { status: 'resolved', fixed_version: '3.0.99', urgency: 'high' } } }])) }));
  const db = VulnDb.open(dbPath, { create: true });
  try {
    await importPath(db, file);
  } finally {
    db.close();
  }
  const { db: ro, version } = openVulnDb(dbPath);
  ro.close();
  return version;
}

async function allViolations(c: TestCentral): Promise<{ severity: string; stage: string; state: string }[]> {
  const out: { severity: string; stage: string; state: string }[] = [];
  let cursor: string | null = null;
  do {
    const page: { body: { items: { severity: string; stage: string; state: string }[]; nextCursor: string | null } } = await c.api('GET', `/api/v1/violations?limit=1000${cursor ? `&cursor=${cursor}` : ''}`);
    out.push(...page.body.items);
    cursor = page.body.nextCursor;
  } while (cursor);
  return out;
}

const tally = (xs: string[]) => xs.reduce<Record<string, number>>((m, x) => ({ ...m, [x]: (m[x] ?? 0) + 1 }), {});

await storeTest('the summary counts exactly what the list routes hold, sensors up in a window, and the DB version and age', async (dialect) => {
  rmSync(dbPath, { force: true });
  let clock = new Date('2026-12-07T10:00:00Z');
  const c = await startTestCentral({ dialect, now: () => clock });
  try {
    const analyst = await c.token('analyst');
    const empty = await c.api('GET', '/api/v1/summary', undefined, analyst);
    assert.equal(empty.status, 200);
    assert.equal(empty.body.violations.total, 0);
    assert.deepEqual(empty.body.sensors, { windowMinutes: 15, since: '2026-12-07T09:45:00.000Z', up: 0, clustersUp: 0, hostsUp: 0, known: 0, lastEventAt: null });
    assert.equal(empty.body.vulnDb.present, false, 'no DB file yet');
    assert.equal(empty.body.vulnDb.ageSeconds, null);

    // Violations from a real k8s check, pushed by the CLI.
    const ci = await c.token('ci');
    const manifests = fileURLToPath(new URL('../kube/fixtures/real-repo/kubernetes-manifests', import.meta.url));
    const r = await runCli(['k8s', 'check', manifests, '--format', 'json', '--output', join(work, `k8s-${dialect}.json`), '--server', c.url, '--token', ci], {
      env: { GATEHOUSE_SERVER: undefined, GATEHOUSE_TOKEN: undefined, GATEHOUSE_CA: undefined }, timeoutMs: 180_000,
    });
    assert.equal(r.code, 0, r.stderr);
    // Resolve one so that states differ.
    const first = (await c.api('GET', '/api/v1/violations?limit=1')).body.items[0];
    assert.equal((await c.api('PATCH', `/api/v1/violations/${first.id}`, { state: 'resolved' })).status, 200);

    // Sensors: a cluster now, a host 20 minutes ago (outside the default 15-minute window).
    const sensor = await c.token('sensor');
    const alert = (id: string) => ({ id, type: 'alert', time: clock.toISOString(), finding: { id: 'Terminal shell', kind: 'runtime', severity: 'HIGH', title: 'shell', resource: { container: { id: 'c1' } } } });
    clock = new Date('2026-12-07T09:40:00Z');
    assert.equal((await c.api('POST', '/api/v1/ingest/events', { source: { kind: 'sensor', host: 'h1' }, events: [alert('e1')] }, sensor)).status, 200);
    clock = new Date('2026-12-07T10:00:00Z');
    assert.equal((await c.api('POST', '/api/v1/ingest/events', { source: { kind: 'sensor', cluster: 'prod', node: 'n1' }, events: [alert('e2'), alert('e3')] }, sensor)).status, 200);

    // A host added through the API (pending until its watcher connects).
    assert.equal((await c.api('POST', '/api/v1/hosts', { name: 'edge', endpoint: 'tcp://127.0.0.1:9/' })).status, 201);

    // The DB, and images matched with it or with an older one.
    const version = await importTracker(['CVE-2099-1', 'CVE-2099-2']);
    const push = (d: string, body: object) => c.api('POST', '/api/v1/ingest/images', { image: { digest: `sha256:${d.repeat(64)}` }, ...body }, ci);
    assert.equal((await push('1', { db: { version }, signature: { verified: true, signers: ['k'] } })).status, 200);
    assert.equal((await push('2', { db: { version: 'old+000000000000' }, signature: { verified: false } })).status, 200);
    assert.equal((await push('3', {})).status, 200);

    const s = (await c.api('GET', '/api/v1/summary', undefined, analyst)).body;
    const violations = await allViolations(c);
    assert.ok(violations.length > 3, `the fixture breaks deploy policies (${violations.length})`);
    assert.equal(s.violations.total, violations.length);
    const active = violations.filter((v) => v.state === 'active');
    assert.equal(s.violations.active, active.length);
    assert.deepEqual(s.violations.byState, tally(violations.map((v) => v.state)));
    assert.equal(s.violations.byState.resolved, 1);
    assert.deepEqual(s.violations.bySeverity, tally(active.map((v) => v.severity)));
    assert.deepEqual(s.violations.byStage, tally(active.map((v) => v.stage)));
    assert.equal(s.violations.cells.reduce((a: number, x: { count: number }) => a + x.count, 0), violations.length);

    assert.deepEqual(s.images, { total: 3, scanned: (await c.api('GET', '/api/v1/images')).body.items.filter((i: { scannedAt: string | null }) => i.scannedAt).length, withSbom: 0, signed: 1 });
    assert.equal(s.deployments.total, (await c.api('GET', '/api/v1/deployments')).body.items.length);
    assert.deepEqual(s.hosts, { total: 1, up: 0, byState: { pending: 1 } });
    assert.deepEqual(s.clusters, { total: 0, up: 0, byState: {} });
    assert.deepEqual(s.sensors, { windowMinutes: 15, since: '2026-12-07T09:45:00.000Z', up: 1, clustersUp: 1, hostsUp: 0, known: 2, lastEventAt: '2026-12-07T10:00:00.000Z' });
    const wide = (await c.api('GET', '/api/v1/summary?sensorWindowMinutes=30', undefined, analyst)).body.sensors;
    assert.equal(wide.up, 2, 'the host sent within 30 minutes');

    assert.equal(s.vulnDb.present, true);
    assert.equal(s.vulnDb.version, version);
    assert.equal(s.vulnDb.advisories, 2);
    assert.equal(s.vulnDb.imagesCurrent, 1);
    assert.equal(s.vulnDb.imagesStale, 1);
    assert.equal(s.vulnDb.error, null);
    const updated = Date.parse(s.vulnDb.updatedAt);
    assert.ok(Number.isFinite(updated));
    assert.equal(s.vulnDb.ageSeconds, Math.max(0, Math.floor((clock.getTime() - updated) / 1000)));
    // Age follows Central's clock; a changed file is read again.
    clock = new Date(Math.max(clock.getTime(), updated) + 3 * 86_400_000);
    const later = (await c.api('GET', '/api/v1/summary', undefined, analyst)).body.vulnDb;
    assert.equal(later.ageSeconds, Math.floor((clock.getTime() - updated) / 1000));
    const v2 = await importTracker(['CVE-2099-1', 'CVE-2099-2', 'CVE-2099-3']);
    assert.notEqual(v2, version);
    const after2 = (await c.api('GET', '/api/v1/summary', undefined, analyst)).body.vulnDb;
    assert.equal(after2.version, v2);
    assert.equal(after2.advisories, 3);
    assert.equal(after2.imagesStale, 2, 'both matched images are now behind the DB');

    // Strict query, readers only.
    assert.equal((await c.api('GET', '/api/v1/summary?colour=red', undefined, analyst)).status, 400);
    assert.equal((await c.api('GET', '/api/v1/summary?sensorWindowMinutes=0', undefined, analyst)).status, 400);
    assert.equal((await c.api('GET', '/api/v1/summary', undefined, sensor)).status, 403);
  } finally {
    await c.close();
  }
});
