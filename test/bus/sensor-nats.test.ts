/**
 * `gatehouse sensor --nats` for real (root, bpftrace, a podman container reading /etc/shadow):
 * its alerts go through its disk spool to JetStream, Central's bus consumer stores them, and
 * at the sensor's stop Central holds every alert line the sensor wrote, once, under the
 * sensor's cluster.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { busConsumerJob } from '../../src/central/bus/consumer.js';
import { hasCommand, missing } from '../helpers/components.js';
import { startTestCentral } from '../helpers/central.js';
import { natsSkip, startNats, tempDir, waitFor } from './helpers.js';

const bin = fileURLToPath(new URL('../../bin/gatehouse.mjs', import.meta.url));
const SENSOR_IMAGE = 'localhost/gatehouse-sensor-test:1';
const FALCO_RULES = fileURLToPath(new URL('../../../shared/reference/falco/rules/falco_rules.yaml', import.meta.url));
const skip = natsSkip()
  || missing(process.getuid?.() === 0, 'the sensor needs root')
  || missing(hasCommand('bpftrace'), 'bpftrace not installed (.ci/setup.d/65-bpftrace.sh)')
  || missing(hasCommand('podman') && spawnSync('podman', ['image', 'exists', SENSOR_IMAGE]).status === 0, `podman image ${SENSOR_IMAGE} missing (.ci/setup.d/65-bpftrace.sh)`)
  || missing(existsSync(FALCO_RULES), `Falco rules missing at ${FALCO_RULES}`);
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

test('gatehouse sensor --nats: alerts reach Central through JetStream; at its stop Central holds every alert line it wrote', { skip, timeout: 600_000 }, async () => {
  const nats = await startNats();
  const central = await startTestCentral();
  const abort = new AbortController();
  const consumer = busConsumerJob({ url: nats.url })(central.ctx, abort.signal, { log: quiet });
  const dir = tempDir('sensor');
  const alertsFile = join(dir, 'alerts.jsonl');
  const child = spawn(process.execPath, [bin, 'sensor', '--rules', FALCO_RULES, '--opens', 'rules', '--format', 'json', '--output', alertsFile, '--cluster', 'bus-sensor', '--nats', nats.url, '--spool-dir', join(dir, 'spool')], {
    env: { ...process.env, GATEHOUSE_FROM_SOURCE: '1', GATEHOUSE_SERVER: undefined, GATEHOUSE_TOKEN: undefined },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const closed = new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)));
  const cname = `gh-bus-sensor-${randomBytes(4).toString('hex')}`;
  try {
    await waitFor('the sensor ready', () => {
      if (child.exitCode !== null) throw new Error(`sensor exited: ${err}`);
      return err.includes('sensor ready');
    }, 300_000, 500);
    const ran = spawnSync('podman', ['run', '--runtime', 'runc', '--ulimit', 'nofile=20000:20000', '--ulimit', 'nproc=4096:4096', '--name', cname, SENSOR_IMAGE, 'sh', '-c', '/bin/cat /etc/shadow >/dev/null; cd /etc && /bin/sleep 0.5; /bin/true'], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(ran.status, 0, ran.stderr);
    const id = spawnSync('podman', ['inspect', '--format', '{{.Id}}', cname], { encoding: 'utf8' }).stdout.trim().slice(0, 12);
    const alerts = async () => (await central.api('GET', '/api/v1/alerts?source=sensor&limit=1000')).body.items as { id: string; rule: string; cluster: string; finding: { detail: string; resource: { container?: { id: string } } } }[];
    await waitFor('the shadow read alerted in Central through the bus', async () => (await alerts()).some((a) => a.rule === 'Read sensitive file untrusted' && a.finding.resource.container?.id === id), 60_000, 500);
    child.kill('SIGINT');
    assert.equal(await closed, 0, err);
    const written = readFileSync(alertsFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { output: string });
    const stored = await waitFor('every alert line in Central', async () => {
      const s = await alerts();
      return s.length >= written.length && s;
    }, 60_000, 500);
    assert.equal(stored.length, written.length, 'every alert line is in Central, once');
    assert.deepEqual(stored.map((a) => a.finding.detail).sort(), written.map((a) => a.output).sort());
    assert.ok(stored.every((a) => a.cluster === 'bus-sensor'));
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    spawnSync('podman', ['rm', '-f', cname], { stdio: 'ignore' });
    abort.abort();
    await consumer;
    await central.close();
    await nats.stop();
  }
});
