/**
 * Policy from observation with real parts end to end: real podman (runc) containers that the
 * real sensor (bpftrace) watches, labelled as Kubernetes pods the way the kubelet labels
 * their containers (io.kubernetes.pod.namespace / .name): curl in a `web` pod to nginx, and
 * redis-cli in a `worker` pod to redis. `gatehouse sensor --flows FILE` writes the flows;
 * `gatehouse netpol generate MANIFESTS --observed --flows FILE` turns them into
 * NetworkPolicies; `netpol analyze` of the manifests with those policies must list exactly
 * the two connections that happened (plus nothing for the workload that never talked).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { stringify } from 'yaml';
import { runCli } from '../helpers/cli.js';
import { hasCommand, missing } from '../helpers/components.js';

const IMAGE = 'localhost/gatehouse-net:1';
const BIN = fileURLToPath(new URL('../../bin/gatehouse.mjs', import.meta.url));
const PODMAN_RUN = ['run', '--runtime', 'runc', '--ulimit', 'nofile=20000:20000', '--ulimit', 'nproc=4096:4096'];
const isRoot = process.getuid?.() === 0;
const imageReady = hasCommand('podman') && spawnSync('podman', ['image', 'exists', IMAGE]).status === 0;
const skip =
  missing(isRoot, 'the sensor needs root') ||
  missing(hasCommand('bpftrace'), 'bpftrace not installed (.ci/setup.d/65-bpftrace.sh)') ||
  missing(imageReady, `podman image ${IMAGE} missing (.ci/setup.d/41-net-image.sh)`);

const runId = Math.random().toString(36).slice(2, 8);
const net = `gh-obs-${runId}`;
const NS = `obs-${runId}`;
const name = (n: string) => `gh-obs-${n}-${runId}`;
/** Pod names as controllers make them: Deployment <name>-<hash>-<id>, StatefulSet <name>-<ordinal>. */
const PODS: Record<string, string> = { web: 'web-5d8f7c9b4-x7k2p', nginx: 'nginx-6b7f9c5d4-abcde', worker: 'worker-7c9d8b6f5-qwert', redis: 'redis-0' };
const podLabels = (n: string) => ['--label', `io.kubernetes.pod.namespace=${NS}`, '--label', `io.kubernetes.pod.name=${PODS[n]}`];

function podman(args: string[], timeout = 60_000): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('podman', args, { encoding: 'utf8', timeout });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function ipOf(container: string): string {
  const ip = podman(['inspect', '--format', `{{(index .NetworkSettings.Networks "${net}").IPAddress}}`, container]).stdout.trim();
  assert.match(ip, /^\d+\.\d+\.\d+\.\d+$/, `no address for ${container}`);
  return ip;
}

async function waitFor(what: string, check: () => boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

function manifests(): string {
  const docs: Record<string, any>[] = [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } }];
  const workload = (kind: string, n: string, port?: number) => {
    const labels = { app: n };
    docs.push({
      apiVersion: 'apps/v1', kind, metadata: { name: n, namespace: NS },
      spec: { selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [{ name: n, image: IMAGE, ...(port ? { ports: [{ containerPort: port }] } : {}) }] } } },
    });
  };
  workload('Deployment', 'web');
  workload('Deployment', 'nginx', 80);
  workload('Deployment', 'worker');
  workload('StatefulSet', 'redis', 6379);
  workload('Deployment', 'idle');
  return docs.map((d) => stringify(d)).join('---\n');
}

