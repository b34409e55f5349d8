/**
 * The sigstore bundle format (DSSE in-toto statement stored as an OCI 1.1 referrer) against
 * the real cosign: v3.1.3 signs bundles by default, v2.6.5 with --new-bundle-format; both
 * are built by .ci/setup.d/50-cosign.sh. The local Distribution registry has no referrers
 * API, so both sides use the referrers tag schema (`sha256-<hex>` index).
 */
import { before, after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { cacheHas, missing, testRegistry } from '../helpers/components.js';
import { RegistryStore } from '../../src/trust/registry-write.js';
import { MediaTypes } from '../../src/image/types.js';
import { digestOf } from '../../src/image/digest.js';
import { dropLegacySignatures, pushTestImage, registryUp, runCosign, scratchDir, uniqueRepo } from './fixtures.js';

const available = registryUp() && cacheHas('bin', 'cosign-v2') && cacheHas('bin', 'cosign-v3');
const PASS = 'bundle-pass';
// No signing services: key-based signing without Rekor/TSA (there are none here).
const EMPTY_SIGNING_CONFIG = '{"mediaType":"application/vnd.dev.sigstore.signingconfig.v0.2+json","rekorTlogConfig":{},"tsaConfig":{}}';
// cosign v2 insists on a trusted root with --new-bundle-format; with --key none is used.
const EMPTY_TRUSTED_ROOT = '{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}';

const cosign = (version: 'v2' | 'v3', args: string[], cwd: string) => runCosign(version, args, cwd, PASS);

const v3Verify = (pub: string, ref: string, extra: string[] = []) => ['verify', '--key', pub, '--insecure-ignore-tlog', '--allow-http-registry', '--allow-insecure-registry', ...extra, ref];
const v2Verify = (pub: string, ref: string, extra: string[] = []) => ['verify', '--new-bundle-format', '--trusted-root', 'trusted-root.json', '--key', pub, '--insecure-ignore-tlog', '--allow-insecure-registry', ...extra, ref];

describe('sigstore bundles: cosign v3 / v2 interop', { skip: missing(available, `needs the registry at ${testRegistry} and cosign v2 + v3 (.ci/setup.d/50-cosign.sh)`) }, () => {
  let dir: string;
  let cleanup: () => void;
  const env = { GATEHOUSE_PASSWORD: PASS };

  before(async () => {
    ({ dir, cleanup } = scratchDir());
    writeFileSync(join(dir, 'signing-config.json'), EMPTY_SIGNING_CONFIG);
    writeFileSync(join(dir, 'trusted-root.json'), EMPTY_TRUSTED_ROOT);
    const gh = await runCli(['key', 'generate', '--output-key-prefix', join(dir, 'gh')], { env });
    assert.equal(gh.code, 0, gh.stderr);
    const other = await runCli(['key', 'generate', '--output-key-prefix', join(dir, 'other')], { env });
    assert.equal(other.code, 0, other.stderr);
  });
  after(() => cleanup?.());

  test('cosign v3 (default bundle) and v2 (--new-bundle-format) sign → gatehouse image verify reads both bundles', async () => {
    const img = await pushTestImage(uniqueRepo('cosign-bundle'));
    const digestRef = `${testRegistry}/${img.repository}@${img.digest}`;
    const s3 = await cosign('v3', ['sign', '--key', 'gh.key', '--signing-config', 'signing-config.json', '--allow-http-registry', '--allow-insecure-registry', '-a', 'team=blue', digestRef], dir);
    assert.equal(s3.code, 0, s3.stderr);
    const s2 = await cosign('v2', ['sign', '--new-bundle-format', '--signing-config', 'signing-config.json', '--trusted-root', 'trusted-root.json', '--key', 'gh.key', '--tlog-upload=false', '--allow-insecure-registry', digestRef], dir);
    assert.equal(s2.code, 0, s2.stderr);

    const v = await runCli(['image', 'verify', '--key', join(dir, 'gh.pub'), '--format', 'json', img.ref]);
    assert.equal(v.code, 0, v.stderr);
    const out = JSON.parse(v.stdout) as { verified: { format: string; annotations: Record<string, string> }[]; rejected: unknown[] };
    assert.deepEqual(out.verified.map((s) => s.format), ['sigstore-bundle', 'sigstore-bundle'], 'no legacy signature exists: both come from bundles');
    // cosign v2 leaves -a annotations out of its bundles' statements (and does not check them).
    assert.deepEqual(out.verified.map((s) => s.annotations.team ?? '-').sort(), ['-', 'blue']);
    assert.deepEqual(out.rejected, []);

    const blue = await runCli(['image', 'verify', '--key', join(dir, 'gh.pub'), '-a', 'team=blue', '--format', 'json', img.ref]);
    assert.equal(blue.code, 0, blue.stderr);
    assert.equal(JSON.parse(blue.stdout).verified.length, 1, 'the required annotation selects one bundle');
    const wrongKey = await runCli(['image', 'verify', '--key', join(dir, 'other.pub'), img.ref]);
    assert.equal(wrongKey.code, 1);
    assert.match(wrongKey.stderr, /bundle signature does not verify/);
  });

  test('gatehouse image sign --bundle → cosign v3 and v2 verify the bundle alone; the other key fails', async () => {
    const img = await pushTestImage(uniqueRepo('gatehouse-bundle'));
    const s = await runCli(['image', 'sign', '--bundle', '--key', join(dir, 'gh.key'), '-a', 'build=7', '--format', 'json', img.ref], { env });
    assert.equal(s.code, 0, s.stderr);
    const signed = JSON.parse(s.stdout) as { bundle: { indexedBy: string; tag: string } };
    assert.equal(signed.bundle.indexedBy, 'referrers-tag', 'Distribution has no referrers API: the tag schema is used');
    assert.equal(signed.bundle.tag, img.digest.replace(':', '-'));
    await dropLegacySignatures(img.repository, img.digest);

    const digestRef = `${testRegistry}/${img.repository}@${img.digest}`;
    const v3 = await cosign('v3', v3Verify('gh.pub', digestRef, ['-a', 'build=7']), dir);
    assert.equal(v3.code, 0, v3.stderr);
    assert.equal(JSON.parse(v3.stdout)[0].critical.image['docker-manifest-digest'], img.digest);
    const v2 = await cosign('v2', v2Verify('gh.pub', digestRef), dir);
    assert.equal(v2.code, 0, v2.stderr);
    const wrong3 = await cosign('v3', v3Verify('other.pub', digestRef), dir);
    assert.notEqual(wrong3.code, 0);
    const wrongAnnotation = await cosign('v3', v3Verify('gh.pub', digestRef, ['-a', 'build=8']), dir);
    assert.notEqual(wrongAnnotation.code, 0);

    const ours = await runCli(['image', 'verify', '--key', join(dir, 'gh.pub'), '--format', 'json', img.ref]);
    assert.equal(ours.code, 0, ours.stderr);
    assert.deepEqual(JSON.parse(ours.stdout).verified.map((x: { format: string }) => x.format), ['sigstore-bundle']);
  });

  test('a second --bundle signature is appended to the referrers index; k-of-n counts keys across formats', async () => {
    const img = await pushTestImage(uniqueRepo('bundle-append'));
    for (const extra of [[], ['-a', 'second=yes']]) {
      const r = await runCli(['image', 'sign', '--bundle', '--key', join(dir, 'gh.key'), ...extra, img.ref], { env });
      assert.equal(r.code, 0, r.stderr);
    }
    await dropLegacySignatures(img.repository, img.digest);
    // gh now signs only through its two bundles; other signs only in the legacy format.
    const legacy = await runCli(['image', 'sign', '--key', join(dir, 'other.key'), img.ref], { env });
    assert.equal(legacy.code, 0, legacy.stderr);
    const v3 = await cosign('v3', v3Verify('gh.pub', `${testRegistry}/${img.repository}@${img.digest}`, ['-a', 'second=yes']), dir);
    assert.equal(v3.code, 0, `cosign finds the appended bundle: ${v3.stderr}`);

    writeFileSync(
      join(dir, 'policy.yaml'),
      `keys:\n  gh: ${join(dir, 'gh.pub')}\n  other: ${join(dir, 'other.pub')}\nrules:\n  - name: two-of-two\n    match: "${testRegistry}/${img.repository}"\n    action: require\n    keys: [gh, other]\n    threshold: 2\n`,
    );
    const v = await runCli(['image', 'verify', '--policy', join(dir, 'policy.yaml'), '--format', 'json', img.ref]);
    assert.equal(v.code, 0, v.stderr);
    const out = JSON.parse(v.stdout) as { verified: { format: string; keys: string[] }[] };
    const formats = out.verified.map((s) => `${s.keys.join()}:${s.format}`).sort();
    assert.deepEqual(formats, ['gh:sigstore-bundle', 'gh:sigstore-bundle', 'other:simple-signing']);
  });

  test('a tampered bundle is rejected with the reason; verify never passes on it', async () => {
    const img = await pushTestImage(uniqueRepo('bundle-tamper'));
    const s = await runCli(['image', 'sign', '--bundle', '--key', join(dir, 'gh.key'), img.ref], { env });
    assert.equal(s.code, 0, s.stderr);
    await dropLegacySignatures(img.repository, img.digest);
    // Rewrite the referrer with a statement naming another digest, keeping the signature.
    const store = new RegistryStore(testRegistry);
    try {
      const tag = img.digest.replace(':', '-');
      const index = JSON.parse((await store.findManifest(img.repository, tag, MediaTypes.ociIndex))!.bytes.toString());
      const m = JSON.parse((await store.findManifest(img.repository, index.manifests[0].digest, MediaTypes.ociManifest))!.bytes.toString());
      const bundle = JSON.parse((await store.readBlob(img.repository, m.layers[0])).toString());
      const statement = JSON.parse(Buffer.from(bundle.dsseEnvelope.payload, 'base64').toString());
      statement.subject[0].digest.sha256 = 'f'.repeat(64);
      bundle.dsseEnvelope.payload = Buffer.from(JSON.stringify(statement)).toString('base64');
      const bytes = Buffer.from(JSON.stringify(bundle));
      m.layers[0] = { ...m.layers[0], digest: await store.putBlob(img.repository, bytes), size: bytes.length };
      const mBytes = Buffer.from(JSON.stringify(m));
      const mDigest = await store.putManifest(img.repository, digestOf(mBytes), mBytes, MediaTypes.ociManifest);
      index.manifests = [{ ...index.manifests[0], digest: mDigest, size: mBytes.length }];
      await store.putManifest(img.repository, tag, Buffer.from(JSON.stringify(index)), MediaTypes.ociIndex);
    } finally {
      await store.close();
    }
    const v = await runCli(['image', 'verify', '--key', join(dir, 'gh.pub'), img.ref]);
    assert.equal(v.code, 1);
    assert.match(v.stderr, /bundle signature does not verify/);
    const c = await cosign('v3', v3Verify('gh.pub', `${testRegistry}/${img.repository}@${img.digest}`), dir);
    assert.notEqual(c.code, 0, 'cosign agrees the tampered bundle is invalid');
  });
});
