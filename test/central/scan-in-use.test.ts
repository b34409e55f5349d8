/**
 * Images in use get scanned (issue 16 item 7), with real parts: deployment rows as the live
 * evaluator writes them, images pulled from the local registry (127.0.0.1:5000) and read
 * from the real podman socket for a plain host's container, a real vulnerability DB, and a
 * real Central on SQLite and PostgreSQL.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { after, test } from 'node:test';
import { startTestCentral, storeTest, type TestCentral } from '../helpers/central.js';
import { hasCommand, missing, podmanSocket, testRegistry } from '../helpers/components.js';
import { createObjects, kubeBinariesPresent, startCluster } from '../helpers/kube-cluster.js';
import { VulnDb } from '../../src/vuln/db.js';
import { importPath } from '../../src/vuln/feeds/index.js';
import { deploymentId } from '../../src/central/live/deployments.js';
import { inUseScanJobWith, scanImagesInUse, unscannedImagesInUse } from '../../src/central/images/scan-in-use.js';
import { readImageSbom } from '../../src/central/store/image-sboms.js';

const work = mkdtempSync(join(tmpdir(), 'gatehouse-in-use-'));
after(() => rmSync(work, { recursive: true, force: true }));

function registryUp(): boolean {
  return spawnSync('curl', ['-sf', `http://${testRegistry}/v2/`]).status === 0;
}
const registrySkip = missing(registryUp(), `no registry at ${testRegistry} (.ci/setup.d/30-registry.sh)`);

const DEBIAN = `${testRegistry}/gatehouse-test/debian:bookworm`;
const LAYERS = `${testRegistry}/gatehouse-test/layers:v1`;
const MISSING = `${testRegistry}/gatehouse-test/not-there-${randomBytes(3).toString('hex')}:1`;

/** The manifest digest the registry serves for a tag (the identity Central must store). */
function registryDigest(ref: string): string {
  const [, repo, tag] = /^[^/]+\/(.+):([^:]+)$/.exec(ref)!;
  const r = spawnSync('curl', ['-sfI', '-H', 'Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json', `http://${testRegistry}/v2/${repo}/manifests/${tag}`], { encoding: 'utf8' });
  const m = /docker-content-digest:\s*(\S+)/i.exec(r.stdout);
  assert.ok(m, `registry digest of ${ref}: ${r.stdout}`);
  return m[1]!;
}

/** A DB where apt (in every Debian image) has one open advisory and one fixed long ago. */
async function buildDb(): Promise<string> {
  const path = join(work, 'vuln.db');
  if (existsSync(path)) return path;
  writeFileSync(join(work, 'tracker.json'), JSON.stringify({
    apt: {
      'CVE-2099-7001': { releases: { bookworm: { status: 'open', urgency: 'high' } } },
      'CVE-2099-7002': { releases: { bookworm: { status: 'resolved', fixed_version: '0.1-1', urgency: 'high' } } },
    },
  }));
  const db = VulnDb.open(path, { create: true });
  try {
    await importPath(db, join(work, 'tracker.json'));
  } finally {
    db.close();
  }
  return path;
}

const now = new Date().toISOString();

async function addSource(c: TestCentral, id: string, kind: 'cluster' | 'host', config: string) {
  await c.db().insertInto('sources').values({ id, kind, name: id, config, state: 'up', message: null, first_seen: now, last_seen: now }).execute();
}

async function addDeployment(c: TestCentral, sourceId: string, kind: string, name: string, images: string[], deleted = false) {
  await c.db().insertInto('deployments').values({
    id: deploymentId(sourceId, kind, 'default', name), source_id: sourceId, namespace: 'default', kind, name, labels: '{}', images: JSON.stringify(images),
    risk_score: 1, risk: '{}', first_seen: now, last_seen: now, deleted_at: deleted ? now : null,
  }).execute();
}

const vulnIds = async (c: TestCentral, digest: string) => (await c.api('GET', `/api/v1/images/${digest}`)).body.vulnerabilities.map((v: { id: string }) => v.id).sort();

