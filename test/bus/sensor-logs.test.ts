/**
 * The sensor's operational lines are pino JSON (src/util/log.ts): start, ready, the shipper's
 * warnings and the stop summary, each `{level, time, component: sensor, msg, …}` on stderr,
 * and the Central token it pushes with never reaches them — here a token Central refuses, so
 * the refusal is logged while a podman container reads /etc/shadow.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { hasCommand, missing } from '../helpers/components.js';
import { startCentralCli, tempDir, waitFor } from './helpers.js';

const bin = fileURLToPath(new URL('../../bin/gatehouse.mjs', import.meta.url));
const SENSOR_IMAGE = 'localhost/gatehouse-sensor-test:1';
const FALCO_RULES = fileURLToPath(new URL('../../../shared/reference/falco/rules/falco_rules.yaml', import.meta.url));
const skip = missing(process.getuid?.() === 0, 'the sensor needs root')
  || missing(hasCommand('bpftrace'), 'bpftrace not installed (.ci/setup.d/65-bpftrace.sh)')
  || missing(hasCommand('podman') && spawnSync('podman', ['image', 'exists', SENSOR_IMAGE]).status === 0, `podman image ${SENSOR_IMAGE} missing (.ci/setup.d/65-bpftrace.sh)`)
  || missing(existsSync(FALCO_RULES), `Falco rules missing at ${FALCO_RULES}`);

test('gatehouse sensor: JSON log lines on stderr, the refused push logged, the token nowhere', { skip, timeout: 600_000 }, async () => {
  const central = await startCentralCli([]);
  const token = `ghc_${randomBytes(32).toString('base64url')}`; // not one of Central's: the push is refused
  const dir = tempDir('sensor-logs');
  const child = spawn(process.execPath, [bin, 'sensor', '--rules', FALCO_RULES, '--opens', 'rules', '--format', 'json', '--output', join(dir, 'alerts.jsonl'), '--server', central.url, '--spool-dir', join(dir, 'spool')], {
    env: { ...process.env, GATEHOUSE_FROM_SOURCE: '1', GATEHOUSE_TOKEN: token, GATEHOUSE_SERVER: undefined, GATEHOUSE_CA: undefined },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const closed = new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)));
  const cname = `gh-sensor-logs-${randomBytes(4).toString('hex')}`;
  try {
    await waitFor('the sensor ready', () => {
      if (child.exitCode !== null) throw new Error(`sensor exited: ${err}`);
      return err.includes('"msg":"sensor ready"');
    }, 300_000, 500);
    const ran = spawnSync('podman', ['run', '--runtime', 'runc', '--ulimit', 'nofile=20000:20000', '--ulimit', 'nproc=4096:4096', '--name', cname, SENSOR_IMAGE, 'sh', '-c', '/bin/cat /etc/shadow >/dev/null; /bin/true'], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(ran.status, 0, ran.stderr);
    await waitFor('the refused push logged', () => /"level":"warn".*push to Central.*401/.test(err), 60_000, 500);
    child.kill('SIGINT');
    assert.equal(await closed, 0, err);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    spawnSync('podman', ['rm', '-f', cname], { stdio: 'ignore' });
    await central.stop();
  }
  // Node's own process warnings (`(node:PID) …`) are the runtime's, not the sensor's log.
  const lines = err.split('\n').filter((l) => l && !/^\((node:\d+|Use `node)/.test(l)).map((l) => JSON.parse(l) as { level: string; time: string; component: string; msg: string });
  assert.ok(lines.every((l) => ['info', 'warn', 'error'].includes(l.level) && l.component === 'sensor' && !Number.isNaN(Date.parse(l.time))), err);
  assert.deepEqual(lines.filter((l) => l.level === 'info').map((l) => l.msg.replace(/:.*/s, '')), ['sensor starting (attaching probes)…', 'sensor ready', 'sensor stopped']);
  assert.ok(!err.includes(token) && !err.includes(token.slice(4)), 'the token is never logged');
});
