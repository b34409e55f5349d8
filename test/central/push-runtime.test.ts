/**
 * The long-running commands with `--server`: `gatehouse engine-proxy` pushes its decisions
 * through its disk spool to a real Central.
 *   - live, to Central in this process (SQLite): denials with their policy, allows too;
 *   - to `gatehouse server` as a child process: decisions made while Central is not yet up
 *     wait in the spool and arrive when it starts; Central is killed with SIGKILL while
 *     decisions stream in, restarted on the same data directory and port, and in the end
 *     every decision of the proxy's audit log is stored exactly once.
 * And `gatehouse sensor --server` (root, bpftrace, a podman container reading /etc/shadow):
 * its alerts reach Central while it runs, and at its stop Central holds its alert lines.
 * (The EventShipper's own kill -9 test, which tracks each acknowledged batch, is in client.test.ts.)
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { hasCommand, missing, podmanSocket } from '../helpers/components.js';
import { startTestCentral, type TestCentral } from '../helpers/central.js';
import { DENY_INFO } from '../helpers/engine-proxy-packs.js';

const bin = fileURLToPath(new URL('../../bin/gatehouse.mjs', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'gatehouse-push-runtime-'));
const children: ChildProcess[] = [];
after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
});

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

async function waitFor(what: string, check: () => boolean | Promise<boolean>, ms = 60_000): Promise<void> {
  const t0 = Date.now();
  while (!(await check())) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface Proxy {
  child: ChildProcess;
  socket: string;
  audit: string;
  stderr(): string;
  stop(): Promise<number | null>;
}

/** `gatehouse engine-proxy --server URL` as a process, in front of podman's socket. */
async function startProxy(name: string, server: string, token: string): Promise<Proxy> {
  const dir = mkdtempSync(join(work, `${name}-`));
  const socket = join(dir, 'docker.sock');
  const audit = join(dir, 'audit.jsonl');
  const child = spawn(process.execPath, [bin, 'engine-proxy', '--listen', `unix://${socket}`, '--upstream', `unix://${podmanSocket}`, '--policy', pack, '--audit', audit, '--server', server, '--spool-dir', join(dir, 'spool')], {
    env: { ...process.env, GATEHOUSE_FROM_SOURCE: '1', GATEHOUSE_TOKEN: token, GATEHOUSE_SERVER: undefined, GATEHOUSE_CA: undefined },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  children.push(child);
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  await waitFor('the proxy listening', () => {
    if (child.exitCode !== null) throw new Error(`engine-proxy exited: ${err}`);
    return existsSync(socket);
  });
  return {
    child, socket, audit,
    stderr: () => err,
    stop: () => new Promise((resolve) => {
      child.once('exit', (code) => resolve(code));
      child.kill('SIGTERM');
    }),
  };
}

const auditLines = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { decision: string; path: string; time: string }) : []);

interface StoredDecision { id: string; time: string; rule: string; severity: string; data: { decision: string; path: string; action: string }; finding: { id: string; policy?: { id: string } } | null }

