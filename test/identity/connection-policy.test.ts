/**
 * The `connection` subject through the one policy engine: the example pack's PolicyTest
 * cases (`gatehouse policy test`), its fields listed, and bad connection files refused in
 * one line naming the file and the key.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { runCli } from '../helpers/cli.js';

const work = mkdtempSync(join(tmpdir(), 'gatehouse-connection-'));
after(() => rmSync(work, { recursive: true, force: true }));
const PACK = 'policies/examples/payments-trusted-callers.yaml';

test('policy test: the payments example passes every case (allow, warn and deny)', async () => {
  const r = await runCli(['policy', 'test', 'test/policy/cases/connection']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /8 passed, 0 failed/);
});

test('policy test: a case expecting the wrong verdict fails with a diff', async () => {
  const file = join(work, 'wrong.yaml');
  writeFileSync(file, `apiVersion: gatehouse.dev/v1
kind: PolicyTest
name: wrong on purpose
policies: [${join(process.cwd(), PACK)}]
cases:
  - name: an unsigned caller expected to pass
    subject: connection
    input:
      source: { workload: { namespace: shop, kind: Deployment, name: x }, images: [ { ref: a:1, signature: unverified, vulnerabilities: {}, build: { branch: main } } ] }
      destination: { namespace: payments, port: 443 }
    expect: { decision: allow }
`);
  const r = await runCli(['policy', 'test', file]);
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stdout, /decision: expected allow, got deny|expected.*allow.*deny/s);
});

test('policy fields lists the connection fields', async () => {
  const r = await runCli(['policy', 'fields', '--subject', 'connection', '--format', 'json']);
  assert.equal(r.code, 0, r.stderr);
  const names = JSON.parse(r.stdout).map((f: { name: string }) => f.name);
  for (const f of ['source.image.signed', 'source.build.branch', 'source.build.revision', 'source.vulnerabilities.critical', 'source.spiffeId', 'destination.namespace', 'destination.port']) assert.ok(names.includes(f), f);
});

test('a bad connection file gets one line naming the file and the key, exit 2', async () => {
  const cases: [unknown, RegExp][] = [
    [{ source: { workload: { kind: 'Deployment', name: 'x' } }, destination: { namespace: 'payments', colour: 'red' } }, /destination: unknown key "colour"/],
    [{ source: { workload: { kind: 'Deployment', name: 'x' }, images: [{ ref: 'a', signature: 'yes' }] }, destination: {} }, /images\[0\]\.signature: must be one of verified, unverified, unknown/],
    [{ source: { workload: { kind: 'Deployment' } }, destination: {} }, /workload\.name: is required/],
    [{ source: { workload: { kind: 'Deployment', name: 'x' } }, destination: { port: 70000 } }, /destination\.port: must be a port number/],
    [{ destination: {} }, /source: is required/],
  ];
  for (const [body, re] of cases) {
    const file = join(work, `bad-${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(file, JSON.stringify(body));
    const r = await runCli(['policy', 'eval', '--subject', 'connection', file, '--policy', PACK]);
    assert.equal(r.code, 2, `${JSON.stringify(body)}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, re);
    assert.ok(r.stderr.includes(file), r.stderr);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
});
