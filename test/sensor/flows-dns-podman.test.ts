/**
 * DNS names and IPv6 ends from the real sensor (bpftrace) on real podman (runc) containers
 * and host sockets:
 * - a `podman run --rm` curl resolves `web.<run>.gatehouse.test` through a DNS server this
 *   test runs (node:dgram on the podman network's gateway, port 53: the container's
 *   `--dns`) and fetches from nginx; its egress flow to nginx carries that name, and its
 *   flow to the DNS server none (nobody resolved the gateway);
 * - a dual-stack listener (`::`, as Node's and many servers' default) accepting an IPv4
 *   client: both ends are IPv4 (127.0.0.1), not `::`;
 * - the same listener accepting an IPv6 client (`::1`): the ingress flow's remote end is
 *   `::1`, and the client's egress flow goes to `::1`.
 */
import { execFile, spawn, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createConnection, createServer, type AddressInfo } from 'node:net';
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

const isRoot = process.getuid?.() === 0;
const imageReady = hasCommand('podman') && spawnSync('podman', ['image', 'exists', IMAGE]).status === 0;
const skip =
  missing(isRoot, 'the sensor needs root') ||
  missing(hasCommand('bpftrace'), 'bpftrace not installed (.ci/setup.d/65-bpftrace.sh)') ||
  missing(imageReady, `podman image ${IMAGE} missing (.ci/setup.d/41-net-image.sh)`) ||
  missing(existsSync('/proc/net/if_inet6'), 'IPv6 is off in this kernel');

const runId = Math.random().toString(36).slice(2, 8);
const net = `gh-dns-${runId}`;
const name = (n: string) => `gh-dns-${n}-${runId}`;
const HOST = `web.${runId}.gatehouse.test`;

function podman(args: string[], timeout = 60_000): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('podman', args, { encoding: 'utf8', timeout });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** podman without blocking this process (the DNS server below runs in it). */
function podmanAsync(args: string[]): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve) => execFile('podman', args, { encoding: 'utf8', timeout: 120_000 }, (_e, stdout, stderr) => resolve({ stdout, stderr })));
}

/** A DNS responder: A queries for `names` get their address (TTL 5 s), anything else NXDOMAIN. */
function dnsServer(bind: string, names: Map<string, string>): Promise<{ close: () => void; answered: () => number }> {
  const sock = createSocket('udp4');
  let answered = 0;
  sock.on('message', (q, from) => {
    if (q.length < 17) return;
    let pos = 12;
    const labels: string[] = [];
    while (pos < q.length && q[pos] !== 0) {
      labels.push(q.toString('latin1', pos + 1, pos + 1 + q[pos]!));
      pos += 1 + q[pos]!;
    }
    const qEnd = pos + 5;
    const qtype = q.readUInt16BE(pos + 1);
    const ip = qtype === 1 ? names.get(labels.join('.').toLowerCase()) : undefined;
    const head = Buffer.from(q.subarray(0, 12));
    head.writeUInt16BE(0x8180 | (ip ? 0 : names.has(labels.join('.').toLowerCase()) ? 0 : 3), 2);
    head.writeUInt16BE(1, 4);
    head.writeUInt16BE(ip ? 1 : 0, 6);
    head.writeUInt32BE(0, 8);
    const parts = [head, q.subarray(12, qEnd)];
    if (ip) {
      const rr = Buffer.alloc(16);
      rr.writeUInt16BE(0xc00c, 0);
      rr.writeUInt16BE(1, 2);
      rr.writeUInt16BE(1, 4);
      rr.writeUInt32BE(5, 6);
      rr.writeUInt16BE(4, 10);
      ip.split('.').forEach((o, i) => (rr[12 + i] = Number(o)));
      parts.push(rr);
      answered++;
    }
    sock.send(Buffer.concat(parts), from.port, from.address);
  });
  return new Promise((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(53, bind, () => resolve({ close: () => sock.close(), answered: () => answered }));
  });
}

/** Opens `count` connections from this process to the listener, each closed once up. */
async function connectTimes(host: string, port: number, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    await new Promise<void>((resolve, reject) => {
      const c = createConnection({ host, port }, () => {
        c.end();
        resolve();
      });
      c.on('error', reject);
    });
  }
}

