/**
 * End to end with the real sensor (bpftrace) and real podman (runc) containers: `gatehouse
 * sensor --baseline-dir DIR --learn 20s` learns two replicas of a pod-labelled workload,
 * locks the shared baseline when the window ends, and an injected deviation (a binary
 * dropped into /tmp and run through an exec into one replica) raises a gatehouse-anomaly
 * alert that explains itself; the stored baseline then shows the deviation and `baseline
 * accept` takes it in. A corrupt baseline file stops the sensor with a one-line error before
 * it starts, and the file is kept.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { hasCommand, missing } from '../helpers/components.js';
import { runCli } from '../helpers/cli.js';

const IMAGE = 'localhost/gatehouse-sensor-test:1';
const BIN = fileURLToPath(new URL('../../bin/gatehouse.mjs', import.meta.url));
const PODMAN_RUN = ['run', '-d', '--runtime', 'runc', '--ulimit', 'nofile=20000:20000', '--ulimit', 'nproc=4096:4096'];
const WORKLOAD = 'k8s:default/gh-e2e/Deployment/web/app';

const isRoot = process.getuid?.() === 0;
const imageReady = hasCommand('podman') && spawnSync('podman', ['image', 'exists', IMAGE]).status === 0;
const skip =
  missing(isRoot, 'the sensor needs root') ||
  missing(hasCommand('bpftrace'), 'bpftrace not installed (.ci/setup.d/65-bpftrace.sh)') ||
  missing(imageReady, `podman image ${IMAGE} missing (.ci/setup.d/65-bpftrace.sh)`);

type Json = Record<string, unknown>;
const runId = Math.random().toString(36).slice(2, 8);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function readJsonl(path: string): Json[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Json);
}

describe('baselines on the real sensor', { skip, timeout: 600_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'gh-baseline-e2e-'));
  const baselineDir = join(dir, 'baselines');
  const alertsFile = join(dir, 'alerts.jsonl');
  const names = [`gh-bl-${runId}-a`, `gh-bl-${runId}-b`];
  let stderr = '';
  let exitCode: number | null = null;
  let alerts: Json[] = [];

  before(async () => {
    const child = spawn(process.execPath, [BIN, 'sensor', '--baseline-dir', baselineDir, '--learn', '20s', '--output', alertsFile, '--exit-code', '3'], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, GATEHOUSE_FROM_SOURCE: '1' },
    });
    const closed = new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    for (let i = 0; i < 600 && !stderr.includes('sensor ready'); i++) {
      if (child.exitCode !== null) throw new Error(`sensor exited before ready: ${stderr}`);
      await sleep(500);
    }
    assert.match(stderr, /sensor ready/);
    // two replicas of one Deployment, labelled as the CRI labels pods' containers
    const pods = ['web-7c9d5b6f48-x2k9p', 'web-7c9d5b6f48-m4q7z'];
    names.forEach((name, i) => {
      const r = spawnSync('podman', [...PODMAN_RUN, '--name', name,
        '--label', `io.kubernetes.pod.name=${pods[i]}`, '--label', 'io.kubernetes.pod.namespace=gh-e2e', '--label', 'io.kubernetes.container.name=app',
        IMAGE, '/bin/sh', '-c', 'while true; do /bin/cat /etc/hostname >/dev/null; /bin/ls /tmp >/dev/null; /bin/sleep 1; done'], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
    });
    // the window is 20 s of the workload's activity; it locks at the first event after it
    await sleep(26_000);
    const inj = spawnSync('podman', ['exec', names[0]!, '/bin/sh', '-c', '/bin/cp /bin/busybox /tmp/kworkerd; /tmp/kworkerd true; true'], { encoding: 'utf8' });
    assert.equal(inj.status, 0, inj.stderr);
    for (let i = 0; i < 40 && !readJsonl(alertsFile).some((a) => a.source === 'gatehouse-anomaly'); i++) await sleep(500);
    await sleep(1500);
    child.kill('SIGINT');
    exitCode = await closed;
    alerts = readJsonl(alertsFile);
  });

  after(() => {
    spawnSync('podman', ['rm', '-f', '-t', '0', ...names], { stdio: 'ignore' });
    if (!process.env.GATEHOUSE_SENSOR_KEEP) rmSync(dir, { recursive: true, force: true });
    else console.error(`# kept in ${dir}`);
  });

  it('learned one shared baseline for both replicas and locked it after the window', async () => {
    assert.equal(exitCode, 3, stderr);
    assert.match(stderr, /anomalies \(\d+ workloads, [1-9]\d* locked baselines\)/);
    const show = await runCli(['baseline', 'show', WORKLOAD, '--baseline-dir', baselineDir, '--format', 'json']);
    assert.equal(show.code, 0, show.stderr);
    const b = JSON.parse(show.stdout) as { state: string; replicas: string[]; channels: { exec: { counts: Record<string, number> } } };
    assert.equal(b.state, 'locked');
    assert.equal(b.replicas.length, 2, 'both replicas fed the one baseline');
    assert.ok((b.channels.exec.counts['/bin/cat'] ?? 0) >= 10, JSON.stringify(Object.keys(b.channels.exec.counts)));
  });

  it('an injected deviation raised an anomaly alert that explains itself', () => {
    const mine = alerts.filter((a) => a.source === 'gatehouse-anomaly');
    assert.ok(mine.length >= 1, `no anomaly alert; stderr: ${stderr}`);
    const drop = mine.find((a) => (a.output_fields as Json)['proc.exepath'] === '/tmp/kworkerd');
    assert.ok(drop, mine.map((a) => a.output).join('\n'));
    const f = drop.output_fields as Json;
    assert.equal(drop.rule, 'Anomalous process execution');
    assert.equal(f['workload.id'], WORKLOAD);
    assert.equal(f['container.name'], names[0]);
    assert.ok(Number(f['anomaly.score']) >= Number(f['anomaly.threshold']));
    assert.match(String(drop.output), /process \/tmp\/kworkerd .* is new for workload k8s:default\/gh-e2e\/Deployment\/web\/app \(score [\d.]+ bits >= threshold [\d.]+; compared with the baseline of \d+ events locked .*: nothing like "class=writable-dir"/);
    // nothing from the untouched replica
    assert.deepEqual(mine.filter((a) => (a.output_fields as Json)['container.name'] === names[1]).map((a) => a.output), []);
  });

  it('the stored deviation can be accepted into the baseline', async () => {
    const show = await runCli(['baseline', 'show', WORKLOAD, '--baseline-dir', baselineDir]);
    assert.match(show.stdout, /exec:\/tmp\/kworkerd \[true\]/);
    const acc = await runCli(['baseline', 'accept', WORKLOAD, '--baseline-dir', baselineDir]);
    assert.equal(acc.code, 0, acc.stderr);
    const after = JSON.parse((await runCli(['baseline', 'show', WORKLOAD, '--baseline-dir', baselineDir, '--format', 'json'])).stdout) as { deviations: Json; channels: { exec: { counts: Record<string, number> } } };
    assert.deepEqual(after.deviations, {});
    assert.ok((after.channels.exec.counts['/tmp/kworkerd'] ?? 0) >= 1);
  });
});

describe('sensor --baseline-dir bad input', () => {
  it('a corrupt baseline file stops the sensor before it starts, with one line, and is kept', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gh-baseline-bad-'));
    const file = join(dir, 'default_shop_Deployment_web_nginx.0123456789ab.json');
    writeFileSync(file, '{"kind":"Baseline","version":1,"workload":');
    const r = await runCli(['sensor', '--baseline-dir', dir, '--bpftrace', '/nonexistent/bpftrace']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /baseline file .*0123456789ab\.json is corrupt: not valid JSON/);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.equal(readFileSync(file, 'utf8'), '{"kind":"Baseline","version":1,"workload":');
    const learn = await runCli(['sensor', '--baseline-dir', dir, '--learn', 'soon']);
    assert.match(learn.stderr, /--learn must look like 90s, 15m, 1h or 1h30m, got 'soon'/);
    const alone = await runCli(['sensor', '--events', '-', '--learn', '10m']);
    assert.match(alone.stderr, /--learn sets the observation window of baselines: give --baseline-dir DIR too/);
    rmSync(dir, { recursive: true, force: true });
  });
});
