/**
 * `gatehouse engine-proxy --metrics-listen 127.0.0.1:0` in front of the real podman socket:
 * the metrics are on their own plain-HTTP address (the proxy's listener speaks the Docker
 * API), in the Prometheus text format, and count real requests by decision and action;
 * an engine that is not there counts as an upstream error. A bad --metrics-listen is a
 * one-line usage error.
 */
import { randomBytes } from 'node:crypto';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
import { missing, podmanSocket } from '../helpers/components.js';
import { runCli } from '../helpers/cli.js';
import { podmanUp } from '../engine-proxy/helpers.js';
import { assertProcessMetrics, scrape } from './prom-text.js';
import { DENY_INFO } from '../helpers/engine-proxy-packs.js';

const bin = fileURLToPath(new URL('../../bin/gatehouse.mjs', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'gatehouse-metrics-proxy-'));
const children: ChildProcess[] = [];
after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
});

const scrapeToken = randomBytes(32).toString('hex');
const tokenFile = join(work, 'metrics-token');
writeFileSync(tokenFile, `${scrapeToken}\n`, { mode: 0o600 });
const bearer = { headers: { authorization: `Bearer ${scrapeToken}` } };

const pack = join(work, 'no-info.yaml');
writeFileSync(pack, DENY_INFO);

function get(socketPath: string, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path, method: 'GET' }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Starts the CLI; resolves with the metrics URL it logs. */
async function startProxy(name: string, upstream: string): Promise<{ child: ChildProcess; socket: string; metricsUrl: string; stderr(): string }> {
  const socket = join(work, `${name}.sock`);
  const child = spawn(process.execPath, [bin, 'engine-proxy', '--listen', `unix://${socket}`, '--upstream', upstream, '--policy', pack, '--metrics-listen', '127.0.0.1:0', '--metrics-token-file', tokenFile], {
    env: { ...process.env, GATEHOUSE_FROM_SOURCE: '1', GATEHOUSE_SERVER: undefined, GATEHOUSE_TOKEN: undefined },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  children.push(child);
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const t0 = Date.now();
  for (;;) {
    const m = /metrics at (http:\/\/127\.0\.0\.1:\d+\/metrics)/.exec(err);
    if (m) return { child, socket, metricsUrl: m[1]!, stderr: () => err };
    if (child.exitCode !== null || Date.now() - t0 > 60_000) throw new Error(`engine-proxy did not serve metrics: ${err}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function stop(child: ChildProcess): Promise<number | null> {
  const closed = new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)));
  child.kill('SIGTERM');
  return closed;
}

describe('engine-proxy --metrics-listen', { skip: missing(podmanUp(), `podman API socket at ${podmanSocket} and the docker CLI (.ci/setup.d)`) }, () => {
  test('counts real requests through the proxy by decision and action, with decision latencies', async () => {
    const p = await startProxy('live', `unix://${podmanSocket}`);
    try {
      const before = await scrape(p.metricsUrl, bearer);
      assertProcessMetrics(before);
      assert.equal(before.types.get('gatehouse_engine_proxy_requests_total'), 'counter');
      assert.equal(before.types.get('gatehouse_engine_proxy_decision_duration_seconds'), 'histogram');
      assert.equal(before.types.get('gatehouse_engine_proxy_upstream_errors_total'), 'counter');
      assert.equal(before.sum('gatehouse_engine_proxy_requests_total'), 0);

      assert.equal(await get(p.socket, '/v1.41/version'), 200, 'passed through to podman');
      assert.equal(await get(p.socket, '/v1.41/containers/json'), 200);
      assert.equal(await get(p.socket, '/v1.41/info'), 403, 'denied by the pack');
      assert.equal(await get(p.socket, '/v1.41/containers/%ZZ/json'), 400, 'malformed: refused before any decision');

      const m = await scrape(p.metricsUrl, bearer);
      assert.equal(m.value('gatehouse_engine_proxy_requests_total', { decision: 'allow', action: 'system.version' }), 1);
      assert.equal(m.value('gatehouse_engine_proxy_requests_total', { decision: 'allow', action: 'container.list' }), 1);
      assert.equal(m.value('gatehouse_engine_proxy_requests_total', { decision: 'deny', action: 'system.info' }), 1);
      assert.equal(m.sum('gatehouse_engine_proxy_requests_total', { decision: 'error' }), 1);
      assert.equal(m.value('gatehouse_engine_proxy_decision_duration_seconds_count', { decision: 'allow' }), 2);
      assert.equal(m.value('gatehouse_engine_proxy_decision_duration_seconds_bucket', { decision: 'deny', le: '+Inf' }), 1);
      assert.equal(m.sum('gatehouse_engine_proxy_upstream_errors_total'), 0);
      assert.equal((await fetch(p.metricsUrl.replace('/metrics', '/v1.41/version'))).status, 404, 'the metrics address serves nothing else');
      // Every API needs a token: none, a wrong one, or the token without "Bearer" is 401 and shows nothing.
      for (const authorization of [undefined, `Bearer ${'f'.repeat(64)}`, scrapeToken]) {
        const res = await fetch(p.metricsUrl, authorization ? { headers: { authorization } } : {});
        assert.equal(res.status, 401, String(authorization));
        assert.doesNotMatch(await res.text(), /gatehouse_engine_proxy/);
      }
    } finally {
      assert.equal(await stop(p.child), 0, p.stderr());
    }
  });

  test('an engine that is not there counts as an upstream error', async () => {
    const p = await startProxy('down', `unix://${join(work, 'no-engine.sock')}`);
    try {
      assert.equal(await get(p.socket, '/v1.41/version'), 502);
      const m = await scrape(p.metricsUrl, bearer);
      assert.equal(m.value('gatehouse_engine_proxy_upstream_errors_total', { stage: 'forward' }), 1);
      assert.equal(m.value('gatehouse_engine_proxy_requests_total', { decision: 'allow', action: 'system.version' }), 1);
    } finally {
      await stop(p.child);
    }
  });
});

test('a bad --metrics-listen is a one-line usage error', async () => {
  const r = await runCli(['engine-proxy', '--listen', `unix://${join(work, 'x.sock')}`, '--metrics-listen', 'nowhere'], { env: { GATEHOUSE_SERVER: undefined } });
  assert.equal(r.code, 2, r.stderr);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, /--metrics-listen "nowhere": expected HOST:PORT/);
});

test('--metrics-listen without a scrape token, with a short one, or plain HTTP off loopback is a one-line usage error', async () => {
  const short = join(work, 'short-token');
  writeFileSync(short, 'abc\n');
  const cases: [string[], RegExp][] = [
    [['--metrics-listen', '127.0.0.1:0'], /needs a scrape token: --metrics-token-file FILE or GATEHOUSE_METRICS_TOKEN/],
    [['--metrics-listen', '127.0.0.1:0', '--metrics-token-file', short], /at least 16 characters/],
    [['--metrics-listen', '127.0.0.1:0', '--metrics-token-file', join(work, 'absent')], /--metrics-token-file .*absent/],
    [['--metrics-listen', '0.0.0.0:0', '--metrics-token-file', tokenFile], /plain HTTP is served on a loopback address only/],
  ];
  for (const [args, message] of cases) {
    const r = await runCli(['engine-proxy', '--listen', `unix://${join(work, 'y.sock')}`, ...args], { env: { GATEHOUSE_SERVER: undefined, GATEHOUSE_METRICS_TOKEN: undefined } });
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, message);
  }
});
