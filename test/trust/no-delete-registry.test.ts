/**
 * A registry that refuses deletes (Distribution with storage.delete disabled, started by
 * this test): signing never needs to delete — appending rewrites the `.sig` tag and the
 * referrers index — so sign/append/verify work there; a delete attempt gets a clear error.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { runCli } from '../helpers/cli.js';
import { hasCommand, missing } from '../helpers/components.js';
import { run } from '../engine-proxy/helpers.js';
import { generateKeyPair } from '../../src/trust/keys.js';
import { RegistryStore } from '../../src/trust/registry-write.js';
import { pushTestImage, registryUp, scratchDir, uniqueRepo } from './fixtures.js';

const available = registryUp() && hasCommand('docker-registry') && hasCommand('skopeo');

describe('registry without delete rights', { skip: missing(available, 'docker-registry, skopeo and the test registry (bash .ci/setup)') }, () => {
  let dir: string;
  let cleanup: () => void;
  let registry: ChildProcess;
  const port = 20000 + (process.pid % 20000);
  const host = `127.0.0.1:${port}`;

  before(async () => {
    ({ dir, cleanup } = scratchDir());
    writeFileSync(
      join(dir, 'config.yml'),
      `version: 0.1\nlog: { level: error }\nstorage:\n  filesystem: { rootdirectory: ${join(dir, 'data')} }\n  delete: { enabled: false }\nhttp: { addr: ${host} }\n`,
    );
    registry = spawn('docker-registry', ['serve', join(dir, 'config.yml')], { stdio: 'ignore' });
    for (let i = 0; i < 100; i++) {
      if ((await run('curl', ['-sf', '-o', '/dev/null', `http://${host}/v2/`])).code === 0) return;
      await sleep(100);
    }
    throw new Error(`registry on ${host} did not start`);
  });
  after(() => {
    registry?.kill('SIGTERM');
    cleanup?.();
  });

  test('sign (appending, legacy and bundle) and verify work; a delete is refused with a clear error', async () => {
    const src = await pushTestImage(uniqueRepo('nodelete-src'));
    const ref = `${host}/nodelete/app:1`;
    const copy = await run('skopeo', ['copy', '-q', '--src-tls-verify=false', '--dest-tls-verify=false', `docker://${src.ref}`, `docker://${ref}`]);
    assert.equal(copy.code, 0, copy.stderr);
    const pair = await generateKeyPair('pw');
    writeFileSync(join(dir, 'k.key'), pair.privatePem);
    writeFileSync(join(dir, 'k.pub'), pair.publicPem);
    for (const a of ['first', 'second']) {
      const s = await runCli(['image', 'sign', '--bundle', '--key', join(dir, 'k.key'), '-a', `n=${a}`, ref], { env: { GATEHOUSE_PASSWORD: 'pw' } });
      assert.equal(s.code, 0, s.stderr);
    }
    const v = await runCli(['image', 'verify', '--key', join(dir, 'k.pub'), '--format', 'json', ref]);
    assert.equal(v.code, 0, v.stderr);
    const formats = (JSON.parse(v.stdout).verified as { format: string }[]).map((x) => x.format).sort();
    assert.deepEqual(formats, ['sigstore-bundle', 'sigstore-bundle', 'simple-signing', 'simple-signing']);

    const store = new RegistryStore(host);
    try {
      const digest = await store.resolveDigest('nodelete/app', '1');
      await assert.rejects(store.deleteManifest('nodelete/app', digest), /deleting manifests is not allowed \(HTTP 405/);
    } finally {
      await store.close();
    }
  });
});
