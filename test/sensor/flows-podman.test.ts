/**
 * Network flows from the real sensor (bpftrace) and real podman (runc) containers on a podman
 * network: curl to nginx, redis-cli to redis, a DNS query (UDP) to the redis container's
 * address, each client a `podman run --rm` container that exits right after its work. The
 * observed egress edges of those clients must be exactly the expected ones, attributed to the
 * container (id, name, image) and process. Also: a UDP stream from a host process is one
 * first-packet record in the kernel, and a connection opened before the sensor started (a
 * redis-cli subscriber, connected and idle) is seen by conntrack only — the probes never saw
 * its connect, so conntrack is the only witness — with its bytes (accounting on).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { hasCommand, missing } from '../helpers/components.js';
import type { ObservedFlow } from '../../src/network/flow.js';

const IMAGE = 'localhost/gatehouse-net:1';
const BIN = fileURLToPath(new URL('../../bin/gatehouse.mjs', import.meta.url));
const PODMAN_RUN = ['run', '--runtime', 'runc', '--ulimit', 'nofile=20000:20000', '--ulimit', 'nproc=4096:4096'];
const CONNTRACK = '/proc/net/nf_conntrack';

const isRoot = process.getuid?.() === 0;
const imageReady = hasCommand('podman') && spawnSync('podman', ['image', 'exists', IMAGE]).status === 0;
const skip =
  missing(isRoot, 'the sensor needs root') ||
  missing(hasCommand('bpftrace'), 'bpftrace not installed (.ci/setup.d/65-bpftrace.sh)') ||
  missing(imageReady, `podman image ${IMAGE} missing (.ci/setup.d/41-net-image.sh)`) ||
  missing(existsSync(CONNTRACK), `${CONNTRACK} missing (nf_conntrack not loaded)`);

const runId = Math.random().toString(36).slice(2, 8);
const net = `gh-flows-${runId}`;
const name = (n: string) => `gh-flows-${n}-${runId}`;

function podman(args: string[], timeout = 60_000): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('podman', args, { encoding: 'utf8', timeout });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function ipOf(container: string): string {
  const r = podman(['inspect', '--format', `{{(index .NetworkSettings.Networks "${net}").IPAddress}}`, container]);
  const ip = r.stdout.trim();
  assert.match(ip, /^\d+\.\d+\.\d+\.\d+$/, `no address for ${container}: ${r.stderr}`);
  return ip;
}

/** Runs a client container that removes itself when done; returns its full id (from --cidfile). */
function runClient(dir: string, n: string, args: string[], cmd: string[]): string {
  const cidfile = join(dir, `${n}.cid`);
  podman([...PODMAN_RUN, '--rm', '--cidfile', cidfile, '--network', net, ...args, '--name', name(n), IMAGE, ...cmd]);
  const id = readFileSync(cidfile, 'utf8').trim();
  assert.match(id, /^[0-9a-f]{64}$/);
  return id;
}

