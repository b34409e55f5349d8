/**
 * End to end with two real sensors (bpftrace) as two nodes, real podman (runc) containers and
 * a real Central (SQLite, HTTP on 127.0.0.1): each `gatehouse sensor --baseline-dir DIR
 * --server URL --node-name N --cgroup-parent P` sees one replica of a pod-labelled Deployment
 * (its node's), and both learn into the one baseline Central keeps; `gatehouse baseline lock`
 * against Central (not the sensors' files) locks it, both running sensors adopt the lock at
 * their next sync (their local files say locked); a deviation injected into one replica raises
 * an anomaly alert on that node only, Central shows it from that host, and `gatehouse baseline
 * accept` against Central clears it on that sensor.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, rmdirSync } from 'node:fs';
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
const NODES = ['node-a', 'node-b'] as const;

const isRoot = process.getuid?.() === 0;
const imageReady = hasCommand('podman') && spawnSync('podman', ['image', 'exists', IMAGE]).status === 0;
const skip =
  missing(isRoot, 'the sensor needs root') ||
  missing(hasCommand('bpftrace'), 'bpftrace not installed (.ci/setup.d/65-bpftrace.sh)') ||
  missing(imageReady, `podman image ${IMAGE} missing (.ci/setup.d/65-bpftrace.sh)`);

type Json = Record<string, any>;
const runId = Math.random().toString(36).slice(2, 8);
const parentOf = (node: string) => `/gh-blc-${runId}-${node}`;

/** rmdir of the node parents in every hierarchy (podman's cgroupfs manager made them; children first). */
function removeCgroupParents(): void {
  for (const h of readdirSync('/sys/fs/cgroup')) {
    for (const node of NODES) {
      const rm = (d: string) => {
        try {
          for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) rm(join(d, e.name));
          rmdirSync(d);
        } catch {
          // gone already, or not a directory of this hierarchy
        }
      };
      rm(join('/sys/fs/cgroup', h, parentOf(node)));
    }
  }
}

interface Sensor { node: string; dir: string; alerts: string; child: ReturnType<typeof spawn>; stderr: () => string; closed: Promise<number | null> }
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

