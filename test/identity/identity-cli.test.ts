/**
 * `gatehouse identity issue` and `identity list` as a user runs them: SVIDs from a CA
 * directory and from a real Central's CA (the key made on the client, only a certificate
 * request sent), checked with openssl; Central's identities listed as JSON and a table.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { deploymentId } from '../../src/central/live/deployments.js';
import { spiffeIdOfCertificate } from '../../src/identity/peer.js';
import { startTestCentral } from '../helpers/central.js';
import { runCli } from '../helpers/cli.js';
import { hasCommand, missing } from '../helpers/components.js';

const work = mkdtempSync(join(tmpdir(), 'gatehouse-identity-cli-'));
after(() => rmSync(work, { recursive: true, force: true }));
const noOpenssl = missing(hasCommand('openssl'), 'openssl not installed');
const verify = (dir: string) => spawnSync('openssl', ['verify', '-CAfile', join(dir, 'bundle.pem'), join(dir, 'svid.pem')], { encoding: 'utf8' });

test('identity issue NAME: an SVID for a workload on this host from a CA directory made on first use', { skip: noOpenssl }, async () => {
  const caDir = join(work, 'ca');
  const out = join(work, 'web');
  const r = await runCli(['identity', 'issue', 'web', '--trust-domain', 'example.org', '--host', 'node1', '--ttl', '30m', '--ca-dir', caDir, '--out-dir', out, '--format', 'json']);
  assert.equal(r.code, 0, r.stderr);
  const info = JSON.parse(r.stdout);
  assert.equal(info.spiffeId, 'spiffe://example.org/host/node1/workload/web');
  assert.equal(statSync(join(caDir, 'example.org', 'ca.key')).mode & 0o777, 0o600);
  assert.equal(statSync(join(caDir, 'example.org')).mode & 0o777, 0o700);
  assert.equal(statSync(join(out, 'svid.key')).mode & 0o777, 0o600);
  const v = verify(out);
  assert.equal(v.status, 0, v.stderr);
  const cert = new X509Certificate(readFileSync(join(out, 'svid.pem')));
  assert.equal(spiffeIdOfCertificate(cert), 'spiffe://example.org/host/node1/workload/web');
  const life = Date.parse(cert.validTo) - Date.now();
  assert.ok(life > 25 * 60_000 && life <= 30 * 60_000, String(life));
  // A second SVID (Kubernetes form) comes from the same CA: the first bundle verifies it.
  const out2 = join(work, 'checkout');
  const r2 = await runCli(['identity', 'issue', 'shop/checkout', '--trust-domain', 'example.org', '--ca-dir', caDir, '--out-dir', out2]);
  assert.equal(r2.code, 0, r2.stderr);
  assert.match(r2.stdout, /^spiffe:\/\/example\.org\/ns\/shop\/sa\/checkout\n/);
  assert.equal(readFileSync(join(out2, 'bundle.pem'), 'utf8'), readFileSync(join(out, 'bundle.pem'), 'utf8'));
});

test('identity issue: bad input is one line and exit 2', async () => {
  const cases: [string[], RegExp][] = [
    [['web', '--ttl', '25h'], /--ttl takes a duration from 1m to 24h/],
    [['a/b/c'], /is not a SPIFFE ID, NAMESPACE\/SERVICE_ACCOUNT or a NAME/],
    [['spiffe://example.org'], /names a trust domain, not a workload/],
    [['spiffe://example.org/x', '--trust-domain', 'other.org'], /is not in --trust-domain other.org/],
    [['web', '--trust-domain', 'Bad Domain'], /bad SPIFFE trust domain/],
    [['we b', '--host', 'node1'], /is not a path segment/],
    [['web', '--server', 'http://127.0.0.1:1', '--token', 't', '--ca-dir', join(work, 'x')], /either --ca-dir or --server/],
  ];
  for (const [args, re] of cases) {
    const caDir = args.includes('--ca-dir') ? [] : ['--ca-dir', join(work, 'ca-bad')];
    const r = await runCli(['identity', 'issue', ...args, ...caDir, '--out-dir', join(work, 'bad-out')]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, re);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
});

test('identity issue --server: Central signs a certificate request; identity list shows its identities', { skip: noOpenssl }, async () => {
  const c = await startTestCentral();
  try {
    const out = join(work, 'from-central');
    const r = await runCli(['identity', 'issue', 'spiffe://prod.example/ns/payments/sa/api', '--server', c.url, '--token', c.adminToken, '--ttl', '2h', '--out-dir', out]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /from Central at http:\/\/127\.0\.0\.1/);
    assert.equal(verify(out).status, 0);
    assert.equal(statSync(join(out, 'svid.key')).mode & 0o777, 0o600);
    const cert = new X509Certificate(readFileSync(join(out, 'svid.pem')));
    assert.equal(spiffeIdOfCertificate(cert), 'spiffe://prod.example/ns/payments/sa/api');
    assert.ok(cert.checkPrivateKey((await import('node:crypto')).createPrivateKey(readFileSync(join(out, 'svid.key')))), 'the key made on the client matches');
    const stored = JSON.stringify(await c.db().selectFrom('meta').selectAll().execute());
    assert.doesNotMatch(stored, /PRIVATE KEY/, "Central's CA key is sealed");
    // The same CA the next time; another trust domain gets its own.
    const again = join(work, 'from-central-2');
    assert.equal((await runCli(['identity', 'issue', 'spiffe://prod.example/x', '--server', c.url, '--token', c.adminToken, '--out-dir', again])).code, 0);
    assert.equal(readFileSync(join(again, 'bundle.pem'), 'utf8'), readFileSync(join(out, 'bundle.pem'), 'utf8'));
    // Only admins may have certificates signed.
    const analyst = await c.token('analyst');
    const denied = await runCli(['identity', 'issue', 'spiffe://prod.example/x', '--server', c.url, '--token', analyst, '--out-dir', join(work, 'denied')]);
    assert.notEqual(denied.code, 0);
    assert.match(denied.stderr, /403/);
    const forged = await c.api('POST', '/api/v1/identities/svid', { spiffeId: 'spiffe://prod.example/x', csr: '-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n' });
    assert.equal(forged.status, 400);
    assert.match(forged.body.message, /not a PKCS#10 certificate request/);

    // identity list against the same Central.
    const now = new Date().toISOString();
    await c.db().insertInto('sources').values({ id: 'prod', kind: 'cluster', name: 'prod', config: 'sealed', state: 'up', message: null, first_seen: now, last_seen: now }).execute();
    const body = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'api', namespace: 'payments' }, spec: { template: { metadata: { annotations: { 'org.opencontainers.image.revision': '0123456789abcdef' } }, spec: { serviceAccountName: 'api', containers: [{ name: 'api', image: 'registry.example/payments/api:1' }] } } } };
    await c.db().insertInto('objects').values({ source_id: 'prod', kind: 'Deployment', uid: 'u1', namespace: 'payments', name: 'api', resource_version: '1', body: JSON.stringify(body), first_seen: now, last_seen: now, deleted_at: null }).execute();
    await c.db().insertInto('deployments').values({ id: deploymentId('prod', 'Deployment', 'payments', 'api'), source_id: 'prod', namespace: 'payments', kind: 'Deployment', name: 'api', labels: '{}', images: '["registry.example/payments/api:1"]', risk_score: 1, risk: '{}', first_seen: now, last_seen: now, deleted_at: null }).execute();
    const json = await runCli(['identity', 'list', '--server', c.url, '--token', analyst, '--format', 'json', '--trust-domain', 'prod.example']);
    assert.equal(json.code, 0, json.stderr);
    const items = JSON.parse(json.stdout);
    assert.equal(items.length, 1);
    assert.equal(items[0].spiffeId, 'spiffe://prod.example/ns/payments/sa/api');
    assert.equal(items[0].build.revision, '0123456789abcdef');
    const table = await runCli(['identity', 'list', '--server', c.url, '--token', analyst]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /SPIFFE ID/);
    assert.match(table.stdout, /Deployment\/api .*spiffe:\/\/cluster\.local\/ns\/payments\/sa\/api .*unknown .*not scanned .*0123456789ab /);
  } finally {
    await c.close();
  }
});
