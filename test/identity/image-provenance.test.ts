/**
 * Build provenance from a real image: podman builds an image FROM a test image with the
 * OCI `revision` and `source` annotations (in the manifest) and a branch label (in the
 * config), pushes it to the test registry, and Gatehouse's image engine reads them back
 * from the registry. The identity built from a Deployment running it, as a `connection`
 * subject, then goes through the one policy engine (`gatehouse policy eval`): a caller
 * built from main may talk to payments, the same code built from a feature branch may not.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { readImageProvenance } from '../../src/identity/image.js';
import { buildServiceIdentity } from '../../src/identity/record.js';
import { hasCommand, missing, testRegistry } from '../helpers/components.js';
import { runCli } from '../helpers/cli.js';
import { startTestCentral } from '../helpers/central.js';
import { deploymentId } from '../../src/central/live/deployments.js';

const work = mkdtempSync(join(tmpdir(), 'gatehouse-identity-image-'));
const BASE = `${testRegistry}/gatehouse-test/layers:v1`;
const built: string[] = [];
after(() => {
  for (const ref of built) spawnSync('podman', ['rmi', '-f', ref], { stdio: 'ignore' });
  rmSync(work, { recursive: true, force: true });
});

const registryUp = () => spawnSync('curl', ['-sf', `http://${testRegistry}/v2/`]).status === 0;
const skip = missing(hasCommand('podman'), 'podman not installed') || missing(registryUp(), `no registry at ${testRegistry} (.ci/setup.d/30-registry.sh)`);

/** Builds FROM the test image with these annotations and labels, pushes it, returns its reference. */
function buildAndPush(name: string, annotations: Record<string, string>, labels: Record<string, string>): string {
  const ref = `${testRegistry}/gatehouse-test/identity-${name}:${randomBytes(4).toString('hex')}`;
  const dir = join(work, name);
  spawnSync('mkdir', ['-p', dir]);
  writeFileSync(join(dir, 'Containerfile'), `FROM ${BASE}\n`);
  // --no-cache: podman's build cache ignores --annotation, so a cached build would keep an earlier run's annotations.
  const args = ['build', '--no-cache', '--runtime', 'runc', '--ulimit', 'nofile=20000:20000', '--tls-verify=false', '--format', 'oci', '-t', ref,
    ...Object.entries(annotations).flatMap(([k, v]) => ['--annotation', `${k}=${v}`]),
    ...Object.entries(labels).flatMap(([k, v]) => ['--label', `${k}=${v}`]), dir];
  const b = spawnSync('podman', args, { encoding: 'utf8', timeout: 300_000 });
  assert.equal(b.status, 0, b.stderr);
  built.push(ref);
  const p = spawnSync('podman', ['push', '--tls-verify=false', ref], { encoding: 'utf8', timeout: 300_000 });
  assert.equal(p.status, 0, p.stderr);
  return ref;
}

const deployment = (image: string) => ({
  apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'checkout', namespace: 'shop', labels: { app: 'checkout' } },
  spec: { template: { metadata: { labels: { app: 'checkout' } }, spec: { serviceAccountName: 'checkout', containers: [{ name: 'app', image }] } } },
});

