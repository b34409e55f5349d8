/**
 * `gatehouse sensor --server URL --metrics-listen 127.0.0.1:0` (root, bpftrace) while a podman
 * container reads /etc/shadow: the sensor's /metrics counts events by type, the alert and
 * its drops, and the spool's shipping to Central; Central's /metrics counts the alerts it
 * received. Scraped while the sensor runs.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { hasCommand, missing } from '../helpers/components.js';
import { startTestCentral, type TestCentral } from '../helpers/central.js';
import { assertProcessMetrics, scrape, type Exposition } from './prom-text.js';

const bin = fileURLToPath(new URL('../../bin/gatehouse.mjs', import.meta.url));
const SENSOR_IMAGE = 'localhost/gatehouse-sensor-test:1';
const FALCO_RULES = fileURLToPath(new URL('../../../shared/reference/falco/rules/falco_rules.yaml', import.meta.url));
const skip = () =>
  missing(process.getuid?.() === 0, 'the sensor needs root') ||
  missing(hasCommand('bpftrace'), 'bpftrace not installed (.ci/setup.d/65-bpftrace.sh)') ||
  missing(hasCommand('podman') && spawnSync('podman', ['image', 'exists', SENSOR_IMAGE]).status === 0, `podman image ${SENSOR_IMAGE} missing (.ci/setup.d/65-bpftrace.sh)`) ||
  missing(existsSync(FALCO_RULES), `Falco rules missing at ${FALCO_RULES}`);

async function waitFor<T>(what: string, check: () => T | undefined | Promise<T | undefined>, ms = 60_000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('sensor --metrics-listen', { skip: skip(), timeout: 600_000 }, () => {
  const work = mkdtempSync(join(tmpdir(), 'gatehouse-metrics-sensor-'));
  let central: TestCentral;
  before(async () => {
    central = await startTestCentral();
  });
  after(async () => {
    await central?.close();
    rmSync(work, { recursive: true, force: true });
  });

  test('events, alerts, drops and the shipping to Central are counted while the sensor runs', { timeout: 600_000 }, async () => {
    const token = await central.token('sensor');
    const scrapeToken = randomBytes(24).toString('hex');
    const bearer = { headers: { authorization: `Bearer ${scrapeToken}` } };
    const child = spawn(process.execPath, [bin, 'sensor', '--rules', FALCO_RULES, '--opens', 'rules', '--format', 'json', '--output', join(work, 'alerts.jsonl'),
      '--server', central.url, '--spool-dir', join(work, 'spool'), '--metrics-listen', '127.0.0.1:0'], {
      // The scrape token from the environment (the other way than the proxy's test, which uses --metrics-token-file).
      env: { ...process.env, GATEHOUSE_FROM_SOURCE: '1', GATEHOUSE_TOKEN: token, GATEHOUSE_SERVER: undefined, GATEHOUSE_CA: undefined, GATEHOUSE_METRICS_TOKEN: scrapeToken },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const closed = new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)));
    const cname = `gh-metrics-sensor-${randomBytes(4).toString('hex')}`;
    try {
      const url = await waitFor('the metrics address', () => {
        if (child.exitCode !== null) throw new Error(`sensor exited: ${err}`);
        return /sensor metrics at (http:\/\/127\.0\.0\.1:\d+\/metrics)/.exec(err)?.[1];
      }, 300_000);
      await waitFor('the sensor ready', () => {
        if (child.exitCode !== null) throw new Error(`sensor exited: ${err}`);
        return err.includes('sensor ready');
      }, 300_000);
      assert.equal((await fetch(url)).status, 401, 'no scrape token, no metrics');
      const first = await scrape(url, bearer);
      assertProcessMetrics(first);
      for (const [name, type] of [['gatehouse_sensor_events_total', 'counter'], ['gatehouse_sensor_alerts_total', 'counter'], ['gatehouse_sensor_dropped_events_total', 'counter'],
        ['gatehouse_shipper_pending_events', 'gauge'], ['gatehouse_shipper_events_total', 'counter'], ['gatehouse_shipper_push_failures_total', 'counter']]) {
        assert.equal(first.types.get(name!), type, `# TYPE ${name}`);
      }
      const ran = spawnSync('podman', ['run', '--runtime', 'runc', '--ulimit', 'nofile=20000:20000', '--ulimit', 'nproc=4096:4096', '--name', cname, SENSOR_IMAGE, 'sh', '-c', '/bin/cat /etc/shadow >/dev/null; /bin/true'], { encoding: 'utf8', timeout: 60_000 });
      assert.equal(ran.status, 0, ran.stderr);
      // The alert is counted, then shipped: the spool drains to Central.
      const m: Exposition = await waitFor('the alert counted and shipped', async () => {
        const e = await scrape(url, bearer);
        return e.sum('gatehouse_sensor_alerts_total') >= 1 && e.value('gatehouse_shipper_events_total', { outcome: 'sent' }) >= 1 && e.value('gatehouse_shipper_pending_events') === 0 ? e : undefined;
      });
      assert.ok(m.value('gatehouse_sensor_events_total', { type: 'execve' }) >= 1, 'the container execs were seen');
      assert.ok(m.sum('gatehouse_sensor_events_total') > m.value('gatehouse_sensor_events_total', { type: 'execve' }), 'more than one event type');
      assert.ok(m.value('gatehouse_sensor_alerts_total', { priority: 'Warning' }) >= 1, 'Read sensitive file untrusted is a Warning');
      for (const reason of ['kernel', 'queue', 'incomplete']) assert.ok(m.types.has('gatehouse_sensor_dropped_events_total') && m.samples.some((s) => s.name === 'gatehouse_sensor_dropped_events_total' && s.labels.reason === reason), `drops by ${reason}`);
      assert.equal(m.value('gatehouse_shipper_push_failures_total'), 0);
      assert.ok(!m.samples.some((s) => Object.values(s.labels).some((v) => v.includes(cname))), 'no container names as labels');

      const c = await scrape(`${central.url}/metrics`, { headers: { authorization: `Bearer ${central.adminToken}` } });
      const shipped = m.value('gatehouse_shipper_events_total', { outcome: 'sent' });
      assert.equal(c.value('gatehouse_central_ingest_events_total', { type: 'alert' }), shipped, 'Central received what the sensor sent');
      assert.ok(c.value('gatehouse_central_ingest_batches_total', { kind: 'events' }) >= 1);
      child.kill('SIGINT');
      assert.equal(await closed, 0, err);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      spawnSync('podman', ['rm', '-f', cname], { stdio: 'ignore' });
    }
  });
});