await storeTest('deployed images Central has no scan of are pulled, scanned and stored once; known, deleted and failing ones are not', async (dialect) => {
  if (registrySkip) return;
  const c = await startTestCentral({ dialect });
  try {
    const dbPath = await buildDb();
    await addSource(c, 'cluster-a', 'cluster', 'sealed');
    // Known already: pushed by CI under the canonical name of what a deployment calls nginx:1.25,
    // and one known by digest. Neither is pulled (this machine has no way to Docker Hub).
    const known = await c.api('POST', '/api/v1/ingest/images', { image: { digest: `sha256:${'b'.repeat(64)}`, refs: ['docker.io/library/nginx:1.25'] }, sbom: { bomFormat: 'CycloneDX', components: [] } });
    assert.equal(known.status, 200);
    await addDeployment(c, 'cluster-a', 'Deployment', 'web', [DEBIAN, 'nginx:1.25']);
    await addDeployment(c, 'cluster-a', 'StatefulSet', 'db', [DEBIAN, MISSING, `quay.io/other/thing@sha256:${'b'.repeat(64)}`]);
    await addDeployment(c, 'cluster-a', 'Deployment', 'gone', [LAYERS], true);

    const todo = await unscannedImagesInUse(c.ctx);
    assert.deepEqual(todo.map((i) => i.ref).sort(), [DEBIAN, MISSING].sort(), 'one entry per canonical reference; known and deleted ones left out');

    const r = await scanImagesInUse(c.ctx, { dbPath, concurrency: 2 });
    assert.deepEqual(r.failed.map((f) => f.ref), [MISSING]);
    assert.match(r.failed[0]!.error, /not-there|not found|unknown|404/i);
    const digest = registryDigest(DEBIAN);
    assert.deepEqual(r.scanned, [{ ref: DEBIAN, digest }]);
    const img = (await c.api('GET', `/api/v1/images/${digest}`)).body;
    assert.deepEqual(img.refs, [DEBIAN]);
    assert.deepEqual(img.os, { family: 'debian', version: '12' });
    assert.ok(img.components.some((x: { name: string }) => x.name === 'apt'), 'the SBOM is stored (re-matched later without a pull)');
    assert.ok(img.layers.length >= 1);
    assert.deepEqual([...new Set(await vulnIds(c, digest))], ['CVE-2099-7001']);
    assert.ok(img.scannedAt);
    // The build policies ran: the Debian image runs as root (a hygiene finding of the same walk).
    assert.ok(img.findings.some((f: { id: string }) => f.id === 'GH-HYG-ROOT'));
    assert.ok(img.violations.some((v: { policyId: string; state: string }) => v.policyId === 'image-runs-as-root' && v.state === 'active'));

    // A second pass finds nothing new to scan (the failing one is tried again; the job backs it off).
    const again = await scanImagesInUse(c.ctx, { dbPath });
    assert.deepEqual(again.scanned, []);
    assert.deepEqual(again.failed.map((f) => f.ref), [MISSING]);
    assert.equal((await c.api('GET', '/api/v1/images')).body.items.length, 2);
  } finally {
    await c.close();
  }
});

