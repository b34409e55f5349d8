/**
 * Issue 19's two-host scenario end to end, every part real: two `gatehouse sensor`
 * processes (bpftrace, Falco's stable rules, --flows) as two nodes (`--node-name node-a|b`,
 * each scoped by `--cgroup-parent` to its own podman containers, which carry the CRI pod
 * labels), one Central over HTTPS (in-process `startCentral`, SQLite), and the real
 * kube-apiserver sending its audit log both ways: the webhook backend to Central's
 * /api/v1/ingest/audit and the log backend to a file Central tails (`--audit-log`); the exec
 * joins once, from whichever delivers it first (both deliveries are checked).
 *
 *   1. an admin execs into pod A through the apiserver (audited; no kubelet answers);
 *   2. a terminal shell in container A (node-a's sensor: Terminal shell in container);
 *   3. that shell connects to the redis in container B (flows from both sensors);
 *   4. a dropped binary runs in container B (node-b's sensor: Drop and execute new binary);
 *   meanwhile a shell in a third container C (node-b) is unrelated.
 * → ONE incident: api + runtime + network layers, both hosts, Execution and Lateral Movement
 * (T1609, T1059, T1210); C's alert is an incident of its own, reported by node-b only.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, fetch as undiciFetch } from 'undici';
import { hasCommand, missing } from '../helpers/components.js';
import { kubeBinariesPresent, kubeRequest } from '../helpers/kube-cluster.js';
import { startAuditCluster, type AuditCluster } from './audit-cluster.js';
import { startCentral, type RunningCentral } from '../../src/central/start.js';
import { createToken } from '../../src/central/store/tokens.js';
import type { AuditFileTail } from '../../src/central/incidents/audit-file.js';
import type { Incident } from '../../src/runtime/incidents/index.js';

const IMAGE = 'localhost/gatehouse-net:1';
const RULES = fileURLToPath(new URL('../../../shared/reference/falco/rules/falco_rules.yaml', import.meta.url));
const BIN = fileURLToPath(new URL('../../bin/gatehouse.mjs', import.meta.url));
const PODMAN_RUN = ['run', '--runtime', 'runc', '--ulimit', 'nofile=20000:20000', '--ulimit', 'nproc=4096:4096'];

const isRoot = process.getuid?.() === 0;
const skip =
  missing(isRoot, 'the sensor needs root') ||
  missing(hasCommand('bpftrace'), 'bpftrace not installed (.ci/setup.d/65-bpftrace.sh)') ||
  missing(hasCommand('podman') && spawnSync('podman', ['image', 'exists', IMAGE]).status === 0, `podman image ${IMAGE} missing (.ci/setup.d/41-net-image.sh)`) ||
  missing(existsSync(RULES), `Falco rules missing at ${RULES}`) ||
  missing(kubeBinariesPresent(), 'kube-apiserver and kine are not built (.ci/setup.d/66-kube.sh)');

const runId = Math.random().toString(36).slice(2, 8);
/**
 * The apiserver's webhook client replaces the configured URL's query with ?timeout=30s, so a
 * webhook URL's ?cluster= is lost and its events count as cluster "default"; the correlator
 * takes an audit ID once, from whichever backend delivers it first. With both backends on,
 * the sensors, the file tail and the webhook must therefore all be "default".
 */
const CLUSTER = 'default';
const NS = 'shop';
const net = `gh-2s-${runId}`;
const cname = (n: string) => `gh-2s-${n}-${runId}`;
const parentOf = (node: string) => `/gh-2s-${runId}-${node}`;
/** Pods as their controllers name them: a Deployment's (web, cache) and a StatefulSet's (db). */
const PODS = { a: 'web-7d9f8b6c5d-x2k4p', b: 'db-0', c: 'cache-5c8d7f9b4-q7w2z' } as const;
const NODE = { a: 'node-a', b: 'node-b', c: 'node-b' } as const;

function podman(args: string[], timeout = 60_000): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('podman', args, { encoding: 'utf8', timeout });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A long-running container of pod `which`, below its node's cgroup parent, with the labels a CRI runtime sets. */
function runPod(which: keyof typeof PODS, cmd: string[]): void {
  const labels = { 'io.kubernetes.pod.name': PODS[which], 'io.kubernetes.pod.namespace': NS, 'io.kubernetes.container.name': which === 'b' ? 'redis' : 'app' };
  const r = podman([...PODMAN_RUN, '-d', '--network', net, '--cgroup-parent', parentOf(NODE[which]), ...Object.entries(labels).flatMap(([k, v]) => ['--label', `${k}=${v}`]), '--name', cname(which), IMAGE, ...cmd]);
  assert.equal(r.status, 0, `${which} did not start: ${r.stderr}`);
}

