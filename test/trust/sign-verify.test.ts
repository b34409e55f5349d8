/**
 * `gatehouse image sign` / `image verify` against the local registry, Gatehouse on both
 * ends, and every bad-input case from the issue: each gives a clear reason and a non-zero exit.
 */
import { before, after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import { runCli } from '../helpers/cli.js';
import { missing, testRegistry } from '../helpers/components.js';
import { RegistryStore } from '../../src/trust/registry-write.js';
import { appendSignature, readSignatureManifest, signatureTag, SIGNATURE_ANNOTATION } from '../../src/trust/signature-tag.js';
import { simpleSigningPayload } from '../../src/trust/simple-signing.js';
import { signPayload } from '../../src/trust/sign.js';
import { generateKeyPair, parsePrivateKey, parsePublicKey } from '../../src/trust/keys.js';
import { registryReference } from '../../src/trust/image-target.js';
import { verifyImageSignatures } from '../../src/trust/verify.js';
import { MediaTypes } from '../../src/image/types.js';
import { pushTestImage, registryUp, scratchDir, uniqueRepo } from './fixtures.js';

const env = { GATEHOUSE_PASSWORD: 'test-pass' };

describe('image sign / verify (Gatehouse both ends)', { skip: missing(registryUp(), `no registry at ${testRegistry} (.ci/setup.d/30-registry.sh)`) }, () => {
  let dir: string;
  let cleanup: () => void;
  let keyPath: string;
  let pubPath: string;
  let otherPub: string;
  let store: RegistryStore;

  before(async () => {
    ({ dir, cleanup } = scratchDir());
    const pair = await generateKeyPair(env.GATEHOUSE_PASSWORD);
    keyPath = join(dir, 'k.key');
    pubPath = join(dir, 'k.pub');
    writeFileSync(keyPath, pair.privatePem);
    writeFileSync(pubPath, pair.publicPem);
    otherPub = join(dir, 'other.pub');
    writeFileSync(otherPub, generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'pem', type: 'spki' }) as string);
    store = new RegistryStore(testRegistry);
  });
  after(async () => {
    await store?.close();
    cleanup?.();
  });

  const sign = (ref: string, ...extra: string[]) => runCli(['image', 'sign', '--key', keyPath, ...extra, ref], { env });
  const verify = (ref: string, ...extra: string[]) => runCli(['image', 'verify', ...extra, ref], { env });

  test('sign then verify; signatures append; json lists them; annotations are required when asked', async () => {
    const img = await pushTestImage(uniqueRepo('roundtrip'));
    const s1 = await sign(img.ref, '-a', 'env=prod', '--format', 'json');
    assert.equal(s1.code, 0, s1.stderr);
    assert.equal(JSON.parse(s1.stdout).digest, img.digest);
    const s2 = await sign(img.ref, '-a', 'env=dev');
    assert.equal(s2.code, 0, s2.stderr);
    const manifest = await readSignatureManifest(store, img.repository, img.digest);
    assert.equal(manifest?.layers.length, 2, 'second signature is appended, not replacing the first');

    const v = await verify(img.ref, '--key', pubPath, '--format', 'json');
    assert.equal(v.code, 0, v.stderr);
    const out = JSON.parse(v.stdout);
    assert.equal(out.allowed, true);
    assert.equal(out.digest, img.digest);
    assert.deepEqual(out.verified.map((s: any) => s.annotations.env).sort(), ['dev', 'prod']);

    const byDigest = await verify(`${testRegistry}/${img.repository}@${img.digest}`, '--key', pubPath, '-a', 'env=prod');
    assert.equal(byDigest.code, 0, byDigest.stderr);
    const wrongAnn = await verify(img.ref, '--key', pubPath, '-a', 'env=staging');
    assert.equal(wrongAnn.code, 1);
    assert.match(wrongAnn.stderr, /verification failed: .*annotation env=(prod|dev), required staging/);
  });

  test('unsigned image, wrong key: non-zero with the reason', async () => {
    const img = await pushTestImage(uniqueRepo('unsigned'));
    const none = await verify(img.ref, '--key', pubPath);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /^gatehouse: verification failed: no signatures found for /m);
    assert.equal((await sign(img.ref)).code, 0);
    const wrong = await verify(img.ref, '--key', otherPub);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /signature does not verify with the trusted key/);
    assert.equal(wrong.stdout, '');
  });

  test('tampered payload, payload naming another digest, signature over another repo, bad base64, foreign media type', async () => {
    const key = await parsePrivateKey(readFileSync(keyPath, 'utf8'), 'k', async () => env.GATEHOUSE_PASSWORD);
    const repo = uniqueRepo('bad');
    const a = await pushTestImage(repo, 'a');
    const b = await pushTestImage(repo, 'b');
    const name = `${testRegistry}/${repo}`;

    // Tampered: a valid signature over the real payload, stored with a modified payload.
    const good = simpleSigningPayload(name, a.digest);
    const tampered = Buffer.from(good.toString().replace('"optional":null', '"optional":{"x":"y"}'));
    await appendSignature(store, repo, a.digest, tampered, signPayload(key, good));
    let r = await verify(a.ref, '--key', pubPath);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /signature does not verify/);

    // Another digest: b's payload, validly signed, filed under a's signature tag.
    const c = await pushTestImage(repo, 'c');
    const forB = simpleSigningPayload(name, b.digest);
    await appendSignature(store, repo, c.digest, forB, signPayload(key, forB));
    r = await verify(c.ref, '--key', pubPath);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`payload names digest ${b.digest}, not the image's ${c.digest}`));

    // Another repository: a signature made for repo X copied next to the same image in repo Y.
    const other = uniqueRepo('other');
    const forOther = simpleSigningPayload(`${testRegistry}/${other}`, b.digest);
    await appendSignature(store, repo, b.digest, forOther, signPayload(key, forOther));
    r = await verify(b.ref, '--key', pubPath);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`payload signs repository ${testRegistry}/${other}, not ${testRegistry}/${repo}`));

    // Malformed base64 in the signature annotation.
    const d = await pushTestImage(repo, 'd');
    await appendSignature(store, repo, d.digest, simpleSigningPayload(name, d.digest), 'not*base64!');
    r = await verify(d.ref, '--key', pubPath);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /signature is not valid base64/);

    // A .sig manifest whose layer has a foreign media type, valid signature notwithstanding.
    const e = await pushTestImage(repo, 'e');
    const payload = simpleSigningPayload(name, e.digest);
    const pd = await store.putBlob(repo, payload);
    const cfg = Buffer.from('{}');
    const cd = await store.putBlob(repo, cfg);
    const foreign = {
      schemaVersion: 2,
      mediaType: MediaTypes.ociManifest,
      config: { mediaType: MediaTypes.ociConfig, size: cfg.length, digest: cd },
      layers: [{ mediaType: 'application/vnd.example.other+json', size: payload.length, digest: pd, annotations: { [SIGNATURE_ANNOTATION]: signPayload(key, payload) } }],
    };
    await store.putManifest(repo, signatureTag(e.digest), Buffer.from(JSON.stringify(foreign)), MediaTypes.ociManifest);
    r = await verify(e.ref, '--key', pubPath);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /foreign layer media type "application\/vnd.example.other\+json"/);

    // None of these counts as a verified signature, and each was rejected for a reason.
    const trusted = [{ name: 'k', key: parsePublicKey(readFileSync(pubPath, 'utf8'), 'k.pub') }];
    for (const img of [a, b, c, d, e]) {
      const ev = await verifyImageSignatures(store, { ref: registryReference(img.ref), digest: img.digest }, trusted);
      assert.equal(ev.verified.length, 0, img.ref);
      assert.equal(ev.rejected.length, 1, img.ref);
    }
  });

  test('bad key input on the command line: wrong passphrase, malformed PEM, missing file', async () => {
    const img = await pushTestImage(uniqueRepo('badkey'));
    const wrongPass = await runCli(['image', 'sign', '--key', keyPath, img.ref], { env: { GATEHOUSE_PASSWORD: 'nope' } });
    assert.equal(wrongPass.code, 2);
    assert.equal(wrongPass.stderr, `gatehouse: ${keyPath}: wrong passphrase (decryption failed)\n`);
    const junk = join(dir, 'junk.pub');
    writeFileSync(junk, '-----BEGIN PUBLIC KEY-----\n@@@@\n-----END PUBLIC KEY-----\n');
    const bad = await verify(img.ref, '--key', junk);
    assert.equal(bad.code, 2);
    assert.equal(bad.stderr, `gatehouse: ${junk}: malformed PEM: the PUBLIC KEY block is not valid base64\n`);
    const gone = await verify(img.ref, '--key', join(dir, 'absent.pub'));
    assert.equal(gone.code, 2);
    assert.match(gone.stderr, /^gatehouse: cannot read key .*absent.pub: ENOENT\n$/);
    const noPass = await runCli(['image', 'sign', '--key', keyPath, img.ref], { env: { GATEHOUSE_PASSWORD: undefined, COSIGN_PASSWORD: undefined } });
    assert.equal(noPass.code, 2);
    assert.match(noPass.stderr, /no passphrase: set GATEHOUSE_PASSWORD/);
    const notFound = await sign(`${testRegistry}/${img.repository}:nosuchtag`);
    assert.equal(notFound.code, 2);
    assert.match(notFound.stderr, /not found/);
  });

  test('trust policy: require k-of-n, reject, exempt, default', async () => {
    const repo = uniqueRepo('policy');
    const img = await pushTestImage(repo);
    const second = await generateKeyPair('p2');
    const key2 = join(dir, 'k2.key');
    writeFileSync(key2, second.privatePem);
    writeFileSync(join(dir, 'k2.pub'), second.publicPem);
    const policy = join(dir, 'policy.yaml');
    writeFileSync(
      policy,
      `keys: { one: k.pub, two: k2.pub }
rules:
  - { name: rejected, match: "${testRegistry}/trust-test/policy-*-reject", action: reject }
  - { name: two-of-two, match: "${testRegistry}/${repo}", action: require, keys: [one, two], threshold: 2 }
  - { name: free, match: "${testRegistry}/trust-test/exempt/**", action: exempt }
`,
    );
    assert.equal((await sign(img.ref)).code, 0);
    let r = await verify(img.ref, '--policy', policy);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /rule two-of-two requires signatures by 2 of \[one, two\], found 1 \(one\)/);
    const s2 = await runCli(['image', 'sign', '--key', key2, img.ref], { env: { GATEHOUSE_PASSWORD: 'p2' } });
    assert.equal(s2.code, 0, s2.stderr);
    r = await verify(img.ref, '--policy', policy, '--format', 'json');
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout).decision.satisfiedKeys, ['one', 'two']);

    r = await verify(`${testRegistry}/${repo}-reject:1`, '--policy', policy);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /rejected by rule rejected/);
    r = await verify(`${testRegistry}/trust-test/exempt/x:1`, '--policy', policy);
    assert.equal(r.code, 0, r.stderr);
    r = await verify(`${testRegistry}/trust-test/elsewhere:1`, '--policy', policy);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no rule matches; policy default is reject/);
  });
});
