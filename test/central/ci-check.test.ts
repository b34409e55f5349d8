/**
 * The CI gate end to end: a real Central (SQLite and PostgreSQL) and the real CLI.
 * `ci check deployment` on a real manifest and `ci check image` on images in the local
 * registry, against policies uploaded as packs and exceptions created through the API.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startTestCentral, storeTest, type TestCentral } from '../helpers/central.js';
import { runCli } from '../helpers/cli.js';
import { missing, testRegistry } from '../helpers/components.js';
import { pushTestImage, registryUp, uniqueRepo } from '../trust/fixtures.js';
import { VulnDb } from '../../src/vuln/db.js';

const manifest = fileURLToPath(new URL('../kube/fixtures/clean-app.yaml', import.meta.url));

const pack = (id: string, subject: string, stage: string, criteria: string) =>
  `apiVersion: gatehouse.dev/v1\nkind: PolicyPack\npolicies:\n  - id: ${id}\n    name: ${id}\n    severity: HIGH\n    subject: ${subject}\n    stages: [${stage}]\n    criteria:\n${criteria}\n    enforcement: [fail-build]\n`;

/** A pinned release tag is what this test's policy forbids: clean-app.yaml passes every built-in policy and violates only this one. */
const TAG_POLICY = pack('ci-no-1-4-2', 'workload', 'deploy', '      field: container.image.tag\n      op: equals\n      value: "1.4.2"');
const TAG_IMAGE_POLICY = pack('ci-no-fresh-tag', 'image', 'build', '      field: image.tag\n      op: equals\n      value: fresh');

async function ciEnv(c: TestCentral, role: 'ci' | 'sensor' | 'admission' = 'ci') {
  return { GATEHOUSE_SERVER: c.url, GATEHOUSE_TOKEN: await c.token(role) };
}

