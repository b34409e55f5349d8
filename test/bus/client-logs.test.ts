/**
 * The long-running clients' logs (src/util/log.ts, pino): one JSON object per line with a
 * level name, an ISO time, the component and the message first; secrets never reach a line —
 * neither as fields (path redaction, as Central's logger) nor inside messages (scrubbed) — and
 * `--log-level` filters. Proven on the logger itself and on the real commands: the engine proxy
 * and the admission webhook pushing with a token Central refuses and a scrape token, and the
 * engine proxy publishing to NATS with a password in its URL while NATS goes away.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { createLogger, logFunction, scrubSecrets } from '../../src/util/log.js';
import { missing, podmanSocket } from '../helpers/components.js';
import { freePort, natsSkip, startCentralCli, startNats, tempDir, waitFor, type CentralProcess } from './helpers.js';
import { DENY_INFO, dockerGet, privilegedPodReview, startProxy, startWebhook } from './client-procs.js';

const work = tempDir('client-logs');
after(() => rmSync(work, { recursive: true, force: true }));

function capture(level?: 'info' | 'warn') {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (d: Buffer) => (text += d.toString()));
  const logger = createLogger({ component: 'test', stream, ...(level ? { level } : {}) });
  return { log: logFunction(logger), text: () => text };
}

/** Each stderr line of a server: a JSON object with a level name, an ISO time, the component and a message. */
function assertJsonLines(stderr: string, component: string): { level: string; msg: string }[] {
  // Node's own process warnings (`(node:PID) …Warning`) are the runtime's, not the component's log.
  const lines = stderr.split('\n').filter((l) => l && !/^\((node:\d+|Use `node)/.test(l));
  assert.ok(lines.length > 0);
  return lines.map((l) => {
    const rec = JSON.parse(l) as { level: string; time: string; component: string; msg: string };
    assert.ok(['info', 'warn', 'error'].includes(rec.level), l);
    assert.ok(!Number.isNaN(Date.parse(rec.time)) && rec.time.endsWith('Z'), l);
    assert.equal(rec.component, component, l);
    assert.equal(typeof rec.msg, 'string', l);
    return rec;
  });
}

test('the logger: secrets in fields and in messages never reach a line; the line shape; levels', async () => {
  const token = `ghc_${randomBytes(24).toString('base64url')}`;
  const password = `pw-${randomBytes(12).toString('hex')}`;
  const seed = `SU${'A'.repeat(56)}`;
  const c = capture();
  c.log('warn', `push to Central: 401 for Bearer ${token} via nats://gh:${password}@127.0.0.1:4222 seed ${seed}`, {
    token, authorization: `Bearer ${token}`, headers: { authorization: token }, config: { password, kubeconfig: 'apiVersion: v1' },
    error: `request with authorization: Basic ${Buffer.from(`u:${password}`).toString('base64')}`, nested: { list: [`x ${token}`] },
  });
  const line = c.text();
  for (const secret of [token, password, seed, Buffer.from(`u:${password}`).toString('base64'), 'apiVersion: v1']) assert.ok(!line.includes(secret), `${secret} leaked: ${line}`);
  const rec = JSON.parse(line) as Record<string, unknown>;
  assert.equal(rec.level, 'warn');
  assert.equal(rec.component, 'test');
  assert.equal(rec.token, '[redacted]');
  assert.match(String(rec.msg), /^push to Central: 401 for Bearer \[redacted\] via nats:\/\/\[redacted\]@127\.0\.0\.1:4222/);
  assert.ok(Object.keys(rec).indexOf('msg') < Object.keys(rec).indexOf('token'), 'the message comes before the fields');
  assert.equal(scrubSecrets('nats://127.0.0.1:4222 and https://central:8443/api'), 'nats://127.0.0.1:4222 and https://central:8443/api', 'URLs without credentials are left alone');

  const quiet = capture('warn');
  quiet.log('info', 'listening');
  quiet.log('error', 'broken');
  assert.deepEqual(quiet.text().trim().split('\n').map((l) => (JSON.parse(l) as { msg: string }).msg), ['broken']);
});

