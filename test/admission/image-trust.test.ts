/**
 * Image trust at admission against the local Distribution registry: images signed by the
 * real cosign (legacy `.sig`) and by Gatehouse (sigstore bundle), unsigned ones, a wrong
 * key, the verdict cache, and a registry that never answers.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import { cacheHas, missing, testRegistry } from '../helpers/components.js';
import { ImageTrustGate } from '../../src/admission/image-trust.js';
import { containerImagesOf } from '../../src/admission/image-trust-images.js';
import { parseTrustPolicy, type TrustPolicy } from '../../src/trust/policy.js';
import { generateKeyPair, parsePrivateKey } from '../../src/trust/keys.js';
import { signImage } from '../../src/trust/sign.js';
import { RegistryStore } from '../../src/trust/registry-write.js';
import { registryReference } from '../../src/trust/image-target.js';
import { dropLegacySignatures, pushTestImage, registryUp, runCosign, scratchDir, uniqueRepo, type PushedImage } from '../trust/fixtures.js';

const PASS = 'admission-pass';
const available = registryUp() && cacheHas('bin', 'cosign-v2');
const soon = (ms = 10_000) => Date.now() + ms;

function deployment(images: string[]): Record<string, unknown> {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'team' },
    spec: { template: { spec: { initContainers: [{ name: 'init', image: images[0] }], containers: images.slice(1).map((image, i) => ({ name: `c${i}`, image })) } } },
  };
}

describe('ImageTrustGate against the local registry', { skip: missing(available, `needs the registry at ${testRegistry} and cosign (.ci/setup.d/30-registry.sh, 50-cosign.sh)`) }, () => {
  let dir: string;
  let cleanup: () => void;
  let policy: TrustPolicy;
  let wrongKeyPolicy: TrustPolicy;
  let cosignSigned: PushedImage;
  let bundleSigned: PushedImage;
  let unsigned: PushedImage;

  before(async () => {
    ({ dir, cleanup } = scratchDir());
    // The release key is cosign's own: generated and used by the real cosign binary.
    const gen = await runCosign('v2', ['generate-key-pair', '--output-key-prefix', 'release'], dir, PASS);
    assert.equal(gen.code, 0, gen.stderr);
    const releasePub = readFileSync(join(dir, 'release.pub'), 'utf8');
    const otherPub = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'pem', type: 'spki' }) as string;
    const ciPair = await generateKeyPair('ci-pass');
    const repoGlob = 'trust-test/admission-*';
    policy = await parseTrustPolicy(
      { keys: { release: { pem: releasePub }, ci: { pem: ciPair.publicPem } }, rules: [{ name: 'admission', match: [`${testRegistry}/${repoGlob}`], action: 'require', keys: ['release', 'ci'], threshold: 1 }], default: 'reject' },
      'test policy',
      dir,
    );
    wrongKeyPolicy = await parseTrustPolicy(
      { keys: { other: { pem: otherPub } }, rules: [{ match: [`${testRegistry}/${repoGlob}`], action: 'require', keys: ['other'] }] },
      'wrong-key policy',
      dir,
    );

    cosignSigned = await pushTestImage(uniqueRepo('admission-cosign'));
    const signed = await runCosign('v2', ['sign', '--key', 'release.key', '--tlog-upload=false', '--allow-insecure-registry', `${testRegistry}/${cosignSigned.repository}@${cosignSigned.digest}`], dir, PASS);
    assert.equal(signed.code, 0, signed.stderr);

    // A sigstore bundle only (no legacy signature), signed by Gatehouse with the ci key.
    bundleSigned = await pushTestImage(uniqueRepo('admission-bundle'));
    const store = new RegistryStore(testRegistry);
    try {
      const ciKey = await parsePrivateKey(ciPair.privatePem, 'ci', async () => 'ci-pass');
      await signImage(store, { ref: registryReference(bundleSigned.ref), digest: bundleSigned.digest }, ciKey, undefined, { bundle: true });
    } finally {
      await store.close();
    }
    await dropLegacySignatures(bundleSigned.repository, bundleSigned.digest);

    unsigned = await pushTestImage(uniqueRepo('admission-unsigned'));
  });
  after(() => cleanup?.());

  test('signed images are verified and pinned to their digest at the workload template paths', async () => {
    const gate = new ImageTrustGate({ policy });
    try {
      const images = containerImagesOf(deployment([cosignSigned.ref, bundleSigned.ref]));
      assert.deepEqual(images.map((i) => i.path), ['/spec/template/spec/initContainers/0/image', '/spec/template/spec/containers/0/image']);
      const { verdicts, patches } = await gate.check(images, { deadline: soon() });
      assert.deepEqual(
        verdicts.map((v) => [v.outcome, v.verified, v.digest, v.signer]),
        [
          ['verified', true, cosignSigned.digest, 'release'],
          ['verified', true, bundleSigned.digest, 'ci'],
        ],
      );
      assert.deepEqual(patches, [
        { op: 'replace', path: '/spec/template/spec/initContainers/0/image', value: `${cosignSigned.ref}@${cosignSigned.digest}` },
        { op: 'replace', path: '/spec/template/spec/containers/0/image', value: `${bundleSigned.ref}@${bundleSigned.digest}` },
      ]);
      // An image already given by digest is verified at that digest and needs no patch.
      const byDigest = await gate.check([{ image: `${testRegistry}/${cosignSigned.repository}@${cosignSigned.digest}`, path: '/spec/containers/0/image', container: 'c' }], { deadline: soon() });
      assert.equal(byDigest.verdicts[0]!.outcome, 'verified');
      assert.deepEqual(byDigest.patches, []);
    } finally {
      await gate.close();
    }
  });

  test('an unsigned image is refused with the reason; no patch', async () => {
    const gate = new ImageTrustGate({ policy });
    try {
      const { verdicts, patches } = await gate.check([{ image: unsigned.ref, path: '/spec/containers/0/image', container: 'app' }], { deadline: soon() });
      assert.equal(verdicts[0]!.outcome, 'rejected');
      assert.equal(verdicts[0]!.allowed, false);
      assert.equal(verdicts[0]!.digest, unsigned.digest);
      assert.match(verdicts[0]!.reason ?? '', /requires signatures by 1 of \[release, ci\], found 0/);
      assert.deepEqual(patches, []);
      // The policy's default refuses an image no rule names, without asking the registry.
      const outside = await gate.check(['quay.io/other/app:1'], { deadline: soon() });
      assert.equal(outside.verdicts[0]!.outcome, 'rejected');
      assert.match(outside.verdicts[0]!.reason ?? '', /policy default is reject/);
    } finally {
      await gate.close();
    }
  });

  test('a signature by a key the policy does not trust is refused', async () => {
    const gate = new ImageTrustGate({ policy: wrongKeyPolicy });
    try {
      const { verdicts, patches } = await gate.check([{ image: cosignSigned.ref, path: '/spec/containers/0/image' }], { deadline: soon() });
      assert.equal(verdicts[0]!.outcome, 'rejected');
      assert.equal(verdicts[0]!.verified, false);
      assert.match(verdicts[0]!.reason ?? '', /wrong key or tampered payload/);
      assert.deepEqual(patches, []);
    } finally {
      await gate.close();
    }
  });

  test('the second check of a digest is a counted cache hit; the LRU stays bounded', async () => {
    const gate = new ImageTrustGate({ policy, cacheSize: 2 });
    try {
      const first = await gate.check([cosignSigned.ref], { deadline: soon() });
      assert.equal(first.verdicts[0]!.cached, false);
      assert.deepEqual([gate.stats().verdicts.hits, gate.stats().verdicts.misses], [0, 1]);
      const second = await gate.check([cosignSigned.ref], { deadline: soon() });
      assert.equal(second.verdicts[0]!.cached, true);
      assert.equal(second.verdicts[0]!.outcome, 'verified');
      assert.deepEqual([gate.stats().verdicts.hits, gate.stats().verdicts.misses], [1, 1]);
      assert.equal(gate.stats().tags.hits, 1, 'the tag resolution was reused too');
      // Two more digests push the first one out of a two-entry cache.
      await gate.check([bundleSigned.ref, unsigned.ref], { deadline: soon() });
      assert.equal(gate.stats().verdicts.size, 2);
      assert.equal(gate.stats().verdicts.evictions, 1);
      const third = await gate.check([cosignSigned.ref], { deadline: soon() });
      assert.equal(third.verdicts[0]!.cached, false, 'evicted verdicts are verified again');
    } finally {
      await gate.close();
    }
  });

  test('a registry that never answers gives a timeout verdict by the deadline', async () => {
    const sockets = new Set<Socket>();
    const silent: Server = createServer((s) => {
      sockets.add(s);
      s.on('error', () => {});
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as { port: number }).port;
    const silentPolicy = await parseTrustPolicy(
      { keys: { release: { pem: generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'pem', type: 'spki' }) as string } }, rules: [{ match: ['127.0.0.1:*/**'], action: 'require', keys: ['release'] }] },
      'silent policy',
      dir,
    );
    const gate = new ImageTrustGate({ policy: silentPolicy });
    try {
      const started = Date.now();
      const { verdicts, patches } = await gate.check([{ image: `127.0.0.1:${port}/team/app:1`, path: '/spec/containers/0/image' }], { deadline: started + 300 });
      const took = Date.now() - started;
      assert.equal(verdicts[0]!.outcome, 'timeout');
      assert.equal(verdicts[0]!.allowed, false);
      assert.match(verdicts[0]!.reason ?? '', /did not finish within the \d+ ms admission budget/);
      assert.deepEqual(patches, []);
      assert.ok(took >= 290 && took < 1500, `answered after ${took} ms, deadline was 300 ms`);
      assert.equal(gate.stats().inFlight, 1, 'the verification is still under way (it fills the cache when it ends)');
    } finally {
      for (const s of sockets) s.destroy();
      silent.close();
      await gate.close();
    }
  });
});