/** rmdir of the node parents in every hierarchy (podman's cgroupfs manager made them; children first); true while some remain. */
function removeCgroupParents(): boolean {
  for (const h of readdirSync('/sys/fs/cgroup')) {
    for (const node of ['node-a', 'node-b']) {
      const top = join('/sys/fs/cgroup', h, parentOf(node));
      const rm = (d: string) => {
        try {
          for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) rm(join(d, e.name));
          rmdirSync(d);
        } catch {
          // gone already, or not a directory of this hierarchy
        }
      };
      rm(top);
    }
  }
  return readdirSync('/sys/fs/cgroup').some((h) => ['node-a', 'node-b'].some((n) => existsSync(join('/sys/fs/cgroup', h, parentOf(n)))));
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, ms = 60_000, diagnose?: () => Promise<string>): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${diagnose ? `\n${await diagnose()}` : ''}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

interface Sensor { child: ChildProcess; stderr: () => string; closed: Promise<number | null> }

function startSensor(node: string, central: { url: string; token: string; ca: string }, dir: string): Sensor {
  const args = [
    'sensor', '-r', RULES, '--opens', 'rules', '--output', join(dir, `${node}.alerts.jsonl`),
    '--server', central.url, '--server-ca', central.ca, '--spool-dir', join(dir, `spool-${node}`), '--cluster', CLUSTER,
    '--node-name', node, '--cgroup-parent', parentOf(node),
    '--flows', join(dir, `${node}.flows.jsonl`), '--flow-interval', '1s',
  ];
  let err = '';
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, GATEHOUSE_FROM_SOURCE: '1', GATEHOUSE_TOKEN: central.token } });
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const closed = new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  return { child, stderr: () => err, closed };
}

