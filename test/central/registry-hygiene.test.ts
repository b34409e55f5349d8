/**
 * Registry hygiene per watched repository, against the local Distribution registry: images
 * of chosen ages pushed to it (and copied with skopeo), one signed the cosign way, one
 * vulnerable by what Central knows; the job's function audits the watch, and a second run
 * updates the stored findings instead of adding to them.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestCentral, storeTest } from '../helpers/central.js';
import { runCli } from '../helpers/cli.js';
import { missing, testRegistry } from '../helpers/components.js';
import { run } from '../engine-proxy/helpers.js';
import { pushTestImage, registryUp, uniqueRepo } from '../trust/fixtures.js';
import { generateKeyPair } from '../../src/trust/keys.js';
import { auditWatchedRepositories, registryHygieneJob } from '../../src/central/jobs/registry-hygiene.js';

const registrySkip = missing(registryUp(), `no registry at ${testRegistry}`);
const DAY = 86_400_000;

await storeTest('registry hygiene: watched repositories get stale, unsigned and vulnerable findings; a re-run updates them', async (dialect) => {
  if (registrySkip) return;
  let clock = new Date();
  const c = await startTestCentral({ dialect, now: () => clock });
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-hygiene-'));
  try {
    const repo = uniqueRepo('hygiene');
    const target = `${testRegistry}/${repo}`;
    const old = await pushTestImage(repo, 'v1', new Date(Date.now() - 400 * DAY).toISOString());
    const vulnerable = await pushTestImage(repo, 'v2', new Date(Date.now() - 10 * DAY).toISOString());
    const copy = await run('skopeo', ['copy', '-q', '--preserve-digests', '--src-tls-verify=false', '--dest-tls-verify=false', `docker://${vulnerable.ref}`, `docker://${target}:v2-copy`]);
    assert.equal(copy.code, 0, copy.stderr);
    const signed = await pushTestImage(repo, 'v3', new Date(Date.now() - 5 * DAY).toISOString());
    const pair = await generateKeyPair('pw');
    writeFileSync(join(dir, 'k.key'), pair.privatePem);
    const sign = async (ref: string) => {
      const r = await runCli(['image', 'sign', '--key', join(dir, 'k.key'), ref], { env: { GATEHOUSE_PASSWORD: 'pw' } });
      assert.equal(r.code, 0, r.stderr);
    };
    await sign(signed.ref);
    // Central knows v2's digest from a scan push: one CRITICAL and one HIGH vulnerability.
    const vuln = (id: string, severity: string) => ({ id, kind: 'vulnerability', severity, title: `${id} in openssl`, resource: { image: { ref: vulnerable.ref, digest: vulnerable.digest } }, data: { package: 'openssl', installedVersion: '3.0.1', fixedVersion: '3.0.2' } });
    const ingest = await c.api('POST', '/api/v1/ingest/images', { image: { digest: vulnerable.digest, refs: [vulnerable.ref] }, findings: [vuln('CVE-2099-0001', 'CRITICAL'), vuln('CVE-2099-0002', 'HIGH')] });
    assert.equal(ingest.status, 200, JSON.stringify(ingest.body));

    // Watches through the CLI: admin adds, the same repository again is the same watch, analysts may only list.
    const admin = { GATEHOUSE_SERVER: c.url, GATEHOUSE_TOKEN: c.adminToken };
    const added = await runCli(['registry', 'watch', 'add', target, '--format', 'json'], { env: admin });
    assert.equal(added.code, 0, added.stderr);
    const watch = JSON.parse(added.stdout);
    assert.deepEqual([watch.registry, watch.repository, watch.target], [testRegistry, repo, target]);
    const again = await runCli(['registry', 'watch', 'add', target, '--format', 'json'], { env: admin });
    assert.equal(JSON.parse(again.stdout).id, watch.id);
    const analyst = { GATEHOUSE_SERVER: c.url, GATEHOUSE_TOKEN: await c.token('analyst') };
    const refused = await runCli(['registry', 'watch', 'add', `${testRegistry}/other`], { env: analyst });
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /^gatehouse: Central at .*: 403 role "analyst" may not do this \(needs admin\)\n$/);
    const bad = await c.api('POST', '/api/v1/registry-watches', { repository: `${testRegistry}/Bad Name` });
    assert.equal(bad.status, 400);
    assert.match(bad.body.message, /is not REGISTRY\/REPOSITORY/);
    assert.equal((await c.api('POST', '/api/v1/registry-watches', { repository: target, every: '5m' })).status, 400);

    const runs = await auditWatchedRepositories(c.ctx);
    assert.equal(runs.length, 1);
    assert.equal(runs[0]!.error, undefined);
    assert.equal(runs[0]!.tags, 4, 'the .sig tag is not an image');

    const stored = async () => {
      const rows = await c.db().selectFrom('findings').selectAll().where('source', '=', 'registry-audit').where('target', '=', target).execute();
      return rows.map((r) => ({ ...r, finding: JSON.parse(r.body) })).filter((r) => r.kind === 'hygiene');
    };
    const flags = (rows: Awaited<ReturnType<typeof stored>>) => rows.map((r) => `${r.finding.data.tag}:${r.finding.data.flag}`).sort();
    let rows = await stored();
    assert.deepEqual(flags(rows), ['v1:stale', 'v1:unsigned', 'v2-copy:unsigned', 'v2-copy:vulnerable', 'v2:unsigned', 'v2:vulnerable']);
    const v2 = rows.find((r) => r.finding.data.tag === 'v2' && r.finding.data.flag === 'vulnerable')!;
    assert.equal(v2.severity, 'CRITICAL');
    assert.match(v2.finding.detail, /1 CRITICAL, 1 HIGH/);
    assert.equal(v2.finding.resource.image.digest, vulnerable.digest);
    const stale = rows.find((r) => r.finding.data.flag === 'stale')!;
    assert.equal(stale.finding.resource.image.digest, old.digest);
    assert.ok(stale.finding.data.ageDays >= 399 && stale.finding.data.ageDays <= 401);

    // Central's build policies run over tags it has not scanned: the old one breaks the built-in age policy.
    const violations = async () => (await c.api('GET', `/api/v1/violations?subjectKind=registry-audit&subject=${encodeURIComponent(target)}`)).body.items;
    const firstViolations = await violations();
    assert.deepEqual(firstViolations.map((v: { policyId: string }) => v.policyId), ['image-older-than-180-days'], JSON.stringify(firstViolations));
    assert.equal(firstViolations[0].state, 'active');
    assert.match(firstViolations[0].title, /./);

    // A second run a day later updates: same rows, first-seen kept, last-seen moved, no duplicates.
    const firstSeen = new Map(rows.map((r) => [r.fingerprint, r.first_seen]));
    clock = new Date(clock.getTime() + DAY);
    await auditWatchedRepositories(c.ctx);
    rows = await stored();
    assert.equal(rows.length, firstSeen.size);
    for (const r of rows) {
      assert.equal(r.first_seen, firstSeen.get(r.fingerprint));
      assert.equal(r.last_seen, clock.toISOString());
    }
    assert.equal((await violations()).length, 1);

    // Signing v1 clears its unsigned flag at the next run.
    await sign(old.ref);
    await auditWatchedRepositories(c.ctx);
    assert.deepEqual(flags(await stored()), ['v1:stale', 'v2-copy:unsigned', 'v2-copy:vulnerable', 'v2:unsigned', 'v2:vulnerable']);

    // Every tag, flagged or not, as the console's per-tag view reads it (an analyst may).
    const tagsRes = await c.api('GET', `/api/v1/registry-watches/${watch.id}/tags`, undefined, analyst.GATEHOUSE_TOKEN);
    assert.equal(tagsRes.status, 200, JSON.stringify(tagsRes.body));
    const tagRows = tagsRes.body.items as Array<{ tag: string; digest?: string; signed: boolean; stale: boolean; ageDays?: number; vulnerabilities?: Record<string, number> }>;
    assert.equal(tagRows.length, 4);
    const byTag = new Map(tagRows.map((t) => [t.tag, t]));
    // the same facts as the findings: v1 stale and (now) signed, v2 and its copy vulnerable and unsigned
    assert.deepEqual(tagRows.filter((t) => t.stale).map((t) => t.tag), ['v1']);
    assert.equal(byTag.get('v1')!.signed, true);
    assert.equal(byTag.get('v1')!.digest, old.digest);
    assert.ok(byTag.get('v1')!.ageDays! >= 399 && byTag.get('v1')!.ageDays! <= 402);
    for (const t of ['v2', 'v2-copy']) {
      assert.equal(byTag.get(t)!.signed, false, t);
      assert.equal(byTag.get(t)!.digest, vulnerable.digest, t);
      assert.equal(byTag.get(t)!.vulnerabilities?.CRITICAL, 1, t);
      assert.equal(byTag.get(t)!.vulnerabilities?.HIGH, 1, t);
    }
    const flaggedTags = new Set(flags(await stored()).map((f) => f.split(':')[0]));
    const clean = tagRows.filter((t) => !flaggedTags.has(t.tag));
    assert.equal(clean.length, 1, 'one tag no finding names is listed too');
    assert.ok(clean[0]!.signed && !clean[0]!.stale && !Object.values(clean[0]!.vulnerabilities ?? {}).some((n) => n > 0), JSON.stringify(clean[0]));
    assert.equal((await c.api('GET', '/api/v1/registry-watches/rw-nope/tags')).status, 404);

    const listed = await runCli(['registry', 'watch', 'list', '--format', 'json'], { env: analyst });
    assert.equal(listed.code, 0, listed.stderr);
    const [w] = JSON.parse(listed.stdout);
    assert.equal(w.tags, 4);
    assert.equal(w.lastRunAt, clock.toISOString());
    assert.equal(w.lastError, null);

    // Removing the watch removes its findings and resolves its violations.
    const removed = await runCli(['registry', 'watch', 'remove', watch.id], { env: admin });
    assert.equal(removed.code, 0, removed.stderr);
    assert.equal((await stored()).length, 0);
    assert.equal((await violations())[0].state, 'resolved');
    assert.equal((await runCli(['registry', 'watch', 'remove', watch.id], { env: admin })).code, 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await c.close();
  }
});

await storeTest('registry hygiene job: audits at start and again when a watch is added; an unreachable registry is recorded, not fatal', async (dialect) => {
  if (registrySkip) return;
  const c = await startTestCentral({ dialect });
  const stop = new AbortController();
  const warnings: object[] = [];
  const log = { info() {}, warn: (o: object) => warnings.push(o), error: (o: object) => warnings.push(o) };
  const job = registryHygieneJob(3_600_000, { registry: { retry: { attempts: 1 } } })(c.ctx, stop.signal, { log });
  try {
    const repo = uniqueRepo('hygiene-job');
    await pushTestImage(repo, 'v1');
    assert.equal((await c.api('POST', '/api/v1/registry-watches', { repository: `${testRegistry}/${repo}` })).status, 201);
    assert.equal((await c.api('POST', '/api/v1/registry-watches', { repository: '127.0.0.1:1/nothing/here' })).status, 201);
    // The add wakes the job long before its hour is up.
    const deadline = Date.now() + 30_000;
    let items: { target: string; lastRunAt: string | null; lastError: string | null; tags: number | null }[] = [];
    while (Date.now() < deadline) {
      items = (await c.api('GET', '/api/v1/registry-watches')).body.items;
      // The job logs a failed audit after the run's results are stored: wait for both.
      if (items.length === 2 && items.every((w) => w.lastRunAt) && warnings.some((w) => JSON.stringify(w).includes('127.0.0.1:1/nothing/here'))) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const byTarget = new Map(items.map((w) => [w.target, w]));
    assert.equal(byTarget.get(`${testRegistry}/${repo}`)?.tags, 1, JSON.stringify(items));
    assert.match(byTarget.get('127.0.0.1:1/nothing/here')?.lastError ?? '', /./);
    assert.ok(warnings.some((w) => JSON.stringify(w).includes('127.0.0.1:1/nothing/here')));
  } finally {
    stop.abort();
    await job;
    await c.close();
  }
});