describe('the servers with secrets on their command lines', { skip: natsSkip() }, () => {
  let central: CentralProcess;
  const token = `ghc_${randomBytes(32).toString('base64url')}`; // not one of Central's: every push is refused
  const metricsToken = randomBytes(24).toString('hex');
  before(async () => {
    central = await startCentralCli([]);
  });
  after(() => central?.stop());

  test('engine-proxy --server with a refused token: JSON lines, the refusal logged, neither token anywhere', { skip: missing(existsSync(podmanSocket), `no podman socket at ${podmanSocket}`), timeout: 180_000 }, async () => {
    const dir = join(work, 'proxy');
    mkdirSync(dir);
    writeFileSync(join(dir, 'no-info.yaml'), DENY_INFO);
    const proxy = await startProxy(dir, ['--policy', join(dir, 'no-info.yaml'), '--server', central.url, '--metrics-listen', '127.0.0.1:0'], { GATEHOUSE_TOKEN: token, GATEHOUSE_METRICS_TOKEN: metricsToken });
    try {
      assert.equal(await dockerGet(proxy.socket, '/v1.41/info'), 403);
      await waitFor('the refused push logged', () => /"level":"warn".*push to Central/.test(proxy.stderr()), 60_000, 250);
    } finally {
      assert.equal(await proxy.stop(), 0, proxy.stderr());
    }
    const recs = assertJsonLines(proxy.stderr(), 'engine-proxy');
    assert.ok(recs.some((r) => r.level === 'info' && /engine-proxy listening/.test(r.msg)));
    assert.ok(recs.some((r) => r.level === 'warn' && /denied by gatehouse policy/.test(r.msg)));
    assert.ok(!proxy.stderr().includes(token) && !proxy.stderr().includes(token.slice(4)), 'the Central token is never logged');
    assert.ok(!proxy.stderr().includes(metricsToken), 'the scrape token is never logged');
  });

  test('admission serve --server with a refused token: JSON lines, the refusal logged, no token; --log-level warn drops info lines', { timeout: 180_000 }, async () => {
    for (const level of ['info', 'warn'] as const) {
      const dir = join(work, `webhook-${level}`);
      mkdirSync(dir);
      const args = ['--cluster', 'logs', '--server', central.url, '--log-level', level];
      const hook = level === 'info'
        ? await startWebhook(dir, args, { GATEHOUSE_TOKEN: token, GATEHOUSE_METRICS_TOKEN: metricsToken })
        : await startWebhook(dir, args, { GATEHOUSE_TOKEN: token, GATEHOUSE_METRICS_TOKEN: metricsToken }, await freePort());
      try {
        assert.equal((await hook.review(privilegedPodReview('web'))).allowed, false);
        await waitFor('the refused push logged', () => /"level":"warn".*push to Central/.test(hook.stderr()), 60_000, 250);
      } finally {
        await hook.close();
        assert.equal(await hook.stop(), 0, hook.stderr());
      }
      const recs = assertJsonLines(hook.stderr(), 'admission');
      if (level === 'info') assert.ok(recs.some((r) => r.level === 'info' && r.msg === 'admission webhook listening'));
      else assert.ok(recs.every((r) => r.level !== 'info'), '--log-level warn drops info lines');
      assert.ok(!hook.stderr().includes(token) && !hook.stderr().includes(token.slice(4)), 'the Central token is never logged');
      assert.ok(!hook.stderr().includes(metricsToken), 'the scrape token is never logged');
    }
  });

  test('engine-proxy --nats with a password in the URL: NATS goes away, the failure is logged without the password', { skip: missing(existsSync(podmanSocket), `no podman socket at ${podmanSocket}`), timeout: 180_000 }, async () => {
    const nats = await startNats();
    const password = `pw${randomBytes(12).toString('hex')}`;
    const dir = join(work, 'proxy-nats');
    mkdirSync(dir);
    writeFileSync(join(dir, 'no-info.yaml'), DENY_INFO);
    const proxy = await startProxy(dir, ['--policy', join(dir, 'no-info.yaml'), '--nats', nats.url.replace('nats://', `nats://gh:${password}@`)]);
    try {
      await nats.kill9();
      assert.equal(await dockerGet(proxy.socket, '/v1.41/info'), 403);
      await waitFor('the publish failure logged', () => /"level":"warn".*NATS/.test(proxy.stderr()), 60_000, 250);
      await nats.restart();
    } finally {
      assert.equal(await proxy.stop(), 0, proxy.stderr());
      await nats.stop();
    }
    assertJsonLines(proxy.stderr(), 'engine-proxy');
    assert.ok(!proxy.stderr().includes(password), `the NATS password is never logged: ${proxy.stderr()}`);
  });
});
