/**
 * Tag refresh-ahead: a tag looked up in the last part of its TTL is re-resolved in the
 * background against the local registry, so when the old entry would have expired the
 * request is still answered from the cache (no request waits on the registry).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { missing, testRegistry } from '../helpers/components.js';
import { ImageTrustGate } from '../../src/admission/image-trust.js';
import { parseTrustPolicy, type TrustPolicy } from '../../src/trust/policy.js';
import { generateKeyPair, parsePrivateKey } from '../../src/trust/keys.js';
import { signImage } from '../../src/trust/sign.js';
import { RegistryStore } from '../../src/trust/registry-write.js';
import { registryReference } from '../../src/trust/image-target.js';
import { pushTestImage, registryUp, scratchDir, uniqueRepo, type PushedImage } from '../trust/fixtures.js';

describe('ImageTrustGate tag refresh-ahead against the local registry', { skip: missing(registryUp(), `needs the registry at ${testRegistry} (.ci/setup.d/30-registry.sh)`) }, () => {
  let cleanup: () => void;
  let policy: TrustPolicy;
  let image: PushedImage;

  before(async () => {
    const scratch = scratchDir();
    cleanup = scratch.cleanup;
    const pair = await generateKeyPair('refresh');
    policy = await parseTrustPolicy({ keys: { ci: { pem: pair.publicPem } }, rules: [{ match: [`${testRegistry}/trust-test/admission-refresh-*`], action: 'require', keys: ['ci'] }], default: 'reject' }, 'test policy', scratch.dir);
    image = await pushTestImage(uniqueRepo('admission-refresh'));
    const store = new RegistryStore(testRegistry);
    try {
      await signImage(store, { ref: registryReference(image.ref), digest: image.digest }, await parsePrivateKey(pair.privatePem, 'ci', async () => 'refresh'));
    } finally {
      await store.close();
    }
  });
  after(() => cleanup?.());

  test('a lookup near the end of the TTL renews the tag in the background; past the old expiry it is still a hit', async () => {
    let t = 1_000_000;
    const gate = new ImageTrustGate({ policy, tagTtlMs: 30_000, now: () => t });
    const check = async () => {
      const { verdicts } = await gate.check([image.ref], { deadline: t + 10_000 });
      assert.equal(verdicts[0]!.outcome, 'verified', verdicts[0]!.reason);
      return verdicts[0]!;
    };
    const settled = async () => {
      for (let i = 0; i < 200 && gate.stats().inFlight > 0; i++) await sleep(25);
      assert.equal(gate.stats().inFlight, 0, 'the background lookup finished');
    };
    try {
      await check();
      assert.deepEqual([gate.stats().tags.hits, gate.stats().tags.misses], [0, 1]);
      t += 20_000; // 10 s left: a plain hit, nothing started
      await check();
      assert.equal(gate.stats().inFlight, 0);
      t += 5_000; // 5 s left (within the last 20 %): answered from the cache, renewed behind it
      assert.equal((await check()).cached, true);
      await settled();
      t += 10_000; // past the first entry's expiry
      assert.equal((await check()).cached, true);
      assert.deepEqual([gate.stats().tags.misses, gate.stats().tags.expirations], [1, 0], 'no request had to resolve the tag again');
      t += 60_000; // idle past every expiry: the next request resolves in the foreground, as before
      await check();
      assert.deepEqual([gate.stats().tags.misses, gate.stats().tags.expirations], [2, 1]);
    } finally {
      await gate.close();
    }
  });
});
