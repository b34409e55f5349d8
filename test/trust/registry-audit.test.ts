/** `gatehouse registry audit` against the local registry, with images of chosen ages. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { assertValidSarif } from '../helpers/sarif-schema.js';
import { missing, testRegistry } from '../helpers/components.js';
import { generateKeyPair } from '../../src/trust/keys.js';
import { openImage } from '../../src/image/index.js';
import { inventoryImage } from '../../src/inventory/index.js';
import { VulnDb } from '../../src/vuln/db.js';
import { importPath } from '../../src/vuln/feeds/index.js';
import { REGISTRY_IMAGES } from '../fixtures/test-images.js';
import { run } from '../engine-proxy/helpers.js';
import { dropLegacySignatures, pushTestImage, registryUp, scratchDir, uniqueRepo } from './fixtures.js';

const daysAgo = (n: number) => new Date(Date.now() - n * 86_400_000).toISOString();

describe('registry audit', { skip: missing(registryUp(), `no registry at ${testRegistry}`) }, () => {
  let dir: string;
  let cleanup: () => void;
  before(() => ({ dir, cleanup } = scratchDir()));
  after(() => cleanup?.());

  test('reports digest, created, age, size, signed/verified; flags stale, unsigned, moved; paginates', async () => {
    const prefix = uniqueRepo('audit');
    const oldImg = await pushTestImage(`${prefix}/old`, 'v1', daysAgo(400));
    const fresh = await pushTestImage(`${prefix}/fresh`, 'v2', daysAgo(10));
    const pair = await generateKeyPair('a');
    writeFileSync(join(dir, 'k.key'), pair.privatePem);
    writeFileSync(join(dir, 'k.pub'), pair.publicPem);
    const signed = await runCli(['image', 'sign', '--key', join(dir, 'k.key'), fresh.ref], { env: { GATEHOUSE_PASSWORD: 'a' } });
    assert.equal(signed.code, 0, signed.stderr);
    writeFileSync(join(dir, 'policy.yaml'), `keys: { k: k.pub }\nrules:\n  - { match: "${testRegistry}/${prefix}/**", action: require, keys: [k] }\n`);
    const state = join(dir, 'state.json');

    // Page size 2 forces Link pagination through the catalog (other tests' repositories included).
    const args = ['registry', 'audit', testRegistry, '--repo', `${prefix}/**`, '--format', 'json', '--page-size', '2', '--state', state, '--no-vulns'];
    const r = await runCli([...args, '--policy', join(dir, 'policy.yaml')]);
    assert.equal(r.code, 0, r.stderr);
    const rows = JSON.parse(r.stdout);
    assert.deepEqual(rows.map((x: any) => `${x.repository}:${x.tag}`), [`${prefix}/fresh:v2`, `${prefix}/old:v1`], 'signature tags are not listed as images');
    const [f, o] = rows;
    assert.equal(o.digest, oldImg.digest);
    assert.ok(o.ageDays >= 399 && o.ageDays <= 401, String(o.ageDays));
    assert.deepEqual(o.flags, ['stale', 'unsigned', 'unverified']);
    assert.equal(f.digest, fresh.digest);
    assert.equal(f.signed, true);
    assert.equal(f.verified, true);
    assert.deepEqual(f.flags, []);
    assert.ok(f.size > 100 && f.size < 10_000);
    assert.deepEqual(JSON.parse(readFileSync(state, 'utf8')), { [`${prefix}/fresh:v2`]: fresh.digest, [`${prefix}/old:v1`]: oldImg.digest });

    // Move a tag; the next audit flags it, and --max-age changes what counts as stale.
    const moved = await pushTestImage(`${prefix}/fresh`, 'v2', daysAgo(1));
    const again = await runCli(['registry', 'audit', testRegistry, '--repo', `${prefix}/**`, '--format', 'csv', '--state', state, '--max-age', '2y', '--exit-code', '3', '--no-vulns']);
    assert.equal(again.code, 3, again.stderr);
    const lines = again.stdout.trim().split('\n');
    assert.equal(lines[0], 'repository,tag,digest,created,ageDays,size,signed,verified,flags,error');
    assert.match(lines[1]!, new RegExp(`^${prefix}/fresh,v2,${moved.digest},.*,1,\\d+,false,,unsigned moved,$`));
    assert.match(lines[2]!, new RegExp(`^${prefix}/old,v1,${oldImg.digest},.*,false,,unsigned,$`));

    // SARIF: one finding per flag, through the shared formatter, written to --output.
    const sarifFile = join(dir, 'audit.sarif');
    const s = await runCli(['registry', 'audit', testRegistry, '--repo', `${prefix}/**`, '--format', 'sarif', '--output', sarifFile, '--max-age', '2y', '--no-vulns']);
    assert.equal(s.code, 0, s.stderr);
    assert.equal(s.stdout, '');
    const sarif = JSON.parse(readFileSync(sarifFile, 'utf8'));
    assertValidSarif(sarif);
    const results = sarif.runs[0].results as Array<{ ruleId: string; message: { text: string }; partialFingerprints: Record<string, string> }>;
    assert.deepEqual(results.map((x) => x.ruleId), ['registry-unsigned', 'registry-unsigned']);
    assert.ok(results.some((x) => x.message.text.includes(`${prefix}/old:v1`)), JSON.stringify(results));
    assert.notEqual(results[0]!.partialFingerprints['gatehouse/v1'], results[1]!.partialFingerprints['gatehouse/v1']);
  });

  test('vulnerability counts per tag from the scan engine; bundle-only signatures count as signed', async () => {
    const prefix = uniqueRepo('audit-vulns');
    // The debootstrap Debian image, under two tags (one scan), and a tiny image with no packages.
    for (const tag of ['a', 'b']) {
      const c = await run('skopeo', ['copy', '-q', '--preserve-digests', '--src-tls-verify=false', '--dest-tls-verify=false', `docker://${REGISTRY_IMAGES.debian}`, `docker://${testRegistry}/${prefix}/debian:${tag}`]);
      assert.equal(c.code, 0, c.stderr);
    }
    const tiny = await pushTestImage(`${prefix}/tiny`, '1');
    const pair = await generateKeyPair('a');
    writeFileSync(join(dir, 'b.key'), pair.privatePem);
    const signed = await runCli(['image', 'sign', '--bundle', '--key', join(dir, 'b.key'), tiny.ref], { env: { GATEHOUSE_PASSWORD: 'a' } });
    assert.equal(signed.code, 0, signed.stderr);
    await dropLegacySignatures(tiny.repository, tiny.digest);

    // A tracker built from the image's own source packages: per package one HIGH issue fixed
    // after the installed version and one open LOW issue affect it; two others do not.
    const img = await openImage(`${testRegistry}/${prefix}/debian:a`, { insecure: true });
    const inv = await inventoryImage(img).finally(() => img.close());
    const sources = new Map<string, string>();
    for (const p of inv.packages) if (p.ecosystem === 'Debian') sources.set(p.source?.name ?? p.name, p.source?.version ?? p.version);
    const picked = [...sources.keys()].sort().slice(0, 3);
    const codename = inv.os?.codename ?? 'bookworm';
    const tracker: Record<string, Record<string, unknown>> = {};
    picked.forEach((src, i) => {
      const rel = (r: Record<string, unknown>) => ({ releases: { [codename]: r } });
      tracker[src] = {
        [`CVE-2099-${i}101`]: rel({ status: 'resolved', fixed_version: `${sources.get(src)}+gh1`, urgency: 'high' }),
        [`CVE-2099-${i}102`]: rel({ status: 'open', urgency: 'low' }),
        [`CVE-2099-${i}103`]: rel({ status: 'resolved', fixed_version: '0.0.1-1', urgency: 'high' }),
        [`CVE-2099-${i}104`]: rel({ status: 'resolved', fixed_version: '0', urgency: 'medium' }),
      };
    });
    writeFileSync(join(dir, 'tracker.json'), JSON.stringify(tracker));
    const dbPath = join(dir, 'vuln.db');
    const db = VulnDb.open(dbPath, { create: true });
    await importPath(db, join(dir, 'tracker.json'));
    db.close();

    const r = await runCli(['registry', 'audit', testRegistry, '--repo', `${prefix}/**`, '--db', dbPath, '--format', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const rows = JSON.parse(r.stdout) as { repository: string; tag: string; signed: boolean; vulnerabilities?: Record<string, number> }[];
    assert.deepEqual(rows.map((x) => `${x.repository}:${x.tag}`), [`${prefix}/debian:a`, `${prefix}/debian:b`, `${prefix}/tiny:1`]);
    // Findings are per installed (binary) package, as in image scan: a source with two binaries counts twice.
    const affected = inv.packages.filter((p) => p.ecosystem === 'Debian' && picked.includes(p.source?.name ?? p.name)).length;
    assert.ok(affected >= picked.length);
    const expected = { UNKNOWN: 0, LOW: affected, MEDIUM: 0, HIGH: affected, CRITICAL: 0 };
    assert.deepEqual(rows[0]!.vulnerabilities, expected);
    assert.deepEqual(rows[1]!.vulnerabilities, expected);
    assert.deepEqual(rows[2]!.vulnerabilities, { UNKNOWN: 0, LOW: 0, MEDIUM: 0, HIGH: 0, CRITICAL: 0 });
    assert.equal(rows[2]!.signed, true, 'a sigstore bundle referrer counts as a signature');
    assert.equal(rows[0]!.signed, false);

    const table = await runCli(['registry', 'audit', testRegistry, '--repo', `${prefix}/debian`, '--db', dbPath]);
    assert.match(table.stdout, /VULNERABILITIES/);
    assert.match(table.stdout, new RegExp(`C:0 H:${affected} M:0 L:${affected} U:0`));
    const csv = await runCli(['registry', 'audit', testRegistry, '--repo', `${prefix}/tiny`, '--db', dbPath, '--format', 'csv']);
    assert.equal(csv.stdout.split('\n')[0], 'repository,tag,digest,created,ageDays,size,signed,verified,flags,error,vulnCritical,vulnHigh,vulnMedium,vulnLow,vulnUnknown');

    const noDb = await runCli(['registry', 'audit', testRegistry, '--repo', `${prefix}/tiny`, '--db', join(dir, 'absent.db'), '--format', 'json']);
    assert.equal(noDb.code, 0, noDb.stderr);
    assert.match(noDb.stderr, /no vulnerability database at .*absent\.db: vulnerability counts left out/);
    assert.equal(JSON.parse(noDb.stdout)[0].vulnerabilities, undefined);
  });

  test('bad input: unknown age unit, broken state file', async () => {
    const bad = await runCli(['registry', 'audit', testRegistry, '--max-age', '6 months']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^gatehouse: invalid age "6 months"/);
    writeFileSync(join(dir, 'bad-state.json'), '[1,2]');
    const st = await runCli(['registry', 'audit', testRegistry, '--repo', 'none/**', '--state', join(dir, 'bad-state.json')]);
    assert.equal(st.code, 2);
    assert.match(st.stderr, /not an audit state file/);
  });
});