async function waitFor(what: string, check: () => boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('sensor flows on real containers', { skip, timeout: 600_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'gh-flows-'));
  const flowsFile = join(dir, 'flows.jsonl');
  let flows: ObservedFlow[] = [];
  let stderr = '';
  let exitCode: number | null = null;
  let nginxIp = '';
  let redisIp = '';
  let subIp = '';
  const ids = new Map<string, string>();
  let udpPort = 0;
  let acctBefore = '';

  before(async () => {
    // byte counts for conntrack entries created from now on
    acctBefore = readFileSync('/proc/sys/net/netfilter/nf_conntrack_acct', 'utf8').trim();
    spawnSync('sysctl', ['-qw', 'net.netfilter.nf_conntrack_acct=1']);
    assert.equal(podman(['network', 'create', net]).status, 0);
    const server = (n: string, cmd: string[]) => assert.equal(podman([...PODMAN_RUN, '-d', '--network', net, '--name', name(n), IMAGE, ...cmd]).status, 0, `${n} did not start`);
    server('nginx', ['nginx', '-g', 'daemon off;']);
    server('redis', ['redis-server', '--protected-mode', 'no', '--save', '']);
    nginxIp = ipOf(name('nginx'));
    redisIp = ipOf(name('redis'));
    await waitFor('redis', () => podman(['exec', name('redis'), 'redis-cli', 'ping']).stdout.includes('PONG'));
    // connected before the sensor starts: no probe sees this connect
    server('sub', ['redis-cli', '-h', redisIp, 'subscribe', 'gatehouse']);
    subIp = ipOf(name('sub'));
    await waitFor('the subscriber', () => podman(['exec', name('redis'), 'redis-cli', 'client', 'list']).stdout.includes(`addr=${subIp}:`));

    const child = spawn(process.execPath, [BIN, 'sensor', '--flows', flowsFile, '--flow-interval', '5s'], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, GATEHOUSE_FROM_SOURCE: '1' },
    });
    const closed = new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`sensor not ready after 300 s: ${stderr}`)), 300_000);
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (stderr.includes('sensor ready')) {
          clearTimeout(timer);
          resolve();
        }
      });
      void closed.then((c) => reject(new Error(`sensor exited (${c}) before ready: ${stderr}`)));
    });
    ids.set('curl', runClient(dir, 'curl', [], ['curl', '-sS', '-o', '/dev/null', `http://${nginxIp}/`]));
    ids.set('rcli', runClient(dir, 'rcli', [], ['redis-cli', '-h', redisIp, 'set', 'k', 'v']));
    // glibc's resolver asks the name server by UDP: the redis container's address, port 53
    ids.set('dns', runClient(dir, 'dns', ['--dns', redisIp, '--dns-option', 'timeout:1', '--dns-option', 'attempts:1'], ['getent', 'ahostsv4', 'gatehouse-flows.invalid']));
    // a UDP stream from a host process: 50 datagrams from one socket to one destination
    udpPort = 20000 + Math.floor(Math.random() * 20000);
    const py = spawnSync('python3', ['-c', `import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\nfor _ in range(50): s.sendto(b"x",("127.0.0.1",${udpPort}))`], { encoding: 'utf8' });
    assert.equal(py.status, 0, py.stderr);
    // two conntrack polls (5 s apart) report the subscriber's connection, then the final flush
    await new Promise((r) => setTimeout(r, 12_000));
    child.kill('SIGINT');
    exitCode = await closed;
    flows = existsSync(flowsFile) ? readFileSync(flowsFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as ObservedFlow) : [];
  });

  after(() => {
    podman(['rm', '-f', '-t', '0', name('nginx'), name('redis'), name('sub')]);
    podman(['network', 'rm', '-f', net]);
    if (acctBefore) spawnSync('sysctl', ['-qw', `net.netfilter.nf_conntrack_acct=${acctBefore}`]);
    if (!process.env.GATEHOUSE_SENSOR_KEEP) rmSync(dir, { recursive: true, force: true });
    else console.error(`# flows kept in ${dir}`);
  });

  const of = (n: string) => flows.filter((f) => f.local.container?.name === name(n));

  it('stops cleanly and reports its flows', () => {
    assert.equal(exitCode, 0, stderr);
    assert.match(stderr, /sensor stopped: .* \d+ flows from \d+ connections \(0 over the cap; conntrack: \d+ seen by conntrack only\)/);
  });

  it("the clients' observed edges are exactly those that talked", () => {
    const clients = ['curl', 'rcli', 'dns', 'sub'];
    const edges = new Set(flows.filter((f) => clients.some((c) => f.local.container?.name === name(c))).map((f) => `${f.local.container!.name} ${f.direction} ${f.protocol} ${f.remote.ip}:${f.remote.port}`));
    assert.deepEqual([...edges].sort(), [
      `${name('curl')} egress TCP ${nginxIp}:80`,
      `${name('dns')} egress UDP ${redisIp}:53`,
      `${name('rcli')} egress TCP ${redisIp}:6379`,
      `${name('sub')} egress TCP ${redisIp}:6379`,
    ].sort());
  });

  it('a container that exited right after its connection keeps its id, name, image and process', () => {
    const [f] = of('curl');
    assert.ok(f);
    assert.deepEqual(f.local.container, { id: ids.get('curl')!.slice(0, 12), name: name('curl'), image: IMAGE });
    assert.deepEqual(f.local.process, { name: 'curl', exe: '/usr/bin/curl' });
    assert.equal(f.observedBy, 'ebpf');
    assert.equal(f.connections, 1);
    assert.equal(f.local.port, 0, 'egress: the ephemeral port is not part of the flow');
    assert.match(f.local.ip, /^\d+\.\d+\.\d+\.\d+$/);
    assert.ok(Date.parse(f.firstSeen) <= Date.parse(f.lastSeen));
    const [r] = of('rcli');
    assert.equal(r?.local.process?.name, 'redis-cli');
    assert.equal(r?.local.container?.id, ids.get('rcli')!.slice(0, 12));
  });

  it('the servers saw the same connections as ingress, on their ports, from the clients\' addresses', () => {
    const curlIp = of('curl')[0]!.local.ip;
    const rcliIp = of('rcli')[0]!.local.ip;
    const nginx = of('nginx').filter((f) => f.direction === 'ingress' && f.observedBy === 'ebpf');
    assert.deepEqual(nginx.map((f) => `${f.protocol} ${f.local.ip}:${f.local.port} <- ${f.remote.ip} ${f.local.process?.name}`), [`TCP ${nginxIp}:80 <- ${curlIp} nginx`]);
    const redis = of('redis').filter((f) => f.direction === 'ingress' && f.observedBy === 'ebpf');
    assert.deepEqual(redis.map((f) => `${f.protocol} ${f.local.ip}:${f.local.port} <- ${f.remote.ip} ${f.local.process?.name}`), [`TCP ${redisIp}:6379 <- ${rcliIp} redis-server`]);
  });

  it('UDP first packet: the DNS query is seen by the probe, once per socket and destination', () => {
    const dns = of('dns');
    assert.equal(dns.length, 1, JSON.stringify(dns));
    assert.equal(dns[0]!.observedBy, 'ebpf');
    assert.equal(dns[0]!.local.process?.name, 'getent');
    const stream = flows.filter((f) => f.protocol === 'UDP' && f.remote.ip === '127.0.0.1' && f.remote.port === udpPort && f.observedBy === 'ebpf');
    assert.equal(stream.length, 1, JSON.stringify(stream));
    assert.equal(stream[0]!.local.container, undefined, 'a host process');
    assert.equal(stream[0]!.local.process?.name, 'python3');
    // 50 datagrams: one record, two if the kernel map was cleared (every 30 s) mid-stream
    assert.ok(stream[0]!.connections >= 1 && stream[0]!.connections <= 2, `connections=${stream[0]!.connections}`);
  });

  it('a connection opened before the sensor started is reported by conntrack only, with its bytes', () => {
    // one new connection in its first interval; later intervals carry only the bytes it moved since (connections 0)
    const sub = of('sub');
    assert.ok(sub.length >= 1);
    assert.ok(sub.every((f) => f.observedBy === 'conntrack' && f.local.ip === subIp && f.local.container?.image === IMAGE), JSON.stringify(sub));
    assert.deepEqual(sub.map((f) => f.connections), [1, ...sub.slice(1).map(() => 0)]);
    assert.ok((sub[0]!.bytes ?? 0) > 0, `bytes=${sub[0]!.bytes}`);
    const server = of('redis').filter((x) => x.observedBy === 'conntrack' && x.direction === 'ingress' && x.remote.ip === subIp);
    assert.deepEqual(server.map((x) => x.connections), sub.map((x) => x.connections), 'the server end of the same connection');
    assert.equal(server[0]!.local.port, 6379);
  });
});