describe('policies from the real sensor\'s flows of real containers', { skip, timeout: 600_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'gh-obs-'));
  const flowsFile = join(dir, 'flows.jsonl');
  const manifestFile = join(dir, 'manifests.yaml');
  let sensorErr = '';
  let sensorExit: number | null = null;

  before(async () => {
    writeFileSync(manifestFile, manifests());
    assert.equal(podman(['network', 'create', net]).status, 0);
    const server = (n: string, cmd: string[]) => assert.equal(podman([...PODMAN_RUN, '-d', '--network', net, ...podLabels(n), '--name', name(n), IMAGE, ...cmd]).status, 0, `${n} did not start`);
    server('nginx', ['nginx', '-g', 'daemon off;']);
    server('redis', ['redis-server', '--protected-mode', 'no', '--save', '']);
    const nginxIp = ipOf(name('nginx'));
    const redisIp = ipOf(name('redis'));
    await waitFor('redis', () => podman(['exec', name('redis'), 'redis-cli', 'ping']).stdout.includes('PONG'));

    const child = spawn(process.execPath, [BIN, 'sensor', '--flows', flowsFile, '--flow-interval', '5s'], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, GATEHOUSE_FROM_SOURCE: '1' } });
    const closed = new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`sensor not ready after 300 s: ${sensorErr}`)), 300_000);
      child.stderr.on('data', (d: Buffer) => {
        sensorErr += d.toString();
        if (sensorErr.includes('sensor ready')) {
          clearTimeout(timer);
          resolve();
        }
      });
      void closed.then((c) => reject(new Error(`sensor exited (${c}) before ready: ${sensorErr}`)));
    });
    const client = (n: string, cmd: string[]) => podman([...PODMAN_RUN, '--rm', '--network', net, ...podLabels(n), '--name', name(n), IMAGE, ...cmd]);
    assert.equal(client('web', ['curl', '-sS', '-o', '/dev/null', `http://${nginxIp}/`]).status, 0);
    assert.equal(client('worker', ['redis-cli', '-h', redisIp, 'set', 'k', 'v']).status, 0);
    await new Promise((r) => setTimeout(r, 7_000));
    child.kill('SIGINT');
    sensorExit = await closed;
  });

  after(() => {
    podman(['rm', '-f', '-t', '0', name('nginx'), name('redis')]);
    podman(['network', 'rm', '-f', net]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('the sensor wrote the pods\' flows', () => {
    assert.equal(sensorExit, 0, sensorErr);
    const mine = readFileSync(flowsFile, 'utf8').split('\n').filter((l) => l.includes(`"namespace":"${NS}"`));
    assert.ok(mine.length >= 4, `flows of the test pods: ${mine.join('\n')}`);
  });

  it('the generated policies allow exactly what the pods did', async () => {
    const policies = join(dir, 'policies.yaml');
    const gen = await runCli(['netpol', 'generate', manifestFile, '--observed', '--flows', flowsFile, '--output', policies]);
    assert.equal(gen.code, 0, gen.stderr);
    assert.match(gen.stderr, new RegExp(`no connection observed for ${NS}/idle\\[Deployment\\]:`));
    assert.ok(existsSync(policies));
    const json = await runCli(['netpol', 'generate', manifestFile, '--observed', '--flows', flowsFile, '--format', 'json']);
    assert.equal(json.code, 0, json.stderr);
    const doc = JSON.parse(json.stdout);
    assert.deepEqual(doc.intents.map((i: any) => `${i.src} => ${i.dst} : ${i.connections}`).sort(), [
      `${NS}/web[Deployment] => ${NS}/nginx[Deployment] : TCP 80`,
      `${NS}/worker[Deployment] => ${NS}/redis[StatefulSet] : TCP 6379`,
    ]);
    assert.equal(doc.simulation.counts.cutObserved, 0);
    const analyzed = await runCli(['netpol', 'analyze', manifestFile, policies]);
    assert.equal(analyzed.code, 0, analyzed.stderr);
    assert.deepEqual(analyzed.stdout.split('\n').filter(Boolean).sort(), [
      `${NS}/web[Deployment] => ${NS}/nginx[Deployment] : TCP 80`,
      `${NS}/worker[Deployment] => ${NS}/redis[StatefulSet] : TCP 6379`,
    ]);
  });
});
