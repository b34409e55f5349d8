/**
 * The engine proxy with a Gatehouse trust policy: `docker run` through the proxy of an image
 * signed with `gatehouse image sign` runs; an unsigned one in the same protected repository
 * namespace is denied with the rule named; an exempt repository passes unsigned.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../helpers/cli.js';
import { hasCommand, missing, podmanSocket, testRegistry } from '../helpers/components.js';
import { docker, podmanUp, run, ULIMITS } from './helpers.js';

const bin = fileURLToPath(new URL('../../bin/gatehouse.mjs', import.meta.url));
const SOURCE = `${testRegistry}/gatehouse-test/ep-busybox:1`;
const skip = missing(podmanUp() && hasCommand('skopeo'), 'podman API socket, docker CLI and skopeo (bash .ci/setup)');

describe('engine proxy + trust policy', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'gh-ep-trust-'));
  const tag = Date.now().toString(36);
  const signed = `${testRegistry}/trust-proxy/signed-${tag}:1`;
  const unsigned = `${testRegistry}/trust-proxy/unsigned-${tag}:1`;
  const exempt = `${testRegistry}/trust-exempt/app-${tag}:1`;
  const socket = join(dir, 'docker.sock');
  const host = `unix://${socket}`;
  const env = { GATEHOUSE_PASSWORD: 'pw' };
  let proxy: ChildProcess;

  before(async () => {
    for (const target of [signed, unsigned, exempt]) {
      const r = await run('skopeo', ['copy', '-q', '--src-tls-verify=false', '--dest-tls-verify=false', `docker://${SOURCE}`, `docker://${target}`]);
      assert.equal(r.code, 0, r.stderr);
    }
    const gen = await runCli(['key', 'generate', '--output-key-prefix', join(dir, 'team')], { env });
    assert.equal(gen.code, 0, gen.stderr);
    const sig = await runCli(['image', 'sign', '--key', join(dir, 'team.key'), signed], { env });
    assert.equal(sig.code, 0, sig.stderr);
    writeFileSync(
      join(dir, 'trust.yaml'),
      `keys:\n  team: ${join(dir, 'team.pub')}\nrules:\n  - name: protected\n    match: "${testRegistry}/trust-proxy/*"\n    action: require\n    keys: [team]\ndefault: exempt\n`,
    );
    proxy = spawn(process.execPath, [bin, 'engine-proxy', '--listen', host, '--upstream', `unix://${podmanSocket}`, '--trust-policy', join(dir, 'trust.yaml')], {
      env: { ...process.env, GATEHOUSE_FROM_SOURCE: '1' },
      stdio: 'ignore',
    });
    for (let i = 0; i < 600 && !existsSync(socket); i++) await sleep(100);
    assert.ok(existsSync(socket), 'proxy did not start');
  });

  after(async () => {
    proxy?.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
    await docker(`unix://${podmanSocket}`, ['rmi', '-f', signed, unsigned, exempt]);
  });

  it('runs the signed image', async () => {
    const r = await docker(host, ['run', '--rm', ...ULIMITS, signed, 'echo', 'trusted'], { timeoutMs: 180_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'trusted');
  });

  it('denies the unsigned image in the protected namespace, naming the rule', async () => {
    const r = await docker(host, ['run', '--rm', ...ULIMITS, unsigned, 'echo', 'should not run'], { timeoutMs: 180_000 });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /EP020 images must satisfy the trust policy/);
    assert.doesNotMatch(r.stdout, /should not run/);
  });

  it('lets an exempt repository through unsigned', async () => {
    const r = await docker(host, ['run', '--rm', ...ULIMITS, exempt, 'echo', 'exempt'], { timeoutMs: 180_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'exempt');
  });
});