async function decisions(url: string, token: string): Promise<StoredDecision[]> {
  const all: StoredDecision[] = [];
  let cursor: string | null = null;
  do {
    const res = await fetch(`${url}/api/v1/decisions?source=engine-proxy&limit=1000${cursor ? `&cursor=${cursor}` : ''}`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 200);
    const page = (await res.json()) as { items: StoredDecision[]; nextCursor: string | null };
    all.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  return all;
}

const up = missing(existsSync(podmanSocket), `no podman socket at ${podmanSocket}`);

describe('engine-proxy --server', { skip: up }, () => {
  let central: TestCentral;
  before(async () => {
    central = await startTestCentral();
  });
  after(() => central?.close());

  test('pushes each decision while it runs: the denial with its policy, the allows too', { timeout: 120_000 }, async () => {
    const proxy = await startProxy('live', central.url, await central.token('sensor'));
    try {
      assert.equal(await get(proxy.socket, '/v1.41/info'), 403);
      assert.equal(await get(proxy.socket, '/_ping'), 200);
      assert.equal(await get(proxy.socket, '/v1.41/info'), 403);
      // Stored while the proxy still runs (the shipper's flush interval), not only at its exit.
      await waitFor('three decisions in Central', async () => (await decisions(central.url, central.adminToken)).length === 3, 30_000);
      const stored = await decisions(central.url, central.adminToken);
      const denied = stored.filter((d) => d.data.decision === 'deny');
      assert.equal(denied.length, 2);
      for (const d of denied) {
        assert.equal(d.data.action, 'system.info');
        assert.equal(d.finding?.policy?.id, 'T-INFO');
        assert.equal(d.rule, 'T-INFO');
        assert.equal(d.severity, 'MEDIUM');
      }
      assert.deepEqual(stored.filter((d) => d.data.decision === 'allow').map((d) => d.data.path), ['/_ping']);
      assert.equal(new Set(stored.map((d) => d.id)).size, 3, 'each decision has its own idempotency key');
    } finally {
      assert.equal(await proxy.stop(), 0, proxy.stderr());
    }
    assert.doesNotMatch(proxy.stderr(), /ghc_/, 'the token is never logged');
  });
});

/** A port nothing listens on now (for a Central that starts later). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** `gatehouse server` as a child process over plain HTTP on loopback; resolves once it listens. */
async function startServer(dataDir: string, port: number, adminToken: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [bin, 'server', '--insecure-http', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir, '--log-level', 'silent'], {
    env: { ...process.env, GATEHOUSE_FROM_SOURCE: '1', GATEHOUSE_ADMIN_TOKEN: adminToken, KUBECONFIG: '/nonexistent', DOCKER_HOST: 'unix:///nonexistent' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  children.push(child);
  const lines: string[] = [];
  for await (const line of createInterface({ input: child.stderr! })) {
    lines.push(line);
    if (/^Gatehouse Central is listening on /.test(line)) {
      child.stderr!.resume();
      return child;
    }
  }
  throw new Error(`gatehouse server did not start:\n${lines.join('\n')}`);
}

const exited = (c: ChildProcess) => new Promise<void>((resolve) => (c.exitCode !== null || c.signalCode !== null ? resolve() : c.once('exit', () => resolve())));

describe('engine-proxy --server with Central down, then killed with SIGKILL', { skip: up }, () => {
  test('decisions wait in the spool until Central is up; after a kill -9 and a restart every decision is stored exactly once', { timeout: 300_000 }, async () => {
    const dataDir = mkdtempSync(join(work, 'central-'));
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const adminToken = `ghc_${randomBytes(32).toString('base64url')}`;
    const proxy = await startProxy('outage', url, adminToken);
    try {
      // Central is not there yet: the decisions are made, spooled, and the failure said once.
      for (let i = 0; i < 20; i++) assert.equal(await get(proxy.socket, '/v1.41/info'), 403);
      await waitFor('the proxy noticing Central is unreachable', () => /push to Central: cannot reach Central/.test(proxy.stderr()), 30_000);
      assert.ok(readdirSync(join(proxy.audit, '..', 'spool')).some((f) => f.startsWith('seg-')), 'events wait in the spool');

      let central = await startServer(dataDir, port, adminToken);
      await waitFor('the spooled decisions in Central', async () => (await decisions(url, adminToken)).length === 20, 90_000);

      // Decisions stream in; Central is killed once some of them are stored, then restarted.
      let streaming = true;
      let sent = 0;
      const stream = (async () => {
        while (streaming) {
          assert.equal(await get(proxy.socket, sent % 5 === 0 ? '/_ping' : '/v1.41/info'), sent % 5 === 0 ? 200 : 403);
          sent++;
          await new Promise((r) => setTimeout(r, 5));
        }
      })();
      await waitFor('decisions streaming into Central', async () => (await decisions(url, adminToken)).length >= 60, 60_000);
      central.kill('SIGKILL');
      await exited(central);
      const sentAtKill = sent;
      await waitFor('more decisions while Central is gone', () => sent >= sentAtKill + 50, 30_000);
      central = await startServer(dataDir, port, adminToken);
      await waitFor('more decisions after the restart', () => sent >= sentAtKill + 100, 30_000);
      streaming = false;
      await stream;

      const audit = auditLines(proxy.audit);
      assert.equal(audit.length, 20 + sent, 'the audit log holds every decision');
      await waitFor('every decision in Central', async () => (await decisions(url, adminToken)).length >= audit.length, 120_000);
      const stored = await decisions(url, adminToken);
      assert.equal(stored.length, audit.length, 'each decision stored exactly once');
      assert.equal(new Set(stored.map((d) => d.id)).size, stored.length);
      const count = (xs: { decision: string; path: string }[]) => xs.map((x) => `${x.decision} ${x.path}`).sort();
      assert.deepEqual(count(stored.map((d) => d.data)), count(audit));
      assert.deepEqual(stored.map((d) => d.time).sort(), audit.map((a) => new Date(a.time).toISOString()).sort());
      central.kill('SIGTERM');
      await exited(central);
    } finally {
      await proxy.stop();
    }
  });
});

const SENSOR_IMAGE = 'localhost/gatehouse-sensor-test:1';
const FALCO_RULES = fileURLToPath(new URL('../../../shared/reference/falco/rules/falco_rules.yaml', import.meta.url));
const sensorSkip = () =>
  missing(process.getuid?.() === 0, 'the sensor needs root') ||
  missing(hasCommand('bpftrace'), 'bpftrace not installed (.ci/setup.d/65-bpftrace.sh)') ||
  missing(hasCommand('podman') && spawnSync('podman', ['image', 'exists', SENSOR_IMAGE]).status === 0, `podman image ${SENSOR_IMAGE} missing (.ci/setup.d/65-bpftrace.sh)`) ||
  missing(existsSync(FALCO_RULES), `Falco rules missing at ${FALCO_RULES}`);

describe('sensor --server', { skip: sensorSkip(), timeout: 600_000 }, () => {
  let central: TestCentral;
  before(async () => {
    central = await startTestCentral();
  });
  after(() => central?.close());

  test('alerts reach Central while the sensor runs; at its stop Central holds every alert line it wrote', { timeout: 600_000 }, async () => {
    const dir = mkdtempSync(join(work, 'sensor-'));
    const alertsFile = join(dir, 'alerts.jsonl');
    const token = await central.token('sensor');
    const child = spawn(process.execPath, [bin, 'sensor', '--rules', FALCO_RULES, '--opens', 'rules', '--format', 'json', '--output', alertsFile, '--cluster', 'push-test', '--server', central.url, '--spool-dir', join(dir, 'spool')], {
      env: { ...process.env, GATEHOUSE_FROM_SOURCE: '1', GATEHOUSE_TOKEN: token, GATEHOUSE_SERVER: undefined, GATEHOUSE_CA: undefined },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    children.push(child);
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const closed = new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)));
    const cname = `gh-push-sensor-${randomBytes(4).toString('hex')}`;
    try {
      await waitFor('the sensor ready', () => {
        if (child.exitCode !== null) throw new Error(`sensor exited: ${err}`);
        return err.includes('sensor ready');
      }, 300_000);
      const ran = spawnSync('podman', ['run', '--runtime', 'runc', '--ulimit', 'nofile=20000:20000', '--ulimit', 'nproc=4096:4096', '--name', cname, SENSOR_IMAGE, 'sh', '-c', '/bin/cat /etc/shadow >/dev/null; cd /etc && /bin/sleep 0.5; /bin/true'], { encoding: 'utf8', timeout: 60_000 });
      assert.equal(ran.status, 0, ran.stderr);
      const id = spawnSync('podman', ['inspect', '--format', '{{.Id}}', cname], { encoding: 'utf8' }).stdout.trim().slice(0, 12);
      const alerts = async () => (await central.api('GET', '/api/v1/alerts?source=sensor&limit=1000')).body.items as { id: string; rule: string; cluster: string; finding: { detail: string; resource: { container?: { id: string } } } }[];
      await waitFor('the shadow read alerted in Central', async () => (await alerts()).some((a) => a.rule === 'Read sensitive file untrusted' && a.finding.resource.container?.id === id), 60_000);
      child.kill('SIGINT');
      assert.equal(await closed, 0, err);
      const written = readFileSync(alertsFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { output: string });
      const stored = await alerts();
      assert.equal(stored.length, written.length, 'every alert line is in Central, once');
      assert.deepEqual(stored.map((a) => a.finding.detail).sort(), written.map((a) => a.output).sort());
      assert.ok(stored.every((a) => a.cluster === 'push-test'));
      assert.doesNotMatch(err, /ghc_/, 'the token is never logged');
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      spawnSync('podman', ['rm', '-f', cname], { stdio: 'ignore' });
    }
  });
});