test('two real sensors on two "nodes", the real apiserver (webhook and log file): ONE incident across hosts and layers', { skip, timeout: 300_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gh-two-sensors-'));
  const auditFile = join(dir, 'kube-audit.log');
  const cleanup: Array<() => Promise<unknown> | unknown> = [];
  // Central's request log (pino JSON lines): the webhook's deliveries are seen there
  const logLines: string[] = [];
  const logStream = new Writable({ write(chunk: Buffer, _enc, cb) { logLines.push(...chunk.toString().split('\n').filter(Boolean)); cb(); } });
  try {
    let tail: AuditFileTail | undefined;
    const central: RunningCentral = await startCentral({
      listen: '127.0.0.1:0', dataDir: join(dir, 'central'), jobs: [], logger: { level: 'info', stream: logStream },
      auditLog: { file: auditFile, cluster: CLUSTER, pollMs: 250, onTail: (t) => (tail = t) },
    });
    cleanup.push(() => central.close());
    const ca = central.tls!.caFile!;
    const agent = new Agent({ connect: { ca: readFileSync(ca) } });
    cleanup.push(() => agent.close());
    const admin = central.adminToken!;
    const { token: sensorToken } = await createToken(central.context.db, { name: 'sensors', role: 'sensor' });
    const api = async (path: string): Promise<any> => {
      const res = await undiciFetch(central.url + path, { dispatcher: agent, headers: { authorization: `Bearer ${admin}` } });
      assert.equal(res.status, 200, path);
      return res.json();
    };
    const incidents = async (): Promise<Incident[]> => (await api('/api/v1/incidents?limit=100')).items as Incident[];
    const diagnose = async () => {
      const summary = (await incidents()).map((i) => `${i.id} hosts=${i.hosts.join(',')} wl=${i.workloads.join(',')}\n${i.timeline.map((e) => `  ${e.time} ${e.layer} ${e.host ?? ''} ${e.title} [${e.reason}]`).join('\n')}`).join('\n');
      const alerts = ['node-a', 'node-b'].map((n) => `${n}: ${existsSync(join(dir, `${n}.alerts.jsonl`)) ? readFileSync(join(dir, `${n}.alerts.jsonl`), 'utf8').split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { rule: string }).rule).join('; ') : 'no alerts file'}`).join('\n');
      return `incidents:\n${summary}\nalerts:\n${alerts}`;
    };

    // the apiserver starts while the containers and the sensors do
    const clusterP = startAuditCluster(`${central.url}/api/v1/ingest/audit`, sensorToken, readFileSync(ca, 'utf8'), [`--audit-log-path=${auditFile}`]);
    cleanup.push(async () => (await clusterP.catch(() => undefined))?.stop());

    assert.equal(podman(['network', 'create', net]).status, 0);
    cleanup.push(() => podman(['network', 'rm', '-f', net]));
    cleanup.push(async () => {
      for (let i = 0; i < 20 && removeCgroupParents(); i++) await new Promise((r) => setTimeout(r, 250));
    });
    cleanup.push(() => podman(['rm', '-f', '-t', '0', cname('a'), cname('b'), cname('c')]));
    runPod('a', ['sleep', 'infinity']);
    runPod('b', ['redis-server', '--protected-mode', 'no', '--save', '']);
    runPod('c', ['sleep', 'infinity']);
    const bIp = podman(['inspect', '--format', `{{(index .NetworkSettings.Networks "${net}").IPAddress}}`, cname('b')]).stdout.trim();
    assert.match(bIp, /^\d+\.\d+\.\d+\.\d+$/);

    const target = { url: central.url, token: sensorToken, ca };
    const sensors = { a: startSensor('node-a', target, dir), b: startSensor('node-b', target, dir) };
    for (const s of Object.values(sensors)) {
      cleanup.push(async () => {
        if (s.child.exitCode === null) s.child.kill('SIGKILL');
        await s.closed;
      });
    }
    // two bpftrace probes attached side by side
    for (const [node, s] of Object.entries(sensors)) {
      await waitFor(`sensor ${node} ready`, () => {
        if (s.child.exitCode !== null) throw new Error(`sensor ${node} exited: ${s.stderr()}`);
        return s.stderr().includes('sensor ready') ? true : undefined;
      }, 240_000);
    }
    const cluster: AuditCluster = await clusterP;
    const kube = { server: cluster.server, adminToken: cluster.adminToken };
    assert.equal((await kubeRequest(kube, 'POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } })).status, 201);
    for (const k of ['a', 'b', 'c'] as const) {
      const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: PODS[k], namespace: NS }, spec: { nodeName: NODE[k], containers: [{ name: k === 'b' ? 'redis' : 'app', image: IMAGE }] } };
      assert.equal((await kubeRequest(kube, 'POST', `/api/v1/namespaces/${NS}/pods`, pod)).status, 201);
    }

    // 1. kubectl exec -it web-… -- sh: audited even though no kubelet answers
    const exec = await kubeRequest(kube, 'POST', `/api/v1/namespaces/${NS}/pods/${PODS.a}/exec?command=sh&container=app&stdin=true&stdout=true&tty=true`);
    assert.ok(exec.status >= 400, `exec without a kubelet fails (${exec.status})`);
    // 2 + 3. a terminal shell in A that talks to B's redis; meanwhile an unrelated shell in C
    const shell = podman(['exec', '-t', cname('a'), 'sh', '-c', `redis-cli -h ${bIp} -p 6379 ping`]);
    assert.match(shell.stdout, /PONG/, shell.stderr);
    assert.equal(podman(['exec', '-t', cname('c'), 'sh', '-c', 'true']).status, 0);

    const webWl = (inc: Incident) => inc.workloads.find((w) => w.includes(`/${NS}/Deployment/web/`));
    const dbWl = `k8s:${CLUSTER}/${NS}/StatefulSet/db/${cname('b')}`;
    // the lateral link exists once a flow from A's incident names B's workload as its destination
    await waitFor('the flow A → B in the incident of A', async () => (await incidents()).find((i) => webWl(i) && i.timeline.some((e) => e.kind === 'flow' && e.title.includes(`→ ${dbWl}:6379`))), 60_000, diagnose);
    // 4. a new binary runs in B (node-b)
    assert.equal(podman(['exec', cname('b'), 'sh', '-c', 'cp /bin/ls /tmp/.x && /tmp/.x / >/dev/null']).status, 0);

    const inc = await waitFor('ONE incident with the exec, both shells and the flow', async () => {
      const found = (await incidents()).find((i) => i.workloads.includes(dbWl) && webWl(i));
      return found?.timeline.some((e) => e.layer === 'api') && found.timeline.some((e) => e.title === 'Drop and execute new binary in container') ? found : undefined;
    }, 60_000, diagnose);
    const webWorkload = webWl(inc)!;
    assert.equal(webWorkload, `k8s:${CLUSTER}/${NS}/Deployment/web/${cname('a')}`);
    assert.deepEqual(inc.hosts, ['node-a', 'node-b']);
    assert.deepEqual([...inc.layers].sort(), ['api', 'network', 'runtime']);
    const names = inc.tactics.map((t) => t.name);
    for (const t of ['Execution', 'Lateral Movement']) assert.ok(names.includes(t), `tactic ${t} in ${names.join(', ')}`);
    for (const t of ['T1609', 'T1059', 'T1210']) assert.ok(inc.techniques.some((x) => x.id === t), `technique ${t} in ${inc.techniques.map((x) => x.id).join(', ')}`);
    assert.equal(inc.stage, 'Lateral Movement');
    const apiEntries = inc.timeline.filter((e) => e.layer === 'api');
    assert.equal(apiEntries.length, 1, 'the exec once, though both audit backends delivered it');
    assert.match(apiEntries[0]!.title, new RegExp(`^admin exec into pod ${NS}/${PODS.a} \\(container app\\): sh$`));
    const shellEntry = inc.timeline.find((e) => e.title === 'Terminal shell in container' && e.workload === webWorkload);
    assert.equal(shellEntry?.host, 'node-a');
    const drop = inc.timeline.find((e) => e.title === 'Drop and execute new binary in container');
    assert.equal(drop?.host, 'node-b');
    assert.equal(drop?.workload, dbWl);
    assert.match(drop!.reason, /^lateral movement: a flow from the incident reached /);

    // C's shell, same minute: an incident of its own, reported by node-b's sensor only
    const all = await incidents();
    const others = all.filter((i) => i.id !== inc.id);
    const cInc = others.filter((i) => i.workloads.some((w) => w.includes(`/${NS}/Deployment/cache/`)));
    assert.equal(cInc.length, 1, all.map((i) => `${i.title} ${i.workloads.join(',')}`).join('\n'));
    assert.deepEqual(cInc[0]!.hosts, ['node-b'], "node-a's sensor left C out");
    assert.ok(cInc[0]!.timeline.every((e) => e.layer === 'runtime'));
    assert.ok(!others.some((i) => i.workloads.includes(dbWl) || i.workloads.includes(webWorkload)), 'nothing of A or B outside the incident');

    // Both audit backends delivered: the webhook's batches were answered 200 (with the query
    // the apiserver sets, see CLUSTER), and the file tail read events without a malformed line.
    const reqs = logLines.map((l) => JSON.parse(l) as { reqId?: string; msg?: string; req?: { url?: string }; res?: { statusCode?: number } });
    const auditReqs = reqs.filter((r) => r.req?.url?.startsWith('/api/v1/ingest/audit?'));
    assert.ok(auditReqs.length > 0, 'the audit webhook reached Central');
    assert.ok(auditReqs.every((r) => r.req!.url === '/api/v1/ingest/audit?timeout=30s'), auditReqs.map((r) => r.req!.url).join(' '));
    const answered = new Set(auditReqs.map((r) => r.reqId));
    assert.ok(reqs.some((r) => answered.has(r.reqId) && r.res?.statusCode === 200), 'a webhook batch was accepted');
    assert.ok(tail && tail.stats.events >= 1, 'the audit log file was read');
    assert.deepEqual(tail!.stats.malformed, { 'not-json': 0, 'not-an-event': 0, 'too-long': 0 });

    // the sensors stop cleanly; each left out the other node's containers (and the host)
    for (const [node, s] of Object.entries(sensors)) {
      s.child.kill('SIGINT');
      assert.equal(await s.closed, 0, s.stderr());
      assert.match(s.stderr(), new RegExp(`sensor stopped: \\d+ events, [1-9]\\d* events outside /gh-2s-${runId}-node-${node} left out`));
    }
  } finally {
    for (const c of cleanup.reverse()) {
      try {
        await c();
      } catch {
        // best effort: the next step still runs
      }
    }
    rmSync(dir, { recursive: true, force: true });
  }
});
