/**
 * Interoperability with cosign (built from the Go module proxy by .ci/setup.d/50-cosign.sh)
 * against the local registry: keys both ways, signatures both ways, and the payload bytes
 * compared on many generated cases.
 */
import { before, after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { cacheHas, missing, testRegistry } from '../helpers/components.js';
import { parsePrivateKey, publicKeyPem } from '../../src/trust/keys.js';
import { simpleSigningPayload } from '../../src/trust/simple-signing.js';
import { pushTestImage, registryUp, runCosign, scratchDir, uniqueRepo } from './fixtures.js';

const available = registryUp() && cacheHas('bin', 'cosign-v2');
const PASS = 'interop-pass';

const cosign = (args: string[], cwd: string, password = PASS) => runCosign('v2', args, cwd, password);

describe('cosign v2 interop', { skip: missing(available, `needs the registry at ${testRegistry} and cosign (.ci/setup.d/50-cosign.sh)`) }, () => {
  let dir: string;
  let cleanup: () => void;
  const env = { GATEHOUSE_PASSWORD: PASS };

  before(async () => {
    ({ dir, cleanup } = scratchDir());
    const gh = await runCli(['key', 'generate', '--output-key-prefix', join(dir, 'gh')], { env });
    assert.equal(gh.code, 0, gh.stderr);
    const cs = await cosign(['generate-key-pair', '--output-key-prefix', 'cs'], dir);
    assert.equal(cs.code, 0, cs.stderr);
  });
  after(() => cleanup?.());

  test('keys: cosign reads Gatehouse keys and Gatehouse reads cosign keys, same public key both ways', async () => {
    const fromCosign = await cosign(['public-key', '--key', 'gh.key'], dir);
    assert.equal(fromCosign.code, 0, fromCosign.stderr);
    assert.equal(fromCosign.stdout, readFileSync(join(dir, 'gh.pub'), 'utf8'));
    const csKey = await parsePrivateKey(readFileSync(join(dir, 'cs.key'), 'utf8'), 'cs.key', async () => PASS);
    assert.equal(publicKeyPem(csKey), readFileSync(join(dir, 'cs.pub'), 'utf8'));
    const viaCli = await runCli(['key', 'public-key', '--key', join(dir, 'cs.key')], { env });
    assert.equal(viaCli.code, 0, viaCli.stderr);
    assert.equal(viaCli.stdout, readFileSync(join(dir, 'cs.pub'), 'utf8'));
    const wrong = await cosign(['public-key', '--key', 'gh.key'], dir, 'not-the-pass');
    assert.notEqual(wrong.code, 0, 'cosign must also refuse the wrong passphrase');
  });

  test('cosign signs with a Gatehouse key (and its own) → gatehouse image verify passes; wrong key fails', async () => {
    const img = await pushTestImage(uniqueRepo('cosign-signs'));
    const digestRef = `${testRegistry}/${img.repository}@${img.digest}`;
    for (const key of ['gh.key', 'cs.key']) {
      const s = await cosign(['sign', '--key', key, '--tlog-upload=false', '--allow-insecure-registry', '-a', 'team=blue', digestRef], dir);
      assert.equal(s.code, 0, s.stderr);
    }
    for (const pub of ['gh.pub', 'cs.pub']) {
      const v = await runCli(['image', 'verify', '--key', join(dir, pub), '-a', 'team=blue', '--format', 'json', img.ref]);
      assert.equal(v.code, 0, v.stderr);
      const out = JSON.parse(v.stdout);
      assert.equal(out.verified.length, 1, `exactly one of the two signatures is by ${pub}`);
      assert.equal(out.rejected.length, 1);
    }
    const other = await runCli(['image', 'verify', '--key', join(dir, 'gh.pub'), '-a', 'team=red', img.ref]);
    assert.equal(other.code, 1);
  });

  test('Gatehouse signs → cosign verify --key passes (and fails with the other key)', async () => {
    const img = await pushTestImage(uniqueRepo('gatehouse-signs'));
    const s = await runCli(['image', 'sign', '--key', join(dir, 'cs.key'), '-a', 'build=42', img.ref], { env });
    assert.equal(s.code, 0, s.stderr);
    const v = await cosign(['verify', '--key', 'cs.pub', '--insecure-ignore-tlog', '--allow-insecure-registry', '-a', 'build=42', img.ref], dir);
    assert.equal(v.code, 0, v.stderr);
    const claims = JSON.parse(v.stdout);
    assert.equal(claims[0].critical.image['docker-manifest-digest'], img.digest);
    assert.equal(claims[0].critical.identity['docker-reference'], `${testRegistry}/${img.repository}`);
    const wrong = await cosign(['verify', '--key', 'gh.pub', '--insecure-ignore-tlog', '--allow-insecure-registry', img.ref], dir);
    assert.notEqual(wrong.code, 0);
  });

  test('payload bytes equal `cosign generate` on generated repositories and annotations', async () => {
    // No '=' in values: cosign splits -a on every '=' and refuses more than one.
    const chars = ['a', 'Z', '9', '-', '_', '.', '/', ' ', ',', '<', '>', '&', '"', '\\', 'é', '日', '😀', "'", ':', '\u2028'];
    const pick = (n: number) => Array.from({ length: n }, () => chars[randomBytes(1)[0]! % chars.length]).join('');
    const repos = [uniqueRepo('gen-a'), `${uniqueRepo('gen-b')}/nested/path`, uniqueRepo('gen-c')];
    let cases = 0;
    for (const repo of repos) {
      const img = await pushTestImage(repo);
      const digestRef = `${testRegistry}/${repo}@${img.digest}`;
      for (let i = 0; i < 8; i++) {
        const annotations: Record<string, string> = {};
        for (let j = 0; j < i % 4; j++) annotations[`k${j}${pick(3).replace(/[=\s]/g, 'x')}`] = pick(6);
        const args = ['generate', '--allow-insecure-registry'];
        // cosign's -a is a pflag string slice, parsed as one CSV record: quote it as CSV.
        for (const [k, v] of Object.entries(annotations)) args.push('-a', `"${`${k}=${v}`.replace(/"/g, '""')}"`);
        const g = await cosign([...args, digestRef], dir);
        assert.equal(g.code, 0, g.stderr);
        const ours = simpleSigningPayload(`${testRegistry}/${repo}`, img.digest, annotations).toString('utf8');
        assert.equal(ours, g.stdout.trimEnd(), `annotations ${JSON.stringify(annotations)}`);
        cases++;
      }
    }
    assert.equal(cases, 24);
  });
});
