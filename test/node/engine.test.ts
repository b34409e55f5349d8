/**
 * Container engine configuration: Docker's daemon.json, dockerd's uid and socket, Podman's
 * containers.conf and drop-ins — in fixture roots (a real unix socket is bound in the temp
 * dir), and on this machine's podman service (.ci/setup.d/20-podman.sh).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, statSync, chmodSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { checkNode } from '../../src/node/index.js';
import { cmdline, makeRoot } from './fixture.js';
import { missing, podmanSocket } from '../helpers/components.js';

const statusOf = (r: { results: { id: string; status: string }[] }) => Object.fromEntries(r.results.map((x) => [x.id, x.status]));
const listen = (path: string) => new Promise<Server>((resolve) => {
  const s = createServer();
  s.listen(path, () => resolve(s));
});

test('docker: a hardened daemon.json, dockerd as a user, a 660 socket → every engine check passes; the opposite fails', async () => {
  const good = makeRoot({
    'etc/docker/daemon.json': JSON.stringify({ 'userns-remap': 'default', 'no-new-privileges': true, 'live-restore': true }),
    'proc/300/cmdline': cmdline('/usr/bin/dockerd', '--host', 'fd://'),
    'proc/300/status': 'Name:\tdockerd\nUid:\t1000\t1000\t1000\t1000\n',
    run: { dir: true },
  });
  const bad = makeRoot({
    'etc/docker/daemon.json': JSON.stringify({ 'log-driver': 'json-file' }),
    'proc/301/cmdline': cmdline('dockerd'),
    'proc/301/status': 'Name:\tdockerd\nUid:\t0\t0\t0\t0\n',
    'run/x': '',
  });
  const servers = [await listen(good.path('run/docker.sock')), await listen(bad.path('run/docker.sock'))];
  chmodSync(good.path('run/docker.sock'), 0o660);
  chmodSync(bad.path('run/docker.sock'), 0o666);
  try {
    const g = await checkNode({ root: good.root, areas: ['engine'] });
    assert.deepEqual(statusOf(g), { 'node.engine.rootless': 'pass', 'node.engine.userns-remap': 'pass', 'node.engine.no-new-privileges': 'pass', 'node.engine.live-restore': 'pass', 'node.engine.socket-permissions': 'pass' });
    const b = await checkNode({ root: bad.root, areas: ['engine'] });
    assert.deepEqual(statusOf(b), { 'node.engine.rootless': 'fail', 'node.engine.userns-remap': 'fail', 'node.engine.no-new-privileges': 'fail', 'node.engine.live-restore': 'fail', 'node.engine.socket-permissions': 'fail' });
    const sock = b.results.find((x) => x.id === 'node.engine.socket-permissions')!;
    assert.match(sock.evidence.join(), /\/run\/docker\.sock: mode 666/);
  } finally {
    for (const s of servers) s.close();
    good.cleanup();
    bad.cleanup();
  }
});

test('podman: containers.conf and drop-ins in order; a broken daemon.json is unknown; no engine is not applicable', async () => {
  const fx = makeRoot({
    'usr/share/containers/containers.conf': '[containers]\n#userns = "host"\nuserns = "host"\n[engine]\nruntime = "crun"\n',
    'etc/containers/containers.conf.d/50-hardening.conf': '[containers]\nuserns = "auto"  # remap every container\nno_new_privileges = true\n',
    'etc/docker/daemon.json': '{ not json',
  });
  const none = makeRoot({ 'etc/hostname': 'x\n' });
  try {
    const r = await checkNode({ root: fx.root, areas: ['engine'] });
    const s = statusOf(r);
    assert.equal(s['node.engine.userns-remap'], 'unknown', 'docker part is unreadable: the combined result is unknown');
    const ns = r.results.find((x) => x.id === 'node.engine.userns-remap')!;
    assert.match(ns.evidence.join('\n'), /podman: \/etc\/containers\/containers\.conf\.d\/50-hardening\.conf: containers\.userns = "auto"/);
    assert.match(ns.reason!, /daemon\.json: not valid JSON/);
    assert.equal(s['node.engine.no-new-privileges'], 'unknown');
    const n = await checkNode({ root: none.root, areas: ['engine'] });
    for (const x of n.results) assert.equal(x.status, 'not-applicable', x.id);
  } finally {
    fx.cleanup();
    none.cleanup();
  }
});

test('containerd on a Kubernetes node: rootless and socket checked; per-pod settings not applicable', async () => {
  const fx = makeRoot({
    'proc/12/cmdline': cmdline('/usr/bin/containerd'),
    'proc/12/status': 'Name:\tcontainerd\nUid:\t0\t0\t0\t0\n',
    'run/containerd': { dir: true },
  });
  const srv = await listen(fx.path('run/containerd/containerd.sock'));
  chmodSync(fx.path('run/containerd/containerd.sock'), 0o660);
  try {
    const r = await checkNode({ root: fx.root, areas: ['engine'] });
    assert.deepEqual(statusOf(r), { 'node.engine.rootless': 'fail', 'node.engine.userns-remap': 'not-applicable', 'node.engine.no-new-privileges': 'not-applicable', 'node.engine.live-restore': 'not-applicable', 'node.engine.socket-permissions': 'pass' });
    assert.match(r.results[0]!.evidence.join(), /containerd daemon pid 12: uid 0/);
  } finally {
    srv.close();
    fx.cleanup();
  }
});

test("this machine's podman: the service process and its socket as ps and stat see them", { skip: missing(existsSync(podmanSocket), `podman socket ${podmanSocket} (.ci/setup.d/20-podman.sh)`) }, async () => {
  const r = await checkNode({ areas: ['engine'] });
  const sock = r.results.find((x) => x.id === 'node.engine.socket-permissions')!;
  const st = statSync(podmanSocket);
  assert.ok(sock.evidence.some((e) => e.includes(`${podmanSocket}: mode ${(st.mode & 0o777).toString(8).padStart(3, '0')}, owner ${st.uid}:${st.gid}`)), sock.evidence.join('\n'));
  assert.equal(sock.status, (st.mode & 0o007) === 0 && st.uid === 0 ? 'pass' : 'fail');
  // The podman API service processes and their uids, read independently.
  const services = readdirSync('/proc').filter((d) => /^\d+$/.test(d)).flatMap((d) => {
    try {
      const argv = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0').filter(Boolean);
      if (!/(^|\/)podman$/.test(argv[0] ?? '') || !argv.includes('system') || !argv.includes('service')) return [];
      return [Number(/^Uid:\s*(\d+)/m.exec(readFileSync(`/proc/${d}/status`, 'utf8'))![1])];
    } catch {
      return [];
    }
  });
  const rootless = r.results.find((x) => x.id === 'node.engine.rootless')!;
  if (services.length === 0) assert.equal(rootless.status, 'not-applicable');
  else assert.equal(rootless.status, services.includes(0) ? 'fail' : 'pass', rootless.evidence.join('\n'));
});