describe('baselines kept by Central, on two real sensors', { skip, timeout: 600_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'gh-baseline-central-'));
  const names = [`gh-blc-${runId}-a`, `gh-blc-${runId}-b`];
  let central: TestCentral;
  let env: Record<string, string>;
  const sensors: Sensor[] = [];

  before(async () => {
    central = await startTestCentral();
    env = { GATEHOUSE_SERVER: central.url, GATEHOUSE_TOKEN: central.adminToken };
    const sensorToken = await central.token('sensor');
    for (const node of NODES) {
      const baselineDir = join(dir, node, 'baselines');
      const alerts = join(dir, node, 'alerts.jsonl');
      const child = spawn(process.execPath, [BIN, 'sensor', '--baseline-dir', baselineDir, '--learn', '10m', '--baseline-sync', '2s', '--output', alerts,
        '--server', central.url, '--spool-dir', join(dir, node, 'spool'), '--node-name', node, '--cgroup-parent', parentOf(node)], {
        stdio: ['ignore', 'ignore', 'pipe'],
        env: { ...process.env, GATEHOUSE_FROM_SOURCE: '1', GATEHOUSE_TOKEN: sensorToken },
      });
      let err = '';
      child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
      sensors.push({ node, dir: baselineDir, alerts, child, stderr: () => err, closed: new Promise((resolve) => child.on('close', (c) => resolve(c))) });
    }
    for (const s of sensors) {
      for (let i = 0; i < 600 && !s.stderr().includes('sensor ready'); i++) {
        if (s.child.exitCode !== null) throw new Error(`sensor ${s.node} exited before ready: ${s.stderr()}`);
        await sleep(500);
      }
      assert.match(s.stderr(), /sensor ready/);
    }
    // one replica per node, each below its node's cgroup parent
    const pods = ['web-7c9d5b6f48-x2k9p', 'web-7c9d5b6f48-m4q7z'];
    names.forEach((name, i) => {
      const r = spawnSync('podman', [...PODMAN_RUN, '--name', name, '--cgroup-parent', parentOf(NODES[i]!),
        '--label', `io.kubernetes.pod.name=${pods[i]}`, '--label', 'io.kubernetes.pod.namespace=gh-central', '--label', 'io.kubernetes.container.name=app',
        IMAGE, '/bin/sh', '-c', 'while true; do /bin/cat /etc/hostname >/dev/null; /bin/ls /tmp >/dev/null; /bin/sleep 1; done'], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
    });
  });

  after(async () => {
    spawnSync('podman', ['rm', '-f', '-t', '0', ...names], { stdio: 'ignore' });
    for (const s of sensors) {
      if (s.child.exitCode === null) {
        s.child.kill('SIGINT');
        await s.closed;
      }
    }
    removeCgroupParents();
    await central?.close();
    if (!process.env.GATEHOUSE_SENSOR_KEEP) rmSync(dir, { recursive: true, force: true });
  });

  it('both nodes learn into the one baseline Central keeps; a lock via Central reaches both; a deviation alerts on its node and is accepted via Central', async () => {
    const learned = await until('both nodes in Central\'s baseline', async () => {
      const r = await central.api('GET', `/api/v1/baselines/${encodeURIComponent(WORKLOAD)}`);
      return r.status === 200 && r.body.hosts.length === 2 && r.body.replicas.length === 2 && (r.body.items.exec as Json[]).some((i) => i.item.startsWith('/bin/cat ')) ? r.body : undefined;
    });
    assert.equal(learned.state, 'learning');
    assert.deepEqual(learned.hosts.map((h: Json) => h.host), [...NODES]);

    const lock = await runCli(['baseline', 'lock', WORKLOAD], { env });
    assert.equal(lock.code, 0, lock.stderr);
    assert.match(lock.stdout, /locked k8s:default\/gh-central\/Deployment\/web\/app in Central/);
    for (const s of sensors) await until(`${s.node} to adopt the lock`, () => (new BaselineStore(s.dir).load(WORKLOAD)?.state === 'locked' ? true : undefined), 30);

    const inj = spawnSync('podman', ['exec', names[0]!, '/bin/sh', '-c', '/bin/cp /bin/busybox /tmp/kworkerd; /tmp/kworkerd true; true'], { encoding: 'utf8' });
    assert.equal(inj.status, 0, inj.stderr);
    const [a, b] = sensors as [Sensor, Sensor];
    const alert = await until('the anomaly alert', () => readJsonl(a.alerts).find((x) => x.source === 'gatehouse-anomaly' && x.output_fields['proc.exepath'] === '/tmp/kworkerd'), 30);
    assert.equal(alert.rule, 'Anomalous process execution');
    assert.equal(alert.output_fields['workload.id'], WORKLOAD);
    assert.equal(alert.hostname, 'node-a');
    assert.match(alert.output, /is new for workload k8s:default\/gh-central\/Deployment\/web\/app \(score [\d.]+ bits >= threshold/);

    const item = String(alert.output_fields['anomaly.item']);
    const shown = await until('the deviation in Central', async () => {
      const r = await central.api('GET', `/api/v1/baselines/${encodeURIComponent(WORKLOAD)}`);
      return (r.body.deviations as Json[]).find((d) => d.item === item);
    }, 30);
    assert.deepEqual(shown.hosts, ['node-a']);
    assert.equal(shown.replicas.length, 1, 'seen in the one replica it ran in');

    const acc = await runCli(['baseline', 'accept', WORKLOAD, item], { env });
    assert.equal(acc.code, 0, acc.stderr);
    await until('node-a to drop the accepted deviation', () => {
      const local = new BaselineStore(a.dir).load(WORKLOAD);
      return local && !local.deviations.has(item) && local.count('exec', item.slice('exec:'.length)) > 0 ? true : undefined;
    }, 30);
    const left = (await central.api('GET', `/api/v1/baselines/${encodeURIComponent(WORKLOAD)}`)).body.deviations as Json[];
    assert.ok(!left.some((d) => d.item === item), 'the accepted item is no deviation in Central');
    const injected = left.filter((d) => /kworkerd|busybox/.test(d.item));
    assert.ok(injected.length > 0 && injected.every((d) => d.hosts.join() === 'node-a'), `the other steps of the injection stay, from node-a only: ${JSON.stringify(left.map((d) => [d.item, d.hosts]))}`);

    for (const s of sensors) {
      s.child.kill('SIGINT');
      assert.equal(await s.closed, 0, s.stderr());
      assert.doesNotMatch(s.stderr(), /baseline sync with Central failed/);
    }
    assert.deepEqual(readJsonl(b.alerts).filter((x) => x.source === 'gatehouse-anomaly').map((x) => x.output), [], 'nothing on the untouched node');
  });
});
