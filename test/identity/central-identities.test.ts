/**
 * `GET /api/v1/identities` on a real Central (SQLite, and PostgreSQL when present): images
 * pushed through the ingest API (signature, vulnerability findings), workloads as the
 * inventory stores them (a cluster Deployment with its service account and pod annotations,
 * a plain-host container with its engine's image labels). An identity from the API is then
 * a connection's source in `gatehouse policy eval`.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { deploymentId } from '../../src/central/live/deployments.js';
import { startTestCentral, storeTest, type TestCentral } from '../helpers/central.js';
import { runCli } from '../helpers/cli.js';

const work = mkdtempSync(join(tmpdir(), 'gatehouse-identities-'));
after(() => rmSync(work, { recursive: true, force: true }));

const now = new Date().toISOString();
const D1 = `sha256:${'1'.repeat(64)}`;
const D2 = `sha256:${'2'.repeat(64)}`;
const HOST_IMAGE = `sha256:${'3'.repeat(64)}`;
const vuln = (id: string, severity: string) => ({ id, kind: 'vulnerability', severity, title: `${id} in openssl`, resource: { image: { ref: 'x' } }, data: { package: 'openssl', installedVersion: '3.0.1' } });

async function addSource(c: TestCentral, id: string, kind: 'cluster' | 'host') {
  await c.db().insertInto('sources').values({ id, kind, name: id, config: 'sealed', state: 'up', message: null, first_seen: now, last_seen: now }).execute();
}

async function addWorkload(c: TestCentral, sourceId: string, kind: string, namespace: string, name: string, body: Record<string, unknown>, images: string[], uid = `uid-${name}`) {
  await c.db().insertInto('objects').values({ source_id: sourceId, kind, uid, namespace, name, resource_version: '1', body: JSON.stringify(body), first_seen: now, last_seen: now, deleted_at: null }).execute();
  await c.db().insertInto('deployments').values({
    id: deploymentId(sourceId, kind, namespace, name), source_id: sourceId, namespace, kind, name, labels: '{}', images: JSON.stringify(images),
    risk_score: 1, risk: '{}', first_seen: now, last_seen: now, deleted_at: null,
  }).execute();
}

const deployment = (namespace: string, name: string, spec: Record<string, unknown>, podMeta: Record<string, unknown> = {}) => ({
  apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace, labels: { app: name } },
  spec: { template: { metadata: { labels: { app: name }, ...podMeta }, spec } },
});

await storeTest('GET /api/v1/identities: images, signature, vulnerabilities, provenance, service account and SPIFFE ID of every live deployment', async (dialect) => {
  const c = await startTestCentral({ dialect });
  try {
    const ci = await c.token('ci');
    // Images as CI pushes them: a signed one with findings, an unsigned one never scanned.
    let r = await c.api('POST', '/api/v1/ingest/images', { image: { digest: D1, refs: ['registry.example/shop/checkout:1.4'] }, findings: [vuln('CVE-2024-1', 'CRITICAL'), vuln('CVE-2024-2', 'HIGH'), vuln('CVE-2024-3', 'HIGH'), vuln('CVE-2024-4', 'LOW')], signature: { verified: true, signers: ['release-key'] } }, ci);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    r = await c.api('POST', '/api/v1/ingest/images', { image: { digest: D2, refs: ['registry.example/mesh/proxy:2'] }, signature: { verified: false, message: 'no signature' } }, ci);
    assert.equal(r.status, 200, JSON.stringify(r.body));

    await addSource(c, 'prod', 'cluster');
    await addSource(c, 'node1', 'host');
    await addWorkload(c, 'prod', 'Deployment', 'shop', 'checkout', deployment('shop', 'checkout', {
      serviceAccountName: 'checkout',
      containers: [{ name: 'app', image: 'registry.example/shop/checkout:1.4' }, { name: 'proxy', image: 'registry.example/mesh/proxy:2' }],
    }, { annotations: { 'org.opencontainers.image.revision': '4f2a9c1e', 'org.opencontainers.image.source': 'https://git.example/shop/checkout' }, labels: { app: 'checkout', 'gatehouse.dev/branch': 'main' } }), ['registry.example/shop/checkout:1.4', 'registry.example/mesh/proxy:2']);
    await addWorkload(c, 'prod', 'Deployment', 'payments', 'api', deployment('payments', 'api', { containers: [{ name: 'api', image: `registry.example/payments/api@${D1}` }] }), [`registry.example/payments/api@${D1}`]);
    // A plain-host container and its engine image (labels from the image's config).
    await addWorkload(c, 'node1', 'Container', '', 'billing', { Id: 'c'.repeat(64), Name: '/billing', Image: HOST_IMAGE, Config: { Image: 'localhost/billing:3', Labels: { 'org.opencontainers.image.revision': 'ignored-when-image-says' } } }, ['localhost/billing:3'], 'c'.repeat(64));
    await c.db().insertInto('objects').values({ source_id: 'node1', kind: 'Image', uid: HOST_IMAGE, namespace: '', name: 'localhost/billing:3', resource_version: '1', body: JSON.stringify({ Id: HOST_IMAGE, Config: { Labels: { 'org.opencontainers.image.revision': 'abc999', 'vcs-url': 'https://git.example/billing' } } }), first_seen: now, last_seen: now, deleted_at: null }).execute();
    // A deleted deployment is not listed.
    await addWorkload(c, 'prod', 'Deployment', 'shop', 'gone', deployment('shop', 'gone', { containers: [{ name: 'c', image: 'x:1' }] }), ['x:1']);
    await c.db().updateTable('deployments').set({ deleted_at: now }).where('name', '=', 'gone').execute();

    const analyst = await c.token('analyst');
    const all = await c.api('GET', '/api/v1/identities?trustDomain=prod.example', undefined, analyst);
    assert.equal(all.status, 200, JSON.stringify(all.body));
    const byName = new Map(all.body.items.map((i: { workload: { name: string } }) => [i.workload.name, i]));
    assert.deepEqual([...byName.keys()].sort(), ['api', 'billing', 'checkout']);

    const checkout = byName.get('checkout') as any;
    assert.equal(checkout.id, deploymentId('prod', 'Deployment', 'shop', 'checkout'));
    assert.deepEqual(checkout.workload, { cluster: 'prod', namespace: 'shop', kind: 'Deployment', name: 'checkout' });
    assert.equal(checkout.serviceAccount, 'checkout');
    assert.equal(checkout.spiffeId, 'spiffe://prod.example/ns/shop/sa/checkout');
    assert.deepEqual(checkout.labels, { app: 'checkout' });
    assert.deepEqual(checkout.images.map((i: any) => [i.container, i.digest, i.signature, i.signers, i.vulnerabilities]), [
      ['app', D1, 'verified', ['release-key'], { critical: 1, high: 2, medium: 0, low: 1, unknown: 0 }],
      ['proxy', D2, 'unverified', [], null],
    ]);
    assert.equal(checkout.signature, 'unverified', 'one unsigned image makes the workload unverified');
    assert.equal(checkout.scanned, false);
    assert.deepEqual(checkout.vulnerabilities, { critical: 1, high: 2, medium: 0, low: 1, unknown: 0 });
    assert.deepEqual({ revision: checkout.build.revision, repository: checkout.build.repository, branch: checkout.build.branch }, { revision: '4f2a9c1e', repository: 'https://git.example/shop/checkout', branch: 'main' });
    assert.deepEqual(checkout.build.evidence.map((e: any) => e.origin), ['pod-annotation', 'pod-annotation', 'pod-label']);

    const api = byName.get('api') as any;
    assert.equal(api.serviceAccount, 'default');
    assert.equal(api.spiffeId, 'spiffe://prod.example/ns/payments/sa/default');
    assert.equal(api.signature, 'verified', 'looked up by digest');
    assert.equal(api.scanned, true);

    const billing = byName.get('billing') as any;
    assert.deepEqual(billing.workload, { host: 'node1', namespace: '', kind: 'Container', name: 'billing' });
    assert.equal(billing.spiffeId, 'spiffe://prod.example/host/node1/workload/billing');
    assert.equal(billing.serviceAccount, undefined);
    assert.equal(billing.images[0].digest, HOST_IMAGE);
    assert.equal(billing.signature, 'unknown');
    assert.deepEqual({ revision: billing.build.revision, repository: billing.build.repository }, { revision: 'abc999', repository: 'https://git.example/billing' });
    assert.deepEqual(billing.build.evidence.map((e: any) => e.origin), ['image-label', 'image-label']);

    // Filters, the default trust domain, roles, bad input, OpenAPI.
    const inShop = await c.api('GET', '/api/v1/identities?namespace=shop');
    assert.deepEqual(inShop.body.items.map((i: any) => i.workload.name), ['checkout']);
    assert.equal(inShop.body.items[0].spiffeId, 'spiffe://cluster.local/ns/shop/sa/checkout');
    assert.deepEqual((await c.api('GET', '/api/v1/identities?cluster=prod')).body.items.map((i: any) => i.workload.name).sort(), ['api', 'checkout']);
    assert.equal((await c.api('GET', '/api/v1/identities?cluster=node1')).body.items.length, 0, 'a host is not a cluster');
    const paged = await c.api('GET', '/api/v1/identities?limit=2');
    assert.equal(paged.body.items.length, 2);
    const rest = await c.api('GET', `/api/v1/identities?limit=2&cursor=${paged.body.nextCursor}`);
    assert.equal(rest.body.items.length, 1);
    assert.equal(rest.body.nextCursor, null);
    assert.equal((await c.api('GET', '/api/v1/identities', undefined, await c.token('sensor'))).status, 403);
    assert.equal((await c.api('GET', '/api/v1/identities', undefined, ci)).status, 403);
    const bad = await c.api('GET', '/api/v1/identities?trustDomain=Bad/Domain');
    assert.equal(bad.status, 400);
    assert.match(bad.body.message, /bad SPIFFE trust domain/);
    assert.equal((await c.api('GET', '/api/v1/identities?colour=red')).status, 400);
    const openapi = await c.api('GET', '/api/v1/openapi.json');
    assert.ok(openapi.body.paths['/api/v1/identities']?.get, 'in the OpenAPI document');

    // The API's identity is a connection's source for the one policy engine: checkout carries a critical vulnerability.
    const edge = join(work, `edge-${dialect}.json`);
    writeFileSync(edge, JSON.stringify({ source: checkout, destination: { namespace: 'payments', workload: 'api', port: 8443 } }));
    const verdict = await runCli(['policy', 'eval', '--subject', 'connection', edge, '--policy', 'policies/examples/payments-trusted-callers.yaml', '--format', 'json']);
    assert.equal(verdict.code, 0, verdict.stderr);
    assert.equal(JSON.parse(verdict.stdout).decision, 'deny');
  } finally {
    await c.close();
  }
});