await storeTest('ci check deployment: fails on a fail-build policy, passes while an exception holds, fails again once it is deleted', async (dialect) => {
  const c = await startTestCentral({ dialect });
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-ci-'));
  try {
    const env = await ciEnv(c);
    const before = await runCli(['ci', 'check', 'deployment', manifest], { env });
    assert.equal(before.code, 0, `${before.stdout}${before.stderr}`);
    assert.match(before.stdout, /verdict: pass/);

    const up = await c.api('POST', '/api/v1/policies', { pack: 'ci-test', yaml: TAG_POLICY });
    assert.equal(up.status, 200, JSON.stringify(up.body));
    const failed = await runCli(['ci', 'check', 'deployment', manifest, '--format', 'json', '--output', join(dir, 'out.json')], { env });
    assert.equal(failed.code, 1, failed.stderr);
    const report = JSON.parse(readFileSync(join(dir, 'out.json'), 'utf8'));
    assert.equal(report.failBuild, true);
    assert.deepEqual(report.findings.map((f: { id: string }) => f.id), ['ci-no-1-4-2']);
    const where = report.findings[0].resource;
    assert.equal(where.k8s.name, 'web');
    assert.equal(where.file.path, manifest, 'the violation points at the local file');
    const lines = readFileSync(manifest, 'utf8').split('\n');
    assert.match(lines[where.file.line - 1], /image: registry\.example\.com\/shop\/web:1\.4\.2/, 'and at the image line');

    const exc = await c.api('POST', '/api/v1/exceptions', { policy: 'ci-no-1-4-2', namespace: 'shop', owner: 'team-shop', reason: 'pinned until the 1.5 rollout', expires: '2099-01-01' });
    assert.equal(exc.status, 201, JSON.stringify(exc.body));
    const excepted = await runCli(['ci', 'check', 'deployment', manifest], { env });
    assert.equal(excepted.code, 0, excepted.stderr);
    assert.match(excepted.stdout, /ci-no-1-4-2 excepted \(owner team-shop, until 2099-01-01\): pinned until the 1\.5 rollout/);
    const sarif = await runCli(['ci', 'check', 'deployment', manifest, '--format', 'sarif'], { env });
    assert.equal(sarif.code, 0, sarif.stderr);
    assert.equal(JSON.parse(sarif.stdout).runs[0].results.length, 0);

    assert.equal((await c.api('DELETE', `/api/v1/exceptions/${exc.body.id}`)).status, 204);
    const again = await runCli(['ci', 'check', 'deployment', manifest, '--format', 'junit'], { env });
    assert.equal(again.code, 1, again.stderr);
    assert.match(again.stdout, /<testsuites[\s\S]*ci-no-1-4-2/);

    // An admission token may ask too; a check is a question: nothing was stored.
    assert.equal((await runCli(['ci', 'check', 'deployment', manifest], { env: await ciEnv(c, 'admission') })).code, 1);
    assert.equal((await c.api('GET', '/api/v1/violations')).body.items.length, 0);
    assert.equal((await c.db().selectFrom('findings').select('fingerprint').execute()).length, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await c.close();
  }
});

await storeTest('ci check: a wrong role gets one 403 line and exit 2; malformed bodies get 400', async (dialect) => {
  const c = await startTestCentral({ dialect });
  try {
    const denied = await runCli(['ci', 'check', 'deployment', manifest], { env: await ciEnv(c, 'sensor') });
    assert.equal(denied.code, 2);
    assert.match(denied.stderr, /^gatehouse: Central at .*: POST \/api\/v1\/ci\/deployment-check: 403 role "sensor" may not do this \(needs ci:check\)\n$/);
    const noServer = await runCli(['ci', 'check', 'deployment', manifest], { env: { GATEHOUSE_SERVER: '', GATEHOUSE_TOKEN: '' } });
    assert.equal(noServer.code, 2);
    assert.match(noServer.stderr, /^gatehouse: no Central to talk to/);

    const ci = await c.token('ci');
    const cases: [string, unknown, RegExp][] = [
      ['/api/v1/ci/deployment-check', '{"objects": [', /./],
      ['/api/v1/ci/deployment-check', { objects: [] }, /objects/],
      ['/api/v1/ci/deployment-check', { objects: [{ kind: 'Pod' }], extra: 1 }, /unknown field "extra"/],
      ['/api/v1/ci/deployment-check', { objects: [{ apiVersion: 'v1' }] }, /^objects: object has no kind/],
      ['/api/v1/ci/image-check', {}, /facts/],
      ['/api/v1/ci/image-check', { facts: { vulnerabilities: 'many' } }, /vulnerabilities/],
      ['/api/v1/ci/image-check', { facts: { ref: 'x', colour: 'red' } }, /colour/],
    ];
    for (const [path, body, message] of cases) {
      const r = await c.api('POST', path, body, ci);
      assert.equal(r.status, 400, `${path} ${JSON.stringify(body)}: ${JSON.stringify(r.body)}`);
      assert.match(r.body.message, message);
      assert.doesNotMatch(r.body.message, /\n/);
    }
    assert.equal((await c.api('POST', '/api/v1/ci/image-check', { facts: { ref: 'x' } }, await c.token('analyst'))).status, 403);
  } finally {
    await c.close();
  }
});

const registrySkip = missing(registryUp(), `no registry at ${testRegistry}`);

await storeTest('ci check image: a real image from the local registry fails a fail-build image policy, a fresh one passes', async (dialect) => {
  if (registrySkip) return;
  const c = await startTestCentral({ dialect });
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-ci-img-'));
  try {
    const repo = uniqueRepo('ci-check');
    const old = await pushTestImage(repo, 'old', new Date(Date.now() - 400 * 86_400_000).toISOString());
    const fresh = await pushTestImage(repo, 'fresh', new Date(Date.now() - 3 * 86_400_000).toISOString());
    const db = join(dir, 'vuln.db');
    VulnDb.open(db, { create: true }).close();
    const env = await ciEnv(c);
    const check = async (ref: string, code: number) => {
      const r = await runCli(['ci', 'check', 'image', ref, '--db', db, '--insecure', '--format', 'json'], { env });
      assert.equal(r.code, code, `${ref}: ${r.stdout}${r.stderr}`);
      const report = JSON.parse(r.stdout);
      assert.equal(report.failBuild, code === 1);
      const failing = report.findings.filter((f: { policy?: { enforcement?: string } }) => f.policy?.enforcement?.includes('fail-build'));
      return { report, failing: failing.map((f: { id: string }) => f.id).sort() as string[] };
    };

    // The built-in build pack: both images run as root (fail-build); the old one is also too old.
    let r = await check(old.ref, 1);
    assert.deepEqual(r.failing, ['image-older-than-180-days', 'image-runs-as-root']);
    assert.equal(r.report.decision, 'deny');
    assert.equal(r.report.findings[0].resource.image.digest, old.digest);
    assert.deepEqual((await check(fresh.ref, 1)).failing, ['image-runs-as-root']);

    // Central's current policies decide: disabling one changes the next verdict.
    assert.equal((await c.api('PATCH', '/api/v1/policies/image-runs-as-root', { enabled: false })).status, 200);
    assert.deepEqual((await check(old.ref, 1)).failing, ['image-older-than-180-days']);
    assert.deepEqual((await check(fresh.ref, 0)).failing, []);

    // So does an uploaded pack …
    assert.equal((await c.api('POST', '/api/v1/policies', { pack: 'ci-image', yaml: TAG_IMAGE_POLICY })).status, 200);
    assert.deepEqual((await check(fresh.ref, 1)).failing, ['ci-no-fresh-tag']);

    // … and an exception for the repository.
    assert.equal((await c.api('POST', '/api/v1/exceptions', { policy: 'image-older-*', image: `${testRegistry}/${repo}*`, owner: 'team', reason: 'base image refresh pending', expires: '2099-01-01' })).status, 201);
    r = await check(old.ref, 0);
    assert.deepEqual(r.report.excepted.map((x: { policy: string }) => x.policy), ['image-older-than-180-days']);
    assert.equal(r.report.excepted[0].exception.owner, 'team');

    const unreachable = await runCli(['ci', 'check', 'image', old.ref, '--db', db, '--insecure'], { env: { ...env, GATEHOUSE_SERVER: 'http://127.0.0.1:1' } });
    assert.equal(unreachable.code, 2);
    assert.match(unreachable.stderr, /^gatehouse: cannot reach Central at http:\/\/127\.0\.0\.1:1/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await c.close();
  }
});
