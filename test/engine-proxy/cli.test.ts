/**
 * `gatehouse engine-proxy` as a process: refuses to start on a bad policy, reloads on
 * SIGHUP (keeping the old policy when the new one is invalid), audit-only mode.
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

const DENY_INFO = `kind: EngineProxyPolicy
name: no-info
rules:
  - id: T-INFO
    title: system info is off limits
    actions: [system.info]
    when: { field: action, op: exists }
`;
const DENY_VERSION = DENY_INFO.replace('no-info', 'no-version').replace('T-INFO', 'T-VERSION').replace('system.info', 'system.version');

describe('gatehouse engine-proxy command', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gh-ep-cli-'));
  const running: ChildProcess[] = [];
  after(() => {
    for (const c of running) if (c.exitCode === null) c.kill('SIGTERM');
  });

  test('refuses to start with an invalid policy, with a one-line error', async () => {
    // The policy checks themselves are unit-tested (policy.test.ts); here: the process refuses.
    const cases: [string, RegExp][] = [
      ['rules:\n  - id: X\n    actions: [container.create]\n    when: { field: a, op: bogus, value: 1 }\n', /"op" must be one of/],
    ];
    // Each start pays tsx's start-up; run them side by side.
    await Promise.all(
      cases.map(async ([text, re], i) => {
        const file = join(dir, `bad${i}.yaml`);
        writeFileSync(file, text);
        const sock = join(dir, `bad${i}.sock`);
        const r = await runCli(['engine-proxy', '--listen', `unix://${sock}`, '--upstream', `unix://${podmanSocket}`, '--policy', file], { timeoutMs: 60_000 });
        assert.equal(r.code, 2, r.stderr);
        assert.match(r.stderr, re);
        assert.ok(r.stderr.includes(file));
        assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
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