test('revision and source come from the pushed manifest, the branch from the config label; policy eval allows main and blocks a feature branch', { skip }, async () => {
  const revision = randomBytes(20).toString('hex');
  const source = `https://git.example/shop/checkout-${randomBytes(3).toString('hex')}`;
  const mainRef = buildAndPush('main', { 'org.opencontainers.image.revision': revision, 'org.opencontainers.image.source': source }, { 'gatehouse.dev/branch': 'main', 'org.opencontainers.image.revision': 'label-loses' });
  const featureRef = buildAndPush('feature', { 'org.opencontainers.image.revision': revision, 'org.opencontainers.image.source': source, 'org.opencontainers.image.ref.name': 'refs/heads/feature-x' }, {});

  const main = await readImageProvenance(mainRef, { insecure: true });
  assert.equal(main.annotations['org.opencontainers.image.revision'], revision, 'the annotation is in the registry manifest');
  assert.match(main.digest, /^sha256:[0-9a-f]{64}$/);
  const registryDigest = spawnSync('curl', ['-sfI', '-H', 'Accept: application/vnd.oci.image.manifest.v1+json', `http://${testRegistry}/v2/${mainRef.slice(testRegistry.length + 1).replace(/:([^:]+)$/, '/manifests/$1')}`], { encoding: 'utf8' }).stdout;
  assert.match(registryDigest, new RegExp(`docker-content-digest: ${main.digest}`, 'i'), 'the digest is the registry manifest\'s');
  assert.deepEqual({ revision: main.build.revision, repository: main.build.repository, branch: main.build.branch }, { revision, repository: source, branch: 'main' });
  assert.deepEqual(main.build.evidence, [
    { attribute: 'revision', key: 'org.opencontainers.image.revision', origin: 'image-annotation' },
    { attribute: 'repository', key: 'org.opencontainers.image.source', origin: 'image-annotation' },
    { attribute: 'branch', key: 'gatehouse.dev/branch', origin: 'image-label' },
  ]);
  const feature = await readImageProvenance(featureRef, { insecure: true });
  assert.equal(feature.build.branch, 'feature-x', 'ref.name as a full refs/heads/ ref is a branch');

  // The same through the CLI, from a manifest: `identity show` reads each image.
  const manifest = join(work, 'checkout.yaml');
  const missingRef = `${testRegistry}/gatehouse-test/identity-missing:${randomBytes(4).toString('hex')}`;
  writeFileSync(manifest, [JSON.stringify(deployment(mainRef)), JSON.stringify({ ...deployment(missingRef), metadata: { name: 'other', namespace: 'shop' } })].join('\n---\n'));
  const shown = await runCli(['identity', 'show', manifest, '--insecure', '--trust-domain', 'prod.example', '--format', 'json']);
  assert.equal(shown.code, 0, shown.stderr);
  const [fromMain, fromMissing] = JSON.parse(shown.stdout);
  assert.equal(fromMain.spiffeId, 'spiffe://prod.example/ns/shop/sa/checkout');
  assert.equal(fromMain.images[0].digest, main.digest);
  assert.deepEqual([fromMain.build.revision, fromMain.build.repository, fromMain.build.branch], [revision, source, 'main']);
  assert.equal(fromMain.build.evidence[0].origin, 'image-annotation');
  assert.equal(fromMissing.build.revision, undefined);
  assert.match(shown.stderr, new RegExp(`warning: cannot read ${missingRef.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}, its build provenance is unknown`));

  const edges: Record<string, string> = {};
  for (const [name, ref, prov] of [['main', mainRef, main], ['feature', featureRef, feature]] as const) {
    const identity = buildServiceIdentity({ cluster: 'prod', ...deployment(ref), kind: 'Deployment', namespace: 'shop', name: 'checkout', body: deployment(ref) }, {
      trustDomain: 'prod.example',
      // Signature and scan results are other engines' (image verify, image scan): given here.
      image: () => ({ digest: prov.digest, annotations: prov.annotations, labels: prov.labels, signature: { verified: true, signers: ['release'] }, vulnerabilities: { critical: 0, high: 0, medium: 0, low: 0, unknown: 0 } }),
    });
    assert.equal(identity.spiffeId, 'spiffe://prod.example/ns/shop/sa/checkout');
    assert.equal(identity.images[0]!.digest, prov.digest);
    assert.equal(identity.build.revision, revision);
    const file = join(work, `edge-${name}.json`);
    writeFileSync(file, JSON.stringify({ cluster: 'prod', source: identity, destination: { namespace: 'payments', workload: 'api', port: 8443, protocol: 'TCP' } }));
    edges[name] = file;
  }
  const pack = 'policies/examples/payments-trusted-callers.yaml';
  const allowed = await runCli(['policy', 'eval', '--subject', 'connection', edges.main!, '--policy', pack, '--format', 'json', '--exit-code', '3']);
  assert.equal(allowed.code, 0, allowed.stdout + allowed.stderr);
  assert.equal(JSON.parse(allowed.stdout).decision, 'allow');
  const denied = await runCli(['policy', 'eval', '--subject', 'connection', edges.feature!, '--policy', pack, '--format', 'json', '--exit-code', '3']);
  assert.equal(denied.code, 3, denied.stdout + denied.stderr);
  const out = JSON.parse(denied.stdout);
  assert.equal(out.decision, 'deny');
  assert.deepEqual(out.enforcement, ['block']);
  assert.deepEqual(out.findings.map((f: { id: string }) => f.id), ['payments-untrusted-caller']);
  assert.deepEqual(out.findings[0].resource.k8s, { kind: 'Deployment', namespace: 'shop', name: 'checkout' });
});

test('pushed with `image sbom --server`, the manifest annotations and config labels reach Central: its identities name the build', { skip }, async () => {
  const revision = randomBytes(20).toString('hex');
  const source = `https://git.example/shop/pushed-${randomBytes(3).toString('hex')}`;
  const ref = buildAndPush('pushed', { 'org.opencontainers.image.revision': revision, 'org.opencontainers.image.source': source }, { 'gatehouse.dev/branch': 'main' });
  const central = await startTestCentral();
  try {
    const ci = await central.token('ci');
    const pushed = await runCli(['image', 'sbom', ref, '--insecure', '--format', 'json', '--output', join(work, 'pushed-sbom.json'), '--server', central.url, '--token', ci]);
    assert.equal(pushed.code, 0, pushed.stderr);
    const stored = await central.db().selectFrom('images').select(['digest', 'provenance']).execute();
    assert.equal(stored.length, 1);
    const provenance = JSON.parse(stored[0]!.provenance ?? '{}');
    assert.equal(provenance.annotations['org.opencontainers.image.revision'], revision);
    assert.equal(provenance.labels['gatehouse.dev/branch'], 'main');

    // A Deployment running it (as the inventory stores it), without any pod annotation.
    const now = new Date().toISOString();
    await central.db().insertInto('sources').values({ id: 'prod', kind: 'cluster', name: 'prod', config: 'sealed', state: 'up', message: null, first_seen: now, last_seen: now }).execute();
    const body = deployment(ref);
    await central.db().insertInto('objects').values({ source_id: 'prod', kind: 'Deployment', uid: 'u1', namespace: 'shop', name: 'checkout', resource_version: '1', body: JSON.stringify(body), first_seen: now, last_seen: now, deleted_at: null }).execute();
    await central.db().insertInto('deployments').values({ id: deploymentId('prod', 'Deployment', 'shop', 'checkout'), source_id: 'prod', namespace: 'shop', kind: 'Deployment', name: 'checkout', labels: '{}', images: JSON.stringify([ref]), risk_score: 1, risk: '{}', first_seen: now, last_seen: now, deleted_at: null }).execute();
    const r = await central.api('GET', '/api/v1/identities', undefined, await central.token('analyst'));
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const [identity] = r.body.items;
    assert.equal(identity.images[0].digest, stored[0]!.digest);
    assert.deepEqual([identity.build.revision, identity.build.repository, identity.build.branch], [revision, source, 'main']);
    assert.deepEqual(identity.build.evidence.map((e: { origin: string }) => e.origin), ['image-annotation', 'image-annotation', 'image-label']);
  } finally {
    await central.close();
  }
});
