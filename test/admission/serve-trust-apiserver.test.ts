/**
 * Image trust at admission behind a real kube-apiserver (issue 18, item 2): two
 * `gatehouse admission serve --trust-policy F` processes (one --fail-closed, one fail-open),
 * each registered through a real ValidatingWebhookConfiguration (/validate) and a real
 * MutatingWebhookConfiguration (/mutate) with clientConfig.url to 127.0.0.1 and the
 * webhook's local CA as caBundle, and real images in the local Distribution registry:
 *   - a Pod and a Deployment naming a cosign-signed image by tag are admitted, and what the
 *     apiserver stores (read back) is pinned `repo:tag@sha256:…` to the registry's digest;
 *   - an unsigned image is denied with a message naming the image and the trust policy rule;
 *   - an image signed by a key the policy does not trust is denied;
 *   - an image in a registry that cannot be reached (a closed port): the fail-closed webhook
 *     denies and the fail-open one admits with a warning, both within the budget.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { fetch as undiciFetch } from 'undici';
import { generateKeyPair, parsePrivateKey } from '../../src/trust/keys.js';
import { signImage } from '../../src/trust/sign.js';
import { RegistryStore } from '../../src/trust/registry-write.js';
import { registryReference } from '../../src/trust/image-target.js';
import { cacheHas, missing, testRegistry } from '../helpers/components.js';
import { kubeBinariesPresent, kubeRequest, startCluster, type KubeResponse, type TestCluster } from '../helpers/kube-cluster.js';
import { pushTestImage, registryUp, runCosign, scratchDir, uniqueRepo, type PushedImage } from '../trust/fixtures.js';

const bin = fileURLToPath(new URL('../../bin/gatehouse.mjs', import.meta.url));
const PASS = 'apiserver-trust-pass';
const BUDGET_MS = 2000;
const skip = missing(
  kubeBinariesPresent() && registryUp() && cacheHas('bin', 'cosign-v2'),
  `needs kube-apiserver and kine (.ci/setup.d/66-kube.sh), the registry at ${testRegistry} (30-registry.sh) and cosign (50-cosign.sh)`,
);

interface Webhook { proc: ChildProcess; url: string; ca: string; stderr: () => string }

let cluster: TestCluster;
let dir = '';
let cleanup: (() => void) | undefined;
const webhooks: Webhook[] = [];
let signed: PushedImage;
let otherKeySigned: PushedImage;
let unsigned: PushedImage;
let unreachableImage = '';

const kube = (method: string, path: string, body?: unknown): Promise<KubeResponse> => kubeRequest(cluster, method, path, body);

const pod = (name: string, image: string) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name }, spec: { containers: [{ name: 'web', image }] } });
const createPod = (ns: string, name: string, image: string, dryRun = false) => kube('POST', `/api/v1/namespaces/${ns}/pods${dryRun ? '?dryRun=All' : ''}`, pod(name, image));

/** The digest the registry itself serves for `repository:tag` (not Gatehouse's resolution). */
async function registryDigest(image: PushedImage): Promise<string> {
  const res = await undiciFetch(`http://${testRegistry}/v2/${image.repository}/manifests/${image.tag}`, {
    method: 'HEAD',
    headers: { accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' },
  });
  assert.equal(res.status, 200);
  const digest = res.headers.get('docker-content-digest') ?? '';
  assert.match(digest, /^sha256:[0-9a-f]{64}$/);
  return digest;
}

async function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

async function startWebhook(name: string, policyFile: string, failClosed: boolean): Promise<Webhook> {
  let err = '';
  const args = [bin, 'admission', 'serve', '--listen', '127.0.0.1:0', '--data-dir', join(dir, name), '--trust-policy', policyFile, '--budget', `${BUDGET_MS / 1000}s`, ...(failClosed ? ['--fail-closed'] : [])];
  const proc = spawn(process.execPath, args, {
    env: { ...process.env, GATEHOUSE_FROM_SOURCE: '1', GATEHOUSE_SERVER: undefined, GATEHOUSE_TOKEN: undefined, GATEHOUSE_CA: undefined },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const hook: Webhook = { proc, url: '', ca: '', stderr: () => err };
  webhooks.push(hook);
  const deadline = Date.now() + 60_000;
  while (!hook.url) {
    if (proc.exitCode !== null) throw new Error(`admission serve exited: ${err}`);
    if (Date.now() > deadline) throw new Error(`admission serve did not start: ${err}`);
    for (const line of err.split('\n')) {
      if (!line.startsWith('{')) continue;
      const rec = JSON.parse(line) as { msg: string; url?: string; caFile?: string };
      if (rec.msg === 'admission webhook listening') {
        hook.url = rec.url!;
        hook.ca = readFileSync(rec.caFile!, 'utf8');
      }
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return hook;
}

function entry(name: string, hook: Webhook, path: '/validate' | '/mutate', namespace: string) {
  return {
    name,
    clientConfig: { url: `${hook.url}${path}`, caBundle: Buffer.from(hook.ca).toString('base64') },
    rules: [
      { operations: ['CREATE', 'UPDATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] },
      { operations: ['CREATE', 'UPDATE'], apiGroups: ['apps'], apiVersions: ['v1'], resources: ['deployments'] },
    ],
    // Fail on both: only the webhooks' own answers (never an apiserver timeout) can admit.
    failurePolicy: 'Fail', sideEffects: 'None', admissionReviewVersions: ['v1'], timeoutSeconds: 10,
    namespaceSelector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: [namespace] }] },
  };
}

async function createConfig(kind: 'ValidatingWebhookConfiguration' | 'MutatingWebhookConfiguration', name: string, entries: unknown[]): Promise<void> {
  const resource = kind === 'ValidatingWebhookConfiguration' ? 'validatingwebhookconfigurations' : 'mutatingwebhookconfigurations';
  const r = await kube('POST', `/apis/admissionregistration.k8s.io/v1/${resource}`, { apiVersion: 'admissionregistration.k8s.io/v1', kind, metadata: { name }, webhooks: entries });
  assert.equal(r.status, 201, JSON.stringify(r.body));
}

/** The apiserver picks configurations up asynchronously: wait until both webhooks act in `ns`. */
async function waitActive(ns: string, validating: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const refused = await createPod(ns, `probe-${Date.now()}`, unsigned.ref, true);
    const pinned = await createPod(ns, `probe-${Date.now()}`, signed.ref, true);
    const validates = refused.status === 403 && String(refused.body?.message ?? '').includes(validating);
    const mutates = pinned.status === 201 && String(pinned.body?.spec?.containers?.[0]?.image ?? '').includes('@sha256:');
    if (validates && mutates) return;
    if (Date.now() > deadline) throw new Error(`webhooks not active in ${ns}: ${refused.status} ${JSON.stringify(refused.body)} / ${pinned.status} ${JSON.stringify(pinned.body)}`);
    await new Promise((res) => setTimeout(res, 200));
  }
}

describe('image trust at admission behind kube-apiserver', { skip }, () => {
  before(async () => {
    ({ dir, cleanup } = scratchDir());
    const clusterStarting = startCluster();
    // The release key is cosign's own, and the signed image is signed by the real cosign.
    const gen = await runCosign('v2', ['generate-key-pair', '--output-key-prefix', 'release'], dir, PASS);
    assert.equal(gen.code, 0, gen.stderr);
    signed = await pushTestImage(uniqueRepo('apiserver-signed'), '1.0');
    const sign = await runCosign('v2', ['sign', '--key', 'release.key', '--tlog-upload=false', '--allow-insecure-registry', `${testRegistry}/${signed.repository}@${signed.digest}`], dir, PASS);
    assert.equal(sign.code, 0, sign.stderr);
    // Signed too, but by a key the policy does not name (Gatehouse's signer).
    otherKeySigned = await pushTestImage(uniqueRepo('apiserver-otherkey'), '1.0');
    const other = await generateKeyPair('other-pass');
    const store = new RegistryStore(testRegistry);
    try {
      const key = await parsePrivateKey(other.privatePem, 'other', async () => 'other-pass');
      await signImage(store, { ref: registryReference(otherKeySigned.ref), digest: otherKeySigned.digest }, key);
    } finally {
      await store.close();
    }
    unsigned = await pushTestImage(uniqueRepo('apiserver-unsigned'), '1.0');
    const port = await closedPort();
    unreachableImage = `127.0.0.1:${port}/team/app:1.0`;

    const policyFile = join(dir, 'trust-policy.yaml');
    writeFileSync(policyFile, [
      'keys:',
      '  release: release.pub',
      'rules:',
      '  - name: release-signed',
      `    match: ["${testRegistry}/trust-test/apiserver-*", "127.0.0.1:${port}/**"]`,
      '    action: require',
      '    keys: [release]',
      'default: reject',
      '',
    ].join('\n'));

    cluster = await clusterStarting;
    const [closed, open] = [await startWebhook('closed', policyFile, true), await startWebhook('open', policyFile, false)];
    for (const ns of ['trusted', 'open']) {
      const r = await kube('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
      assert.equal(r.status, 201, JSON.stringify(r.body));
    }
    await createConfig('MutatingWebhookConfiguration', 'gatehouse-pin', [
      entry('pin-closed.gatehouse.dev', closed, '/mutate', 'trusted'),
      entry('pin-open.gatehouse.dev', open, '/mutate', 'open'),
    ]);
    await createConfig('ValidatingWebhookConfiguration', 'gatehouse-trust', [
      entry('trust-closed.gatehouse.dev', closed, '/validate', 'trusted'),
      entry('trust-open.gatehouse.dev', open, '/validate', 'open'),
    ]);
    await waitActive('trusted', 'trust-closed.gatehouse.dev');
    await waitActive('open', 'trust-open.gatehouse.dev');
  });
  after(async () => {
    for (const w of webhooks) if (w.proc.exitCode === null && w.proc.signalCode === null) w.proc.kill('SIGKILL');
    await cluster?.stop();
    cleanup?.();
  });

  test('a Pod and a Deployment naming a signed image by tag are admitted and stored pinned to the registry digest', async () => {
    const digest = await registryDigest(signed);
    assert.equal(signed.ref, `${testRegistry}/${signed.repository}:1.0`);
    const created = await createPod('trusted', 'web', signed.ref);
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const stored = await kube('GET', '/api/v1/namespaces/trusted/pods/web');
    assert.equal(stored.status, 200);
    assert.equal(stored.body.spec.containers[0].image, `${signed.ref}@${digest}`);

    const deployment = {
      apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web' },
      spec: {
        replicas: 1, selector: { matchLabels: { app: 'web' } },
        template: { metadata: { labels: { app: 'web' } }, spec: { initContainers: [{ name: 'init', image: signed.ref }], containers: [{ name: 'web', image: signed.ref }] } },
      },
    };
    const dep = await kube('POST', '/apis/apps/v1/namespaces/trusted/deployments', deployment);
    assert.equal(dep.status, 201, JSON.stringify(dep.body));
    const storedDep = await kube('GET', '/apis/apps/v1/namespaces/trusted/deployments/web');
    assert.equal(storedDep.status, 200);
    assert.equal(storedDep.body.spec.template.spec.initContainers[0].image, `${signed.ref}@${digest}`);
    assert.equal(storedDep.body.spec.template.spec.containers[0].image, `${signed.ref}@${digest}`);
  });

  test('an unsigned image is denied, naming the image and the trust policy rule; nothing is stored', async () => {
    const r = await createPod('trusted', 'unsigned', unsigned.ref);
    assert.equal(r.status, 403, JSON.stringify(r.body));
    const image = unsigned.ref.replace(/[.]/g, '\\.');
    assert.match(r.body.message, new RegExp(`admission webhook "trust-closed\\.gatehouse\\.dev" denied the request: .*image-trust: image ${image} \\(container web\\) is not trusted: rule release-signed requires signatures by 1 of \\[release\\], found 0`));
    assert.equal((await kube('GET', '/api/v1/namespaces/trusted/pods/unsigned')).status, 404, 'not stored');
    // A refusal is not an unknown: the fail-open webhook denies it too.
    const open = await createPod('open', 'unsigned', unsigned.ref);
    assert.equal(open.status, 403, JSON.stringify(open.body));
    assert.match(open.body.message, /admission webhook "trust-open\.gatehouse\.dev" denied the request: .*is not trusted: rule release-signed/);
  });

  test('an image signed by a key the policy does not trust is denied', async () => {
    const r = await createPod('trusted', 'other-key', otherKeySigned.ref);
    assert.equal(r.status, 403, JSON.stringify(r.body));
    assert.match(r.body.message, new RegExp(`image ${otherKeySigned.ref.replace(/[.]/g, '\\.')} \\(container web\\) is not trusted: rule release-signed requires signatures by 1 of \\[release\\], found 0.*wrong key or tampered payload`));
    assert.equal((await kube('GET', '/api/v1/namespaces/trusted/pods/other-key')).status, 404, 'not stored');
  });

  test('a registry that cannot be reached: fail-closed denies, fail-open admits with a warning, within the budget', async () => {
    const closed = await createPod('trusted', 'unreachable', unreachableImage);
    assert.equal(closed.status, 403, JSON.stringify(closed.body));
    assert.match(closed.body.message, new RegExp(`admission webhook "trust-closed\\.gatehouse\\.dev" denied the request: .*image-trust: image ${unreachableImage.replace(/[.]/g, '\\.')} \\(container web\\) could not be verified.*\\(fail-closed\\)`));
    assert.ok(closed.ms < BUDGET_MS, `answered in ${closed.ms} ms`);

    const open = await createPod('open', 'unreachable', unreachableImage);
    assert.equal(open.status, 201, JSON.stringify(open.body));
    assert.ok(open.warnings.some((w) => w.startsWith(`image-trust: image ${unreachableImage} (container web) could not be verified`) && w.endsWith('admitted unverified (fail-open)')), open.warnings.join(' | '));
    assert.ok(open.ms < BUDGET_MS, `answered in ${open.ms} ms`);
    // Nothing was verified, so nothing was pinned.
    assert.equal((await kube('GET', '/api/v1/namespaces/open/pods/unreachable')).body.spec.containers[0].image, unreachableImage);
  });
});
