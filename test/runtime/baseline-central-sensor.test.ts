/**
 * End to end with the real sensor (bpftrace), real podman (runc) containers and a real Central
 * (SQLite, HTTP on 127.0.0.1): `gatehouse sensor --baseline-dir DIR --server URL` learns two
 * replicas of a pod-labelled workload into one baseline kept by Central; `gatehouse baseline
 * lock` against Central (not the sensor's files) locks it, the running sensor adopts the lock
 * at its next sync (its local file says locked), an injected deviation raises an anomaly alert,
 * and Central shows that deviation from this host.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { hasCommand, missing } from '../helpers/components.js';
import { runCli } from '../helpers/cli.js';
import { startTestCentral, type TestCentral } from '../helpers/central.js';
import { BaselineStore } from '../../src/runtime/baseline/index.js';

const IMAGE = 'localhost/gatehouse-sensor-test:1';
const BIN = fileURLToPath(new URL('../../bin/gatehouse.mjs', import.meta.url));
const PODMAN_RUN = ['run', '-d', '--runtime', 'runc', '--ulimit', 'nofile=20000:20000', '--ulimit', 'nproc=4096:4096'];
const WORKLOAD = 'k8s:default/gh-central/Deployment/web/app';
const HOST = 'node-e2e';

const isRoot = process.getuid?.() === 0;
const imageReady = hasCommand('podman') && spawnSync('podman', ['image', 'exists', IMAGE]).status === 0;
const skip =
  missing(isRoot, 'the sensor needs root') ||
  missing(hasCommand('bpftrace'), 'bpftrace not installed (.ci/setup.d/65-bpftrace.sh)') ||
  missing(imageReady, `podman image ${IMAGE} missing (.ci/setup.d/65-bpftrace.sh)`);

type Json = Record<string, any>;
const runId = Math.random().toString(36).slice(2, 8);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function readJsonl(path: string): Json[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Json);
}

async function until<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, tries = 60): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const v = await fn();
    if (v !== undefined) return v;
    await sleep(1000);
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('baselines kept by Central, on the real sensor', { skip, timeout: 600_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'gh-baseline-central-'));
  const baselineDir = join(dir, 'baselines');
  const alertsFile = join(dir, 'alerts.jsonl');
  const names = [`gh-blc-${runId}-a`, `gh-blc-${runId}-b`];
  let central: TestCentral;
  let stderr = '';
  let child: ReturnType<typeof spawn> | undefined;
  let closed: Promise<number | null>;
  let env: Record<string, string>;

  before(async () => {
    central = await startTestCentral();
    env = { GATEHOUSE_SERVER: central.url, GATEHOUSE_TOKEN: central.adminToken };
    const sensorToken = await central.token('sensor');
    child = spawn(process.execPath, [BIN, 'sensor', '--baseline-dir', baselineDir, '--learn', '10m', '--baseline-sync', '2s', '--output', alertsFile,
      '--server', central.url, '--spool-dir', join(dir, 'spool'), '--node-name', HOST], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, GATEHOUSE_FROM_SOURCE: '1', GATEHOUSE_TOKEN: sensorToken },
    });
    closed = new Promise<number | null>((resolve) => child!.on('close', (c) => resolve(c)));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    for (let i = 0; i < 600 && !stderr.includes('sensor ready'); i++) {
      if (child.exitCode !== null) throw new Error(`sensor exited before ready: ${stderr}`);
      await sleep(500);
    }
    assert.match(stderr, /sensor ready/);
    const pods = ['web-7c9d5b6f48-x2k9p', 'web-7c9d5b6f48-m4q7z'];
    names.forEach((name, i) => {
      const r = spawnSync('podman', [...PODMAN_RUN, '--name', name,
        '--label', `io.kubernetes.pod.name=${pods[i]}`, '--label', 'io.kubernetes.pod.namespace=gh-central', '--label', 'io.kubernetes.container.name=app',
        IMAGE, '/bin/sh', '-c', 'while true; do /bin/cat /etc/hostname >/dev/null; /bin/ls /tmp >/dev/null; /bin/sleep 1; done'], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
    });
  });

  after(async () => {
    spawnSync('podman', ['rm', '-f', '-t', '0', ...names], { stdio: 'ignore' });
    if (child && child.exitCode === null) {
      child.kill('SIGINT');
      await closed;
    }
    await central?.close();
    if (!process.env.GATEHOUSE_SENSOR_KEEP) rmSync(dir, { recursive: true, force: true });
  });

  it('learns both replicas into the one baseline Central keeps; a lock via Central reaches the sensor; a deviation alerts and shows in Central', async () => {
    const learned = await until('the baseline in Central', async () => {
      const r = await central.api('GET', `/api/v1/baselines/${encodeURIComponent(WORKLOAD)}`);
      return r.status === 200 && r.body.replicas.length === 2 && (r.body.items.exec as Json[]).some((i) => i.item.startsWith('/bin/cat ')) ? r.body : undefined;
    });
    assert.equal(learned.state, 'learning');
    assert.deepEqual(learned.hosts.map((h: Json) => h.host), [HOST]);

    const lock = await runCli(['baseline', 'lock', WORKLOAD], { env });
    assert.equal(lock.code, 0, lock.stderr);
    assert.match(lock.stdout, /locked k8s:default\/gh-central\/Deployment\/web\/app in Central/);
    await until('the sensor to adopt the lock', () => (new BaselineStore(baselineDir).load(WORKLOAD)?.state === 'locked' ? true : undefined), 30);

    const inj = spawnSync('podman', ['exec', names[0]!, '/bin/sh', '-c', '/bin/cp /bin/busybox /tmp/kworkerd; /tmp/kworkerd true; true'], { encoding: 'utf8' });
    assert.equal(inj.status, 0, inj.stderr);
    const alert = await until('the anomaly alert', () => readJsonl(alertsFile).find((a) => a.source === 'gatehouse-anomaly' && a.output_fields['proc.exepath'] === '/tmp/kworkerd'), 30);
    assert.equal(alert.rule, 'Anomalous process execution');
    assert.equal(alert.output_fields['workload.id'], WORKLOAD);
    assert.match(alert.output, /is new for workload k8s:default\/gh-central\/Deployment\/web\/app \(score [\d.]+ bits >= threshold/);

    const item = String(alert.output_fields['anomaly.item']);
    const shown = await until('the deviation in Central', async () => {
      const r = await central.api('GET', `/api/v1/baselines/${encodeURIComponent(WORKLOAD)}`);
      return (r.body.deviations as Json[]).find((d) => d.item === item);
    }, 30);
    assert.deepEqual(shown.hosts, [HOST]);
    assert.equal(shown.replicas.length, 1, 'seen in the one replica it ran in');

    child!.kill('SIGINT');
    const code = await closed;
    assert.equal(code, 0, stderr);
    assert.doesNotMatch(stderr, /baseline sync with Central failed/);
  });
});
