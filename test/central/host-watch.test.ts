/**
 * The host watcher against the real podman socket: the first poll lists the host's images
 * and containers (inspect JSON); with polls far apart, container create/start/stop/rm and
 * image tag/commit/rmi done with the podman CLI, and a `docker load` through the socket, reach the sink through the event stream
 * alone. Over tcp:// (podman's API service on a loopback port), the service is stopped,
 * containers change while it is away, and after it restarts a poll catches up. An unreachable engine is a status, not a crash; a malformed endpoint is one line.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { after, describe, test } from 'node:test';
import { request } from 'undici';
import { watchHost, type HostEvent } from '../../src/central/inventory/host-watch.js';
import { isUserError } from '../../src/util/errors.js';
import { hasCommand, missing, podmanSocket } from '../helpers/components.js';
import { MemorySink, waitFor } from './inventory-sink.js';

const IMAGE = 'localhost/gatehouse-ep-busybox:1';
const RUN_FLAGS = ['--runtime', 'runc', '--ulimit', 'nofile=20000:20000', '--ulimit', 'nproc=4096:4096'];
const suffix = randomBytes(4).toString('hex');
const NAME = `gh-inv-${suffix}`;
const TAG = `localhost/gh-inv-${suffix}:tagged`;
const COMMITTED = `localhost/gh-inv-commit-${suffix}:1`;
const LOADED = `localhost/gh-inv-loaded-${suffix}:1`;
const GONE_WHILE_AWAY = `gh-inv-gone-${suffix}`;
const BORN_WHILE_AWAY = `gh-inv-born-${suffix}`;

function podman(...args: string[]): string {
  const r = spawnSync('podman', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`podman ${args.join(' ')}: ${r.stderr.trim()}`);
  return r.stdout.trim();
}
const podmanPresent = existsSync(podmanSocket) && hasCommand('podman') && hasCommand('docker') && spawnSync('podman', ['image', 'exists', IMAGE]).status === 0;

describe('host inventory watch (real podman socket)', { skip: missing(podmanPresent, `podman, the docker CLI, the socket ${podmanSocket} and the image ${IMAGE} (bash .ci/setup)`) }, () => {
  after(() => {
    // One name a call: with a missing name among several, podman rm -f removes none of them.
    for (const name of [NAME, GONE_WHILE_AWAY, BORN_WHILE_AWAY]) spawnSync('podman', ['rm', '-f', '-t', '0', name]);
    for (const ref of [TAG, COMMITTED, LOADED]) spawnSync('podman', ['rmi', '-f', ref]);
  });

  test('lists containers and images, then follows container and image changes through the event stream', async () => {
    const sink = new MemorySink();
    const events: HostEvent[] = [];
    const stop = new AbortController();
    // Polls an hour apart: every change below must arrive through the event stream.
    const watch = watchHost({ sourceId: 'h1', endpoint: `unix://${podmanSocket}`, sink, signal: stop.signal, pollIntervalMs: 3_600_000, onHostEvent: (e) => events.push(e) });
    const container = () => [...sink.objects.values()].find((o) => o.kind === 'Container' && o.name === NAME);
    const image = (ref: string) => [...sink.objects.values()].find((o) => o.kind === 'Image' && (o.body.RepoTags as string[]).includes(ref));
    const dump = () => JSON.stringify({ container: container()?.body.State, events: events.slice(-6) });
    try {
      await watch.synced;
      assert.equal(events.filter((e) => e.type === 'polled').length, 1);
      assert.ok(events.some((e) => e.type === 'events-connected'));
      assert.equal(sink.lastStatus?.up, true, JSON.stringify(sink.statuses));
      const busybox = image(IMAGE);
      assert.ok(busybox, 'the local image is listed');
      assert.equal(busybox.uid, podman('image', 'inspect', '--format', '{{.Id}}', IMAGE).replace(/^(sha256:)?/, 'sha256:'));
      assert.ok(busybox.body.RootFS, 'an image body is its inspect JSON');
      assert.equal(container(), undefined);

      const id = podman('create', ...RUN_FLAGS, '--name', NAME, '--label', 'team=payments', '--cap-add', 'NET_ADMIN', '-v', '/tmp:/host-tmp:ro', IMAGE, 'sleep', '300');
      await waitFor('the created container', () => container() !== undefined, 15_000, dump);
      const created = container()!;
      assert.equal(created.uid, id);
      assert.equal((created.body.Config as any).Image, IMAGE);
      assert.equal((created.body.Config as any).Labels.team, 'payments');
      assert.ok(((created.body.HostConfig as any).CapAdd as string[]).some((c) => /NET_ADMIN/.test(c)), JSON.stringify((created.body.HostConfig as any).CapAdd));
      assert.ok((created.body.Mounts as any[]).some((m) => m.Source === '/tmp' && m.Destination === '/host-tmp'));
      assert.equal((created.body.State as any).Running, false);

      podman('start', NAME);
      await waitFor('the running state', () => (container()?.body.State as any)?.Running === true, 15_000, dump);
      const runningVersion = container()!.resourceVersion;
      podman('stop', '-t', '0', NAME);
      await waitFor('the stopped state', () => (container()?.body.State as any)?.Running === false && (container()?.body.State as any)?.Status === 'exited', 15_000, dump);
      assert.notEqual(container()!.resourceVersion, runningVersion, 'a state change changes the state hash');

      podman('tag', IMAGE, TAG);
      await waitFor('the new tag', () => image(TAG)?.uid === busybox.uid, 15_000, dump);
      podman('rmi', TAG);
      await waitFor('the tag removed, the image kept', () => image(TAG) === undefined && image(IMAGE) !== undefined, 15_000, dump);
      podman('commit', NAME, COMMITTED);
      await waitFor('the committed image', () => image(COMMITTED) !== undefined, 15_000, dump);
      const committedId = image(COMMITTED)!.uid;
      assert.notEqual(committedId, busybox.uid);
      podman('rmi', COMMITTED);
      await waitFor('the committed image removed', () => !sink.objects.has(`h1\u0000Image\u0000${committedId}`), 15_000, dump);

      // docker load through the API: podman's event names the archive it read, not an image.
      const archive = join(mkdtempSync(join(tmpdir(), 'gh-inv-')), 'loaded.tar');
      podman('tag', IMAGE, LOADED);
      podman('save', '-o', archive, LOADED);
      podman('untag', IMAGE, LOADED);
      await waitFor('the tag to load removed', () => image(LOADED) === undefined, 15_000, dump);
      const load = spawnSync('docker', ['load', '-i', archive], { encoding: 'utf8', env: { ...process.env, DOCKER_HOST: `unix://${podmanSocket}` } });
      rmSync(dirname(archive), { recursive: true, force: true });
      assert.equal(load.status, 0, load.stderr);
      await waitFor('the loaded image', () => image(LOADED)?.uid === busybox.uid, 15_000, dump);

      podman('rm', NAME);
      await waitFor('the removed container', () => container() === undefined, 15_000, dump);
      assert.ok(!events.some((e) => e.type === 'error'), JSON.stringify(events.filter((e) => e.type === 'error')));
      assert.equal(events.filter((e) => e.type === 'polled').length, 1, `no poll ran: the events did it all: ${JSON.stringify(events.filter((e) => e.type !== 'changed'))}`);
    } finally {
      stop.abort();
      await watch.done;
    }
  });

  test('a tcp:// engine that restarts: the watcher reconnects, and a poll catches up on what happened meanwhile', async () => {
    const port = await freePort();
    let service = await startService(port);
    const sink = new MemorySink();
    const events: HostEvent[] = [];
    const stop = new AbortController();
    const watch = watchHost({ sourceId: 'h4', endpoint: `tcp://127.0.0.1:${port}`, sink, signal: stop.signal, pollIntervalMs: 3_600_000, maxBackoffMs: 500, onHostEvent: (e) => events.push(e) });
    const names = () => [...sink.objects.values()].filter((o) => o.kind === 'Container').map((o) => o.name);
    const dump = () => JSON.stringify({ names: names(), events: events.filter((e) => e.type !== 'changed').slice(-5) });
    try {
      await watch.synced;
      podman('create', ...RUN_FLAGS, '--name', GONE_WHILE_AWAY, IMAGE, 'true');
      await waitFor('the created container (event over tcp)', () => names().includes(GONE_WHILE_AWAY), 15_000, dump);

      await stopService(service);
      await waitFor('a down status', () => sink.lastStatus?.up === false, 15_000, dump);
      // Changes the watcher cannot hear about.
      podman('rm', GONE_WHILE_AWAY);
      podman('create', ...RUN_FLAGS, '--name', BORN_WHILE_AWAY, IMAGE, 'true');
      service = await startService(port);
      await waitFor('the removal made while the engine was away', () => !names().includes(GONE_WHILE_AWAY), 20_000, dump);
      await waitFor('the creation made while the engine was away', () => names().includes(BORN_WHILE_AWAY), 20_000, dump);
      await waitFor('status up again', () => sink.lastStatus?.up === true, 15_000, dump);
      // The status can come back (event stream connected) a moment before the catch-up poll ends.
      await waitFor('the reconnect poll', () => events.filter((e) => e.type === 'polled').length >= 2, 15_000, dump);
      assert.equal(events.filter((e) => e.type === 'polled').length, 2, 'the reconnect polled exactly once more');
    } finally {
      stop.abort();
      await watch.done;
      await stopService(service);
    }
  });
});

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** podman's API service on a loopback TCP port (plain HTTP), ready when /_ping answers. */
async function startService(port: number): Promise<ChildProcess> {
  const proc = spawn('podman', ['system', 'service', '--time=0', `tcp://127.0.0.1:${port}`], { stdio: 'ignore' });
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`podman system service exited with ${proc.exitCode}`);
    try {
      const res = await request(`http://127.0.0.1:${port}/_ping`);
      await res.body.dump();
      if (res.statusCode === 200) return proc;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error('podman system service did not answer within 30 s');
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function stopService(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGTERM');
  const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

test('an unreachable engine is reported through status, and stopping still ends the watch', async () => {
  const sink = new MemorySink();
  const stop = new AbortController();
  const watch = watchHost({ sourceId: 'h2', endpoint: 'unix:///nonexistent/gatehouse-engine.sock', sink, signal: stop.signal, pollIntervalMs: 200, maxBackoffMs: 200 });
  await waitFor('a down status', () => sink.lastStatus?.up === false);
  assert.match(sink.lastStatus!.message ?? '', /ENOENT|connect/);
  assert.equal(sink.objects.size, 0);
  stop.abort();
  await watch.done;
  await watch.synced;
});

test('a malformed endpoint is a one-line user error', () => {
  const stop = new AbortController();
  const sink = new MemorySink();
  for (const endpoint of ['http://127.0.0.1:2375', 'unix://relative.sock', 'tcp://host']) {
    assert.throws(
      () => watchHost({ sourceId: 'h3', endpoint, sink, signal: stop.signal }),
      (e: unknown) => isUserError(e) && !e.message.includes('\n') && e.message.includes(endpoint),
    );
  }
  assert.throws(() => watchHost({ sourceId: 'h3', endpoint: `unix://${podmanSocket}`, tls: {}, sink, signal: stop.signal }), (e: unknown) => isUserError(e) && /tcp:\/\/ endpoints only/.test(e.message));
});
