/**
 * Identity records from workload objects: where the service account, SPIFFE ID and build
 * provenance come from for each workload kind, and the documented key precedence.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readBuildSource } from '../../src/identity/provenance.js';
import { buildServiceIdentity, type ImageFactsForIdentity } from '../../src/identity/record.js';
import { serviceIdentityFromData } from '../../src/identity/parse.js';
import { hostSpiffeId, kubernetesSpiffeId, parseSpiffeId } from '../../src/identity/spiffe.js';

test('provenance: image annotations beat image labels beat pod annotations beat pod labels', () => {
  const b = readBuildSource({
    'image-annotation': { 'org.opencontainers.image.revision': 'from-annotation' },
    'image-label': { 'org.opencontainers.image.revision': 'from-label', 'org.label-schema.vcs-url': 'https://git.example/a' },
    'pod-annotation': { 'org.opencontainers.image.source': 'https://git.example/pod', 'gatehouse.dev/branch': 'refs/heads/release/1.x' },
    'pod-label': { 'gatehouse.dev/branch': 'main' },
  });
  assert.equal(b.revision, 'from-annotation');
  assert.equal(b.repository, 'https://git.example/a', 'a label-schema key in the image beats the OCI key on the pod');
  assert.equal(b.branch, 'release/1.x', 'refs/heads/ dropped');
  assert.deepEqual(b.evidence, [
    { attribute: 'revision', key: 'org.opencontainers.image.revision', origin: 'image-annotation' },
    { attribute: 'repository', key: 'org.label-schema.vcs-url', origin: 'image-label' },
    { attribute: 'branch', key: 'gatehouse.dev/branch', origin: 'pod-annotation' },
  ]);
});

test('provenance: ref.name is a branch only as a full refs/heads/ ref; OpenShift and Red Hat keys are read', () => {
  assert.equal(readBuildSource({ 'image-annotation': { 'org.opencontainers.image.ref.name': '1.4.2' } }).branch, undefined);
  assert.equal(readBuildSource({ 'image-annotation': { 'org.opencontainers.image.ref.name': 'refs/heads/main' } }).branch, 'main');
  assert.equal(readBuildSource({ 'image-annotation': { 'org.opencontainers.image.ref.name': 'refs/heads/' } }).branch, undefined);
  const os = readBuildSource({ 'image-label': { 'io.openshift.build.commit.id': 'c0ffee', 'io.openshift.build.source-location': 'https://git.example/os', 'io.openshift.build.commit.ref': 'develop' } });
  assert.deepEqual([os.revision, os.repository, os.branch], ['c0ffee', 'https://git.example/os', 'develop']);
  const rh = readBuildSource({ 'container-label': { 'vcs-ref': 'abc', 'vcs-url': 'https://git.example/rh' } });
  assert.deepEqual([rh.revision, rh.repository, rh.branch], ['abc', 'https://git.example/rh', undefined]);
  assert.deepEqual(readBuildSource({ 'image-label': { 'org.opencontainers.image.revision': '  ' } }), { evidence: [] }, 'a blank value is no value');
});

test('SPIFFE IDs: Kubernetes and plain-host schemes, and the ID syntax', () => {
  assert.equal(kubernetesSpiffeId('cluster.local', 'shop', 'checkout'), 'spiffe://cluster.local/ns/shop/sa/checkout');
  assert.equal(hostSpiffeId('example.org', 'Node1', '/billing'), 'spiffe://example.org/host/node1/workload/billing');
  assert.throws(() => kubernetesSpiffeId('cluster.local', 'shop', 'a b'), /not a path segment/);
  assert.throws(() => kubernetesSpiffeId('Cluster.Local', 'shop', 'x'), /bad SPIFFE trust domain/);
  assert.deepEqual(parseSpiffeId('spiffe://td/a/b'), { trustDomain: 'td', path: '/a/b' });
  for (const bad of ['spiffe://td/a//b', 'spiffe://td/a/', 'spiffe://TD/a', 'http://td/a', 'spiffe://td/./a', `spiffe://td/${'a'.repeat(2048)}`, 'spiffe://td:8080/a', 'spiffe://user@td/a']) assert.equal(parseSpiffeId(bad), undefined, bad);
});

const facts: Record<string, ImageFactsForIdentity> = {
  'reg/app:1': { digest: 'sha256:a', signature: { verified: true, signers: ['k2', 'k1'] }, vulnerabilities: { critical: 0, high: 1, medium: 0, low: 0, unknown: 0 }, annotations: { 'org.opencontainers.image.revision': 'r-app' } },
  'reg/init:1': { digest: 'sha256:b', signature: { verified: true, signers: ['k1'] }, vulnerabilities: { critical: 2, high: 0, medium: 0, low: 0, unknown: 1 }, labels: { 'org.opencontainers.image.revision': 'r-init' } },
};
const image = (ref: string) => facts[ref];

test('a CronJob: service account from the job template, init containers counted, the main container gives the build', () => {
  const cron = {
    apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name: 'report', namespace: 'ops', labels: { team: 'ops' } },
    spec: { jobTemplate: { spec: { template: { metadata: { annotations: { 'org.opencontainers.image.source': 'https://git.example/report' } }, spec: { serviceAccountName: 'reporter', initContainers: [{ name: 'init', image: 'reg/init:1' }], containers: [{ name: 'app', image: 'reg/app:1' }] } } } } },
  };
  const id = buildServiceIdentity({ cluster: 'c1', kind: 'CronJob', namespace: 'ops', name: 'report', body: cron }, { trustDomain: 'td', image });
  assert.equal(id.serviceAccount, 'reporter');
  assert.equal(id.spiffeId, 'spiffe://td/ns/ops/sa/reporter');
  assert.deepEqual(id.labels, { team: 'ops' });
  assert.deepEqual(id.images.map((i) => [i.container, i.digest]), [['app', 'sha256:a'], ['init', 'sha256:b']]);
  assert.equal(id.signature, 'verified');
  assert.deepEqual(id.signers, ['k1', 'k2']);
  assert.deepEqual(id.vulnerabilities, { critical: 2, high: 1, medium: 0, low: 0, unknown: 1 });
  assert.equal(id.scanned, true);
  assert.equal(id.build.revision, 'r-app', 'the main container, not the init container');
  assert.equal(id.build.repository, 'https://git.example/report', 'the pod annotation fills what the image lacks');
  assert.equal(id.images[1]!.build.revision, 'r-init');
});

test('a bare Pod with no service account is "default"; an unknown image leaves everything unknown', () => {
  const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'x' }, spec: { containers: [{ name: 'c', image: 'other/thing@sha256:cafe' }] } };
  const id = buildServiceIdentity({ kind: 'Pod', namespace: 'x', name: 'p', body: pod }, { trustDomain: 'td', image });
  assert.equal(id.serviceAccount, 'default');
  assert.equal(id.spiffeId, 'spiffe://td/ns/x/sa/default');
  assert.equal(id.images[0]!.digest, 'sha256:cafe', 'the digest of a pinned reference');
  assert.equal(id.signature, 'unknown');
  assert.equal(id.vulnerabilities, null);
  assert.equal(id.scanned, false);
});

test('a plain-host container: its labels (which hold its image\'s) give the build; the host scheme gives the ID', () => {
  const body = { Id: 'f'.repeat(64), Name: '/billing', Image: 'sha256:img', Config: { Image: 'localhost/billing:3', Labels: { 'org.opencontainers.image.revision': 'r-host', 'gatehouse.dev/branch': 'main' } } };
  const id = buildServiceIdentity({ host: 'node1', kind: 'Container', namespace: '', name: 'billing', body }, { trustDomain: 'td', image: (_ref, c) => (c.imageId === 'sha256:img' ? { digest: 'sha256:img' } : undefined) });
  assert.equal(id.spiffeId, 'spiffe://td/host/node1/workload/billing');
  assert.equal(id.serviceAccount, undefined);
  assert.equal(id.images[0]!.digest, 'sha256:img');
  assert.deepEqual([id.build.revision, id.build.branch], ['r-host', 'main']);
  assert.deepEqual(id.build.evidence.map((e) => e.origin), ['container-label', 'container-label']);
});

test('an identity read back from data is the same, and aggregates are recomputed from images', () => {
  const pod = { kind: 'Pod', metadata: { name: 'p', namespace: 'x' }, spec: { containers: [{ name: 'a', image: 'reg/app:1' }, { name: 'b', image: 'reg/init:1' }] } };
  const id = buildServiceIdentity({ kind: 'Pod', namespace: 'x', name: 'p', body: pod }, { trustDomain: 'td', image });
  assert.deepEqual(serviceIdentityFromData(JSON.parse(JSON.stringify(id)), 'f'), id);
  const lying = { ...JSON.parse(JSON.stringify(id)), signature: 'verified', vulnerabilities: { critical: 0 } };
  lying.images[0].signature = 'unverified';
  const read = serviceIdentityFromData(lying, 'f');
  assert.equal(read.signature, 'unverified');
  assert.equal(read.vulnerabilities!.critical, 2);
});