test('the job scans what a new deployment runs and tells the evaluator', { skip: registrySkip }, async () => {
  const c = await startTestCentral();
  const stop = new AbortController();
  try {
    const dbPath = await buildDb();
    await addSource(c, 'cluster-b', 'cluster', 'sealed');
    await addDeployment(c, 'cluster-b', 'Deployment', 'layers', [LAYERS]);
    const seen: string[] = [];
    c.ctx.events.on('image', (d: string) => seen.push(d));
    const job = inUseScanJobWith({ dbPath, intervalMs: 100 })(c.ctx, stop.signal, { log: { info() {}, warn() {}, error() {} } });
    const digest = registryDigest(LAYERS);
    const end = Date.now() + 30_000;
    while (!seen.includes(digest) && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(seen, [digest]);
    stop.abort();
    await job;
    const row = await c.db().selectFrom('images').select(['refs', 'has_sbom']).where('digest', '=', digest).executeTakeFirstOrThrow();
    assert.deepEqual(JSON.parse(row.refs), [LAYERS]);
    assert.equal(row.has_sbom, 1);
    assert.ok(await readImageSbom(c.db(), digest));
  } finally {
    stop.abort();
    await c.close();
  }
});

const BUSYBOX = 'localhost/gatehouse-ep-busybox:1';
const podmanPresent = existsSync(podmanSocket) && hasCommand('podman') && spawnSync('podman', ['image', 'exists', BUSYBOX]).status === 0;

test("a plain host's container image is read from the host's engine, not a registry", { skip: missing(podmanPresent, `podman, its socket ${podmanSocket} and the image ${BUSYBOX} (bash .ci/setup)`) }, async () => {
  // A name only podman knows: no registry serves localhost/…, so only the engine can give it.
  const local = `localhost/gh-images-in-use-${randomBytes(4).toString('hex')}:1`;
  assert.equal(spawnSync('podman', ['tag', BUSYBOX, local]).status, 0);
  const c = await startTestCentral();
  try {
    // The host's connection settings, sealed as the sources API seals them.
    await addSource(c, 'host-a', 'host', c.ctx.secrets.seal(JSON.stringify({ endpoint: `unix://${podmanSocket}` })));
    await addDeployment(c, 'host-a', 'Container', 'app', [local]);
    const r = await scanImagesInUse(c.ctx, { dbPath: join(work, 'no-db-here.db') });
    assert.deepEqual(r.failed, []);
    const id = spawnSync('podman', ['image', 'inspect', '--format', '{{.Id}}', local], { encoding: 'utf8' }).stdout.trim();
    assert.deepEqual(r.scanned, [{ ref: local, digest: `sha256:${id.replace(/^sha256:/, '')}` }], 'an engine image is known by its image id');
    const img = (await c.api('GET', `/api/v1/images/${r.scanned[0]!.digest}`)).body;
    assert.deepEqual(img.refs, [local]);
    assert.ok(img.layers.length >= 1, 'the layers were read');
    assert.ok(img.findings.some((f: { id: string }) => f.id === 'GH-HYG-ROOT'), 'the walk ran: busybox runs as root');
    assert.equal(img.dbVersion, null, 'no DB: inventoried, matched later when one appears');
  } finally {
    await c.close();
    spawnSync('podman', ['rmi', local]);
  }
});

/** A registry that wants Basic credentials: a proxy to the local registry that refuses requests without them. */
async function authenticatingRegistry(user: string, password: string): Promise<{ host: string; authorized: () => number; close(): Promise<void> }> {
  const expected = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  let authorized = 0;
  const server = createServer((req, res) => {
    if (req.headers.authorization !== expected) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="gatehouse-test"', 'content-type': 'application/json' });
      res.end('{"errors":[{"code":"UNAUTHORIZED"}]}');
      return;
    }
    authorized++;
    const { authorization: _a, host: _h, ...headers } = req.headers;
    const upstream = httpRequest({ host: testRegistry.split(':')[0], port: Number(testRegistry.split(':')[1]), method: req.method, path: req.url, headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return { host: `127.0.0.1:${port}`, authorized: () => authorized, close: () => new Promise((r) => server.close(() => r())) };
}

const b64 = (s: string) => Buffer.from(s).toString('base64');

test("a cluster's private image is pulled with the workload's pull secret (its service account's), read through the cluster's kubeconfig", { skip: registrySkip || missing(kubeBinariesPresent(), 'kube-apiserver/kine (.ci/setup.d/66-kube.sh)') }, async () => {
  const registry = await authenticatingRegistry('puller', 'correct horse');
  const cluster = await startCluster();
  const c = await startTestCentral();
  try {
    const dockerConfig = (host: string, user: string, pass: string) => b64(JSON.stringify({ auths: { [host]: { auth: b64(`${user}:${pass}`) } } }));
    const objects = [
      // Named first by the pod spec, but for another registry: skipped, as the kubelet would.
      { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'elsewhere', namespace: 'default' }, type: 'kubernetes.io/dockerconfigjson', data: { '.dockerconfigjson': dockerConfig('registry.example', 'x', 'y') } },
      { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'pull', namespace: 'default' }, type: 'kubernetes.io/dockerconfigjson', data: { '.dockerconfigjson': dockerConfig(registry.host, 'puller', 'correct horse') } },
      { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'puller', namespace: 'default' }, imagePullSecrets: [{ name: 'pull' }] },
    ];
    await createObjects(cluster, objects);
    const privateImage = `${registry.host}/gatehouse-test/layers:v1`;
    const publicOnly = `${registry.host}/gatehouse-test/debian:bookworm`;
    const deployment = (name: string, image: string, spec: Record<string, unknown>) => ({
      apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace: 'default', uid: `uid-${name}` },
      spec: { selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: { ...spec, containers: [{ name: 'c', image }] } } },
    });
    // What the watcher stores: the workloads and the service account (Secrets are not watched).
    await addSource(c, 'cluster-p', 'cluster', c.ctx.secrets.seal(JSON.stringify({ kubeconfig: readFileSync(cluster.kubeconfig, 'utf8') })));
    for (const o of [deployment('private', privateImage, { serviceAccountName: 'puller', imagePullSecrets: [{ name: 'elsewhere' }] }), deployment('nosecret', publicOnly, {}), objects[2]!]) {
      await c.db().insertInto('objects').values({ source_id: 'cluster-p', kind: o.kind, uid: `uid-${o.metadata.name}`, namespace: 'default', name: o.metadata.name, resource_version: '1', body: JSON.stringify(o), first_seen: now, last_seen: now, deleted_at: null }).execute();
    }
    await addDeployment(c, 'cluster-p', 'Deployment', 'private', [privateImage]);
    await addDeployment(c, 'cluster-p', 'Deployment', 'nosecret', [publicOnly]);

    const r = await scanImagesInUse(c.ctx, { dbPath: join(work, 'no-db-here.db') });
    assert.deepEqual(r.scanned, [{ ref: privateImage, digest: registryDigest(LAYERS) }]);
    assert.deepEqual(r.failed.map((f) => f.ref), [publicOnly], 'a workload without a pull secret for the registry cannot pull it');
    assert.match(r.failed[0]!.error, /requires authentication/);
    assert.ok(registry.authorized() > 0);
    const stored = JSON.stringify(await c.db().selectFrom('images').selectAll().execute());
    assert.doesNotMatch(stored, /correct horse|cHVsbGVyOmNvcnJlY3QgaG9yc2U/, 'the credentials are not stored');
  } finally {
    await c.close();
    await cluster.stop();
    await registry.close();
  }
});
