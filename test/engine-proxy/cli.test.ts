/**
 * `gatehouse engine-proxy` as a process: refuses to start on a bad pack (an unknown field
 * is an error, not a silent allow), reads old rule files with a deprecation warning,
 * reloads on SIGHUP (keeping the old set when the new one is invalid), audit-only mode.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
import { runCli } from '../helpers/cli.js';
import { missing, podmanSocket } from '../helpers/components.js';
import { podmanUp } from './helpers.js';
import { DENY_INFO } from '../helpers/engine-proxy-packs.js';

const bin = fileURLToPath(new URL('../../bin/gatehouse.mjs', import.meta.url));
const up = podmanUp();

function get(socketPath: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path, method: 'GET' }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

interface Proc {
  child: ChildProcess;
  stderr(): string;
  waitFor(re: RegExp, ms?: number): Promise<void>;
}

function startCli(args: string[]): Proc {
  const child = spawn(process.execPath, [bin, 'engine-proxy', ...args], { env: { ...process.env, GATEHOUSE_FROM_SOURCE: '1' } });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  return {
    child,
    stderr: () => err,
    waitFor: (re, ms = 30_000) =>
      new Promise((resolve, reject) => {
        const t0 = Date.now();
        const tick = () => {
          if (re.test(err)) return resolve();
          if (Date.now() - t0 > ms || child.exitCode !== null) return reject(new Error(`no ${re} in: ${err}`));
          setTimeout(tick, 50);
        };
        tick();
      }),
  };
}

/** The old rule format (deprecated, still read). */
const DENY_VERSION = `kind: EngineProxyPolicy
name: no-version
rules:
  - id: T-VERSION
    title: version is off limits
    actions: [system.version]
    when: { field: action, op: exists }
`;
const PRIVILEGED_LEGACY = `kind: EngineProxyPolicy
name: typo
rules:
  - id: T-PRIV
    title: privileged containers
    actions: [container.create]
    when:
      - { field: container.privilegd, op: equals, value: true }
`;
const PRIVILEGED_PACK = DENY_INFO.replace('field: action, op: exists', 'field: container.privilegd, op: equals, value: true');

describe('gatehouse engine-proxy command', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gh-ep-cli-'));
  const running: ChildProcess[] = [];
  after(() => {
    for (const c of running) if (c.exitCode === null) c.kill('SIGTERM');
  });

  test('refuses to start with an invalid policy, with a one-line error', async () => {
    // The policy checks themselves are unit-tested (policy.test.ts); here: the process refuses.
    const cases: [string, RegExp, number][] = [
      // A misspelt field used to load and then allow a privileged create (fail-open).
      [PRIVILEGED_PACK, /:10: policy T-INFO: unknown field "container\.privilegd" for subject engine-request \(did you mean "container\.privileged"\?\)/, 0],
      [PRIVILEGED_LEGACY, /:8: policy T-PRIV: unknown field "container\.privilegd" for subject engine-request \(did you mean "container\.privileged"\?\)/, 1],
      ['rules:\n  - id: X\n    actions: [container.create]\n    when: { field: action, op: bogus, value: 1 }\n', /:4: policy X: unknown op "bogus"/, 1],
      [DENY_INFO.replace('enforcement: [block]', 'enforcement: [deny]'), /:11: policy T-INFO: unknown enforcement "deny"/, 0],
    ];
    // Each start pays tsx's start-up; run them side by side.
    await Promise.all(
      cases.map(async ([text, re, warnings], i) => {
        const file = join(dir, `bad${i}.yaml`);
        writeFileSync(file, text);
        const sock = join(dir, `bad${i}.sock`);
        const r = await runCli(['engine-proxy', '--listen', `unix://${sock}`, '--upstream', `unix://${podmanSocket}`, '--policy', file], { timeoutMs: 60_000 });
        assert.equal(r.code, 2, r.stderr);
        const lines = r.stderr.trim().split('\n');
        assert.equal(lines.length, 1 + warnings, r.stderr);
        if (warnings) assert.match(lines[0]!, /EngineProxyPolicy rule format is deprecated; convert it with: gatehouse policy convert /);
        assert.match(lines.at(-1)!, re);
        assert.ok(lines.at(-1)!.includes(`${file}:`), r.stderr);
        assert.ok(!existsSync(sock), 'no socket was created');
      }),
    );
    const badAddr = await runCli(['engine-proxy', '--listen', 'http://x']);
    assert.equal(badAddr.code, 2);
    assert.match(badAddr.stderr, /--listen "http:\/\/x": expected unix:\/\/\/path or tcp:\/\/host:port/);
  });

  test('SIGHUP reloads the policy; an invalid one is logged and the old one kept', { skip: missing(up, `podman API at ${podmanSocket}`) }, async () => {
    const policy = join(dir, 'policy.yaml');
    const audit = join(dir, 'audit.jsonl');
    const sock = join(dir, 'reload.sock');
    writeFileSync(policy, DENY_INFO);
    const p = startCli(['--listen', `unix://${sock}`, '--upstream', `unix://${podmanSocket}`, '--policy', policy, '--audit', audit]);
    running.push(p.child);
    await p.waitFor(/listening on/);
    assert.equal((await get(sock, '/v1.41/info')).status, 403);
    assert.equal((await get(sock, '/v1.41/version')).status, 200);

    writeFileSync(policy, 'rules: [ {id: broken');
    p.child.kill('SIGHUP');
    await p.waitFor(/policy reload failed, keeping the previous policy/);
    const still = await get(sock, '/v1.41/info');
    assert.equal(still.status, 403);
    assert.match(JSON.parse(still.body).message, /T-INFO/);

    writeFileSync(policy, DENY_VERSION);
    p.child.kill('SIGHUP');
    await p.waitFor(/policy reloaded/);
    assert.match(p.stderr(), /EngineProxyPolicy rule format is deprecated/);
    assert.equal((await get(sock, '/v1.41/info')).status, 200);
    assert.equal((await get(sock, '/v1.41/version')).status, 403);

    p.child.kill('SIGTERM');
    await new Promise((r) => p.child.once('exit', r));
    assert.ok(!existsSync(sock), 'socket removed on exit');
    const recs = readFileSync(audit, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(recs.map((r) => `${r.action}:${r.decision}`), [
      'system.info:deny', 'system.version:allow', 'system.info:deny', 'system.info:allow', 'system.version:deny',
    ]);
  });

  test('--audit-only logs "would deny" and lets the request through', { skip: missing(up, `podman API at ${podmanSocket}`) }, async () => {
    const policy = join(dir, 'audit-policy.yaml');
    const sock = join(dir, 'audit.sock');
    writeFileSync(policy, DENY_INFO);
    const p = startCli(['--listen', `unix://${sock}`, '--upstream', `unix://${podmanSocket}`, '--policy', policy, '--audit-only']);
    running.push(p.child);
    await p.waitFor(/listening on/);
    const r = await get(sock, '/v1.41/info');
    assert.equal(r.status, 200);
    await p.waitFor(/would deny \(audit mode\) by gatehouse policy \\"no-info\\": T-INFO/);
    p.child.kill('SIGTERM');
  });
});
