/**
 * `gatehouse admission serve` as a user runs it: bad flags and files are one line and exit 2
 * before anything listens; with --tls-cert/--tls-key it serves HTTPS with that certificate,
 * logs one ready line, re-reads its packs on SIGHUP and stops cleanly on SIGTERM.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';
import { Agent, fetch } from 'undici';
import { ensureLocalTls } from '../../src/central/tls.js';
import { runCli } from '../helpers/cli.js';

const bin = fileURLToPath(new URL('../../bin/gatehouse.mjs', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'gatehouse-admission-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('bad flags and files: one line, exit 2', async () => {
  const badPack = join(dir, 'bad.yaml');
  writeFileSync(badPack, 'apiVersion: gatehouse.dev/v1\nkind: PolicyPack\nmetadata: { name: x }\nsubject: admission\npolicies:\n  - id: p\n    name: p\n    severity: HIGH\n    criteria: { field: request.nope, op: exists }\n');
  const cases: [string[], RegExp][] = [
    [['--budget', '5m'], /--budget "5m": expected a duration from 10ms to 30s/],
    [['--budget', '0'], /--budget "0"/],
    [['--tls-cert', join(dir, 'c.pem')], /--tls-cert and --tls-key go together/],
    [['--listen', 'nowhere:99999'], /--listen "nowhere:99999": port 99999 is out of range/],
    [['--policy', join(dir, 'missing.yaml')], /missing\.yaml/],
    [['--policy', badPack], /bad\.yaml:\d+.*request\.nope/],
    [['--trust-policy', join(dir, 'missing-trust.yaml')], /missing-trust\.yaml/],
  ];
  for (const [args, re] of cases) {
    const r = await runCli(['admission', 'serve', '--listen', '127.0.0.1:0', '--data-dir', join(dir, 'd'), ...args], { env: { GATEHOUSE_SERVER: undefined }, timeoutMs: 60_000 });
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, re);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  }
});

test('--tls-cert/--tls-key: HTTPS with that certificate, one ready line, reload on SIGHUP, clean stop on SIGTERM', async () => {
  const tls = await ensureLocalTls(join(dir, 'own'));
  const cert = join(dir, 'serving.crt');
  const key = join(dir, 'serving.key');
  writeFileSync(cert, tls.cert);
  writeFileSync(key, tls.key);
  const child = spawn(process.execPath, [bin, 'admission', 'serve', '--listen', '127.0.0.1:0', '--tls-cert', cert, '--tls-key', key, '--budget', '500ms', '--dry-run-only'], {
    env: { ...process.env, GATEHOUSE_FROM_SOURCE: '1', GATEHOUSE_SERVER: undefined },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const deadline = Date.now() + 60_000;
  let ready: { url: string; budgetMs: number; dryRunOnly: boolean } | undefined;
  while (!ready) {
    assert.equal(child.exitCode, null, err);
    assert.ok(Date.now() < deadline, `no ready line: ${err}`);
    const line = err.split('\n').find((l) => l.includes('"admission webhook listening"'));
    if (line) ready = JSON.parse(line);
    else await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(ready.budgetMs, 500);
  assert.equal(ready.dryRunOnly, true);
  const agent = new Agent({ connect: { ca: tls.ca } });
  const res = await fetch(`${ready.url}/healthz`, { dispatcher: agent });
  assert.equal(res.status, 200);
  await agent.close();
  child.kill('SIGHUP');
  const reloadBy = Date.now() + 30_000;
  while (!err.includes('"policies reloaded"')) {
    assert.ok(Date.now() < reloadBy, `no reload line: ${err}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const code = await new Promise<number | null>((resolve) => {
    child.once('exit', (c) => resolve(c));
    child.kill('SIGTERM');
  });
  assert.equal(code, 0, err);
});

test('--trust-policy: images the trust policy rejects are denied, exempt ones admitted, unverifiable ones follow the failure policy', async () => {
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const policy = join(dir, 'trust.yaml');
  writeFileSync(policy, `keys:
  release: { pem: ${JSON.stringify(publicKey.export({ type: 'spki', format: 'pem' }).toString())} }
rules:
  - name: blocked
    match: "blocked.example/**"
    action: reject
  - name: signed
    # Nothing listens on port 9: the verdict is an error, left to the failure policy.
    match: "127.0.0.1:9/**"
    action: require
    keys: [release]
default: exempt
`);
  const child = spawn(process.execPath, [bin, 'admission', 'serve', '--listen', '127.0.0.1:0', '--data-dir', join(dir, 'trust-tls'), '--trust-policy', policy, '--budget', '3s'], {
    env: { ...process.env, GATEHOUSE_FROM_SOURCE: '1', GATEHOUSE_SERVER: undefined },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  try {
    const deadline = Date.now() + 60_000;
    let ready: { url: string; caFile: string; trustPolicy?: string } | undefined;
    while (!ready) {
      assert.equal(child.exitCode, null, err);
      assert.ok(Date.now() < deadline, `no ready line: ${err}`);
      const line = err.split('\n').find((l) => l.includes('"admission webhook listening"'));
      if (line) ready = JSON.parse(line);
      else await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(ready.trustPolicy, policy);
    const agent = new Agent({ connect: { ca: readFileSync(ready.caFile, 'utf8') } });
    const ask = async (image: string, path = '/validate') => {
      const body = {
        apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview',
        request: {
          uid: `u-${image}`, kind: { group: '', version: 'v1', kind: 'Pod' }, resource: { group: '', version: 'v1', resource: 'pods' }, namespace: 'app', name: 'p', operation: 'CREATE',
          userInfo: { username: 'alice', groups: [] }, object: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'app' }, spec: { containers: [{ name: 'c', image }] } },
        },
      };
      const res = await fetch(ready!.url + path, { method: 'POST', dispatcher: agent, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      return ((await res.json()) as { response: { allowed: boolean; status?: { message: string }; warnings?: string[]; patch?: string } }).response;
    };
    const blocked = await ask('blocked.example/app:1');
    assert.equal(blocked.allowed, false);
    assert.match(blocked.status!.message, /image-trust: image blocked\.example\/app:1 \(container c\) is not trusted/);
    const exempt = await ask('docker.io/library/busybox:1');
    assert.equal(exempt.allowed, true);
    const unreachable = await ask('127.0.0.1:9/app:1');
    assert.equal(unreachable.allowed, true, 'fail-open');
    assert.ok(unreachable.warnings?.some((w) => /image-trust: image 127\.0\.0\.1:9\/app:1 \(container c\) could not be verified.*admitted unverified \(fail-open\)/.test(w)), JSON.stringify(unreachable.warnings));
    const mutate = await ask('docker.io/library/busybox:1', '/mutate');
    assert.equal(mutate.allowed, true);
    assert.equal(mutate.patch, undefined, 'nothing verified, nothing pinned');
    await agent.close();
  } finally {
    child.kill('SIGTERM');
  }
});