describe('sensor flows: DNS names and IPv6 ends (real sensor, podman)', { skip, timeout: 600_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'gh-dns-'));
  const flowsFile = join(dir, 'flows.jsonl');
  let flows: ObservedFlow[] = [];
  let stderr = '';
  let nginxIp = '';
  let gateway = '';
  let curlId = '';
  let listenPort = 0;
  let dns: { close: () => void; answered: () => number } | undefined;
  let exitCode: number | null = null;

  before(async () => {
    assert.equal(podman(['network', 'create', '--disable-dns', net]).status, 0);
    assert.equal(podman([...PODMAN_RUN, '-d', '--network', net, '--name', name('nginx'), IMAGE, 'nginx', '-g', 'daemon off;']).status, 0, 'nginx did not start');
    nginxIp = podman(['inspect', '--format', `{{(index .NetworkSettings.Networks "${net}").IPAddress}}`, name('nginx')]).stdout.trim();
    gateway = podman(['inspect', '--format', `{{(index .NetworkSettings.Networks "${net}").Gateway}}`, name('nginx')]).stdout.trim();
    assert.match(nginxIp, /^\d+\.\d+\.\d+\.\d+$/);
    assert.match(gateway, /^\d+\.\d+\.\d+\.\d+$/);
    // the bridge (and its gateway address) exists once a container is on the network
    dns = await dnsServer(gateway, new Map([[HOST, nginxIp]]));

    const child = spawn(process.execPath, [BIN, 'sensor', '--flows', flowsFile, '--flow-interval', '5s', '--no-flow-conntrack'], {
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

    const cidfile = join(dir, 'curl.cid');
    const curl = await podmanAsync([...PODMAN_RUN, '--rm', '--cidfile', cidfile, '--network', net, '--dns', gateway, '--dns-option', 'timeout:2', '--name', name('curl'), IMAGE, 'curl', '-sS', '-4', '-o', '/dev/null', '-w', '%{http_code}', `http://${HOST}/`]);
    assert.equal(curl.stdout.trim(), '200', `curl through the test's DNS failed: ${curl.stderr}`);
    curlId = readFileSync(cidfile, 'utf8').trim();

    // a dual-stack listener in this process: an IPv4 client and an IPv6 client
    const server = createServer((s) => s.on('error', () => undefined).resume());
    await new Promise<void>((resolve) => server.listen({ port: 0, host: '::', ipv6Only: false }, resolve));
    listenPort = (server.address() as AddressInfo).port;
    await connectTimes('127.0.0.1', listenPort, 3);
    await connectTimes('::1', listenPort, 2);
    await new Promise((r) => setTimeout(r, 1500));
    server.close();

    child.kill('SIGINT');
    exitCode = await closed;
    flows = readFileSync(flowsFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as ObservedFlow);
  });

  after(() => {
    dns?.close();
    podman(['rm', '-f', '-t', '0', name('nginx')]);
    podman(['network', 'rm', '-f', net]);
    rmSync(dir, { recursive: true, force: true });
  });

  const sum = (fs: ObservedFlow[]) => fs.reduce((s, f) => s + f.connections, 0);

  it('the sensor stopped cleanly', () => {
    assert.equal(exitCode, 0, stderr);
    assert.ok(dns!.answered() >= 1, 'the container asked the test\'s DNS server');
  });

  it('curl\'s flow to nginx carries the name it resolved; its DNS query does not', () => {
    const mine = flows.filter((f) => f.local.container?.id && curlId.startsWith(f.local.container.id) && f.direction === 'egress');
    const web = mine.filter((f) => f.remote.ip === nginxIp && f.remote.port === 80 && f.protocol === 'TCP');
    assert.equal(web.length, 1, JSON.stringify(mine));
    assert.equal(web[0]!.remote.dns, HOST);
    const query = mine.filter((f) => f.remote.ip === gateway && f.remote.port === 53 && f.protocol === 'UDP');
    assert.equal(query.length, 1, JSON.stringify(mine));
    assert.equal(query[0]!.remote.dns, undefined);
  });

  it('an IPv4 client of a dual-stack listener: IPv4 at both ends', () => {
    const ingress = flows.filter((f) => f.direction === 'ingress' && f.protocol === 'TCP' && f.local.port === listenPort && !f.local.container);
    const v4 = ingress.filter((f) => f.remote.ip === '127.0.0.1');
    assert.equal(sum(v4), 3, JSON.stringify(ingress));
    assert.ok(v4.every((f) => f.local.ip === '127.0.0.1'));
    const egress = flows.filter((f) => f.direction === 'egress' && f.protocol === 'TCP' && f.remote.port === listenPort && f.remote.ip === '127.0.0.1');
    assert.equal(sum(egress), 3);
  });

  it('an IPv6 client: the ingress flow comes from ::1, the egress flow goes to ::1', () => {
    const ingress = flows.filter((f) => f.direction === 'ingress' && f.protocol === 'TCP' && f.local.port === listenPort && !f.local.container);
    assert.equal(sum(ingress.filter((f) => f.remote.ip === '::1')), 2, JSON.stringify(ingress));
    assert.equal(sum(ingress.filter((f) => f.remote.ip === '::')), 0, 'no unknown IPv6 address');
    const egress = flows.filter((f) => f.direction === 'egress' && f.protocol === 'TCP' && f.remote.port === listenPort && f.remote.ip === '::1');
    assert.equal(sum(egress), 2);
  });
});
