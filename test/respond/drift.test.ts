/**
 * Drift from the image against real podman containers (runc): a binary copied into a
 * running container and executed is drift, binaries of the image are not, a container
 * recreated from the same image has none. The image index comes from the real image (the
 * engine's export, walked by src/image); the container diff from the engine's /changes;
 * exec and open events have the sensor's shape (test/respond/drift-sensor.test.ts feeds the
 * real sensor's events).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { hasCommand, missing, podmanSocket } from '../helpers/components.js';
import { runCli } from '../helpers/cli.js';
import { EngineApi } from '../../src/respond/evidence/engine.js';
import { DriftDetector } from '../../src/respond/drift/detector.js';
import { ImageIndexCache, loadImageIndex, resolveInIndex, type ImageFile, type ImageFileIndex } from '../../src/respond/drift/image-index.js';
import { checkContainerDrift } from '../../src/respond/drift/oneshot.js';
import { DRIFT_EXEC_RULE, DRIFT_LIBRARY_RULE, driftAlert, driftFinding } from '../../src/respond/drift/verdict.js';
import type { RuntimeEvent } from '../../src/runtime/event.js';

const IMAGE = 'localhost/gatehouse-ep-busybox:1';
const HOST = `unix://${podmanSocket}`;
const RUN = ['run', '-d', '--runtime', 'runc', '--ulimit', 'nofile=20000:20000', '--ulimit', 'nproc=1024:1024'];
const podmanReady = existsSync(podmanSocket) && hasCommand('podman') && spawnSync('podman', ['image', 'exists', IMAGE]).status === 0;
const skip = missing(podmanReady, `podman socket ${podmanSocket} and image ${IMAGE} (.ci/setup.d/20-podman.sh, 70-engine-proxy.sh)`);
const runId = Math.random().toString(36).slice(2, 8);

function podman(args: string[]): string {
  const r = spawnSync('podman', args, { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, `podman ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

/** An exec event as the sensor builds it (src/sensor/event-builder.ts). */
function execEvent(containerId: string, exepath: string, cmdline: string): RuntimeEvent {
  return {
    'evt.type': 'execve',
    'evt.dir': '<',
    'evt.rawres': 0,
    'evt.res': 'SUCCESS',
    'evt.rawtime': BigInt(Date.now()) * 1_000_000n,
    'proc.pid': 4242,
    'proc.name': exepath.split('/').pop(),
    'proc.exepath': exepath,
    'proc.cmdline': cmdline,
    'proc.pname': 'sh',
    'user.name': 'root',
    'container.id': containerId.slice(0, 12),
    'container.name': 'x',
  };
}

function openEvent(containerId: string, path: string, write: boolean): RuntimeEvent {
  return {
    'evt.type': 'openat',
    'evt.rawres': 3,
    'fd.name': path,
    'evt.is_open_read': !write,
    'evt.is_open_write': write,
    'evt.arg.flags': write ? 'O_WRONLY|O_CREAT|O_TRUNC' : 'O_RDONLY|O_CLOEXEC',
    'proc.exepath': '/bin/busybox',
    'container.id': containerId.slice(0, 12),
  };
}

describe('drift from the image on real podman containers', { skip, timeout: 300_000 }, () => {
  const drifted = `gh-drift-${runId}`;
  const fresh = `gh-drift-fresh-${runId}`;
  let driftedId = '';
  let freshId = '';
  let loads = 0;
  let engine: EngineApi;
  let cache: ImageIndexCache;

  before(() => {
    driftedId = podman([...RUN, '--name', drifted, IMAGE, 'sleep', '600']);
    // a binary copied in and run; an image binary replaced by a copy; an image binary only touched
    podman(['exec', drifted, 'sh', '-c', 'cp /bin/busybox /tmp/true && /tmp/true && rm /bin/ls && cp /bin/busybox /bin/ls && touch /bin/busybox && printf "\\177ELF" > /tmp/libevil.so']);
    freshId = podman([...RUN, '--name', fresh, IMAGE, 'sleep', '600']);
    engine = new EngineApi(HOST);
    cache = new ImageIndexCache((id) => {
      loads++;
      return loadImageIndex(id, { host: HOST });
    });
  });

  after(async () => {
    for (const c of [drifted, fresh]) spawnSync('podman', ['rm', '-f', '-i', '-t', '0', c], { stdio: 'ignore' });
    await engine?.close();
  });

  it('indexes the image once per image id, with sha256 of its executables', async () => {
    const imageId = podman(['image', 'inspect', '--format', '{{.Id}}', IMAGE]);
    const [a, b] = await Promise.all([cache.get(imageId), cache.get(`sha256:${imageId}`)]);
    assert.equal(a, b);
    assert.equal(loads, 1);
    const busybox = a.files.get('/bin/busybox');
    assert.equal(busybox?.type, 'file');
    assert.equal(busybox?.sha256, podman(['exec', fresh, 'sha256sum', '/bin/busybox']).split(/\s+/)[0]);
    assert.equal(a.files.get('/bin/ls')?.type, 'symlink');
    assert.ok(!a.files.has('/tmp/true'));
  });

  it('an exec of a binary copied into the running container is drift; binaries of the image are not', async () => {
    const d = new DriftDetector({ engine, cache });
    const w = await d.watch(drifted);
    assert.equal(w.id, driftedId);
    assert.equal(w.changed.get('/tmp/true'), 'added');
    const v = d.check(execEvent(driftedId, '/tmp/true', '/tmp/true'));
    assert.ok(v);
    assert.deepEqual([v.kind, v.reason, v.path, v.containerId, v.image], ['exec', 'added', '/tmp/true', driftedId, IMAGE]);
    // in the image: an applet symlink, and busybox — touched, so the diff lists it, but with the image's content
    assert.equal(d.check(execEvent(driftedId, '/bin/sleep', 'sleep 1')), undefined, 'a path of the image that was not changed');
    assert.equal(d.check(execEvent(driftedId, '/bin/busybox', 'busybox true')), undefined, 'touched, same content and mode as the image');
    assert.equal(w.changed.has('/bin/busybox'), false);
    // the replaced /bin/ls is modified since the image
    assert.equal(d.check(execEvent(driftedId, '/bin/ls', 'ls'))?.reason, 'modified');
    // a path the image never had and the diff did not list (written after the watch began, unseen)
    assert.equal(d.check(execEvent(driftedId, '/dev/shm/ghost', 'ghost'))?.reason, 'not-in-image');
    // the runtime re-executing itself as it enters the container (runc init) is no drift
    assert.equal(d.check(execEvent(driftedId, '/proc/self/exe', 'runc init')), undefined);
    assert.equal(d.check(execEvent(driftedId, '/dev/fd/6', 'runc init')), undefined);
    // …nor the host libraries it loads before it pivots into the container's root
    assert.equal(d.check({ ...openEvent(driftedId, '/lib/x86_64-linux-gnu/libseccomp.so.2', false), 'proc.exepath': '/dev/fd/6' }), undefined);
    assert.equal(d.check(openEvent(driftedId, '/lib/x86_64-linux-gnu/libseccomp.so.2', false))?.reason, 'not-in-image');
    // a failed exec ran nothing
    assert.equal(d.check({ ...execEvent(driftedId, '/tmp/true', 'x'), 'evt.rawres': -2 }), undefined);
    // a library opened for reading that the container added
    const lib = d.check(openEvent(driftedId, '/tmp/libevil.so', false));
    assert.deepEqual([lib?.kind, lib?.reason], ['library', 'added']);
    // other containers' and the host's events are not this detector's business
    assert.equal(d.check(execEvent(freshId, '/tmp/true', 'x')), undefined, 'not watched');
    assert.equal(d.check({ ...execEvent(driftedId, '/tmp/true', 'x'), 'container.id': 'host' }), undefined);
    await d.close();
  });

  it('writes the sensor reports after the watch began make later execs of those paths drift', async () => {
    const d = new DriftDetector({ engine, cache });
    await d.watch(fresh);
    assert.equal(d.check(execEvent(freshId, '/bin/busybox', 'busybox true')), undefined);
    assert.equal(d.check(openEvent(freshId, '/bin/busybox', true)), undefined, 'a write is not drift by itself');
    assert.equal(d.check(execEvent(freshId, '/bin/busybox', 'busybox true'))?.reason, 'modified');
    d.check(openEvent(freshId, '/tmp/dropped', true));
    assert.equal(d.check(execEvent(freshId, '/tmp/dropped', 'dropped'))?.reason, 'added');
    d.check({ 'evt.type': 'rename', 'evt.arg.oldpath': '/tmp/a', 'evt.arg.newpath': '/bin/cat', 'container.id': freshId.slice(0, 12) });
    assert.equal(d.check(execEvent(freshId, '/bin/cat', 'cat'))?.reason, 'modified');
    await d.close();
  });

  it('remembers writes to image paths always, and new paths up to a bound (past it they are still drift)', async () => {
    const d = new DriftDetector({ engine, cache, maxAddedWrites: 2 });
    const w = await d.watch(fresh);
    const base = w.changed.size;
    for (const p of ['/tmp/n1', '/tmp/n2', '/tmp/n3', '/tmp/n4']) d.check(openEvent(freshId, p, true));
    assert.equal(w.changed.size, base + 2);
    assert.equal(d.check(execEvent(freshId, '/tmp/n1', 'n1'))?.reason, 'added');
    assert.equal(d.check(execEvent(freshId, '/tmp/n4', 'n4'))?.reason, 'not-in-image');
    d.check(openEvent(freshId, '/bin/busybox', true));
    assert.equal(d.check(execEvent(freshId, '/bin/busybox', 'busybox'))?.reason, 'modified', 'image paths are kept past the bound');
    await d.close();
  });

  it("the sensor's upper-layer flag counts as a change, except for image binaries verified identical", async () => {
    const d = new DriftDetector({ engine, cache });
    await d.watch(fresh);
    await d.watch(drifted);
    const upper = (cid: string, p: string) => ({ ...execEvent(cid, p, p), 'proc.is_exe_upper_layer': true });
    assert.equal(d.check(upper(freshId, '/bin/busybox'))?.reason, 'modified', 'written before the watch, unseen: the kernel says upper layer');
    assert.equal(d.check(upper(freshId, '/opt/new'))?.reason, 'added');
    assert.equal(d.check(upper(driftedId, '/bin/busybox')), undefined, 'touched, hashed at watch time: same as the image');
    d.check(openEvent(driftedId, '/bin/busybox', true));
    assert.equal(d.check(upper(driftedId, '/bin/busybox'))?.reason, 'modified', 'written since the watch');
    await d.refresh(driftedId);
    await d.close();
  });

  it('exec paths resolve through the image symlinks (merged /usr: /bin/ls is /usr/bin/ls)', async () => {
    const file = (sha: string): ImageFile => ({ type: 'file', size: 1, mode: 0o755, sha256: sha });
    const files = new Map<string, ImageFile>([
      ['/usr', { type: 'dir', size: 0, mode: 0o755 }],
      ['/usr/bin', { type: 'dir', size: 0, mode: 0o755 }],
      ['/usr/bin/ls', file('a'.repeat(64))],
      ['/usr/bin/busybox', file('b'.repeat(64))],
      ['/usr/bin/sh', { type: 'symlink', size: 0, mode: 0o777, linkname: 'busybox' }],
      ['/bin', { type: 'symlink', size: 0, mode: 0o777, linkname: 'usr/bin' }],
      ['/loop', { type: 'symlink', size: 0, mode: 0o777, linkname: '/loop' }],
      ['/abs', { type: 'symlink', size: 0, mode: 0o777, linkname: '/usr/bin/../bin/ls' }],
    ]);
    assert.equal(resolveInIndex(files, '/bin/ls'), '/usr/bin/ls');
    assert.equal(resolveInIndex(files, '/bin/sh'), '/usr/bin/busybox');
    assert.equal(resolveInIndex(files, '/abs'), '/usr/bin/ls');
    assert.equal(resolveInIndex(files, '/../../bin/ls'), '/usr/bin/ls');
    assert.equal(resolveInIndex(files, '/loop'), undefined);
    const synthetic: ImageFileIndex = { imageId: 'f'.repeat(64), files, executables: 2, warnings: [] };
    const d = new DriftDetector({ engine, cache: new ImageIndexCache(async () => synthetic) });
    const w = await d.watch(fresh);
    assert.equal(d.check(execEvent(freshId, '/bin/ls', 'ls')), undefined);
    assert.equal(d.check(execEvent(freshId, '/bin/sh', 'sh')), undefined);
    assert.equal(d.check(execEvent(freshId, '/bin/nope', 'nope'))?.reason, 'not-in-image');
    assert.equal(d.check(execEvent(freshId, '/loop', 'loop'))?.reason, 'not-in-image');
    w.changed.set('/usr/bin/busybox', 'modified');
    assert.equal(d.check(execEvent(freshId, '/bin/sh', 'sh'))?.reason, 'modified', 'the link target changed');
    await d.close();
  });

  it('observe() watches an unknown container on its first event', async () => {
    const d = new DriftDetector({ engine, cache });
    const [a, b] = await Promise.all([d.observe(execEvent(driftedId, '/tmp/true', 'x')), d.observe(execEvent(driftedId, '/bin/sleep', 'sleep'))]);
    assert.equal(a?.reason, 'added');
    assert.equal(b, undefined);
    assert.equal(loads, 1, 'the image index was loaded once for every detector');
    await d.close();
  });

  it('drift is a Falco JSON alert and a Finding of kind drift', async () => {
    const d = new DriftDetector({ engine, cache });
    await d.watch(drifted);
    const v = d.check(execEvent(driftedId, '/tmp/true', '/tmp/true'))!;
    const a = driftAlert(v, 'node-1');
    assert.equal(a.rule, DRIFT_EXEC_RULE);
    assert.equal(a.priority, 'Critical');
    assert.equal(a.source, 'drift');
    assert.equal(a.hostname, 'node-1');
    assert.match(a.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
    assert.match(a.output, /^\d\d:\d\d:\d\d\.\d{9}: Critical Executable added to the container after it started executed \(path=\/tmp\/true /);
    assert.equal(a.output_fields['container.id'], driftedId.slice(0, 12));
    assert.equal(a.output_fields['proc.exepath'], '/tmp/true');
    assert.equal(a.output_fields['proc.cmdline'], '/tmp/true');
    assert.ok(a.tags.includes('drift'));
    const lib = driftAlert(d.check(openEvent(driftedId, '/tmp/libevil.so', false))!);
    assert.equal(lib.rule, DRIFT_LIBRARY_RULE);
    assert.equal(lib.output_fields['fd.name'], '/tmp/libevil.so');
    const f = driftFinding(v);
    assert.equal(f.kind, 'drift');
    assert.equal(f.severity, 'CRITICAL');
    assert.equal(f.resource.container?.id, driftedId);
    assert.equal(f.resource.image?.path, '/tmp/true');
    assert.match(f.fingerprint ?? '', /^[0-9a-f]{32}$/);
    assert.notEqual(driftFinding({ ...v, path: '/tmp/y' }).fingerprint, f.fingerprint, 'one finding per drifted path');
    await d.close();
  });

  it('the one-shot check flags the copied and the replaced binaries, not the touched image binary', async () => {
    const r = await checkContainerDrift(drifted, { engine, cache });
    assert.deepEqual(
      r.drift.map((x) => [x.path, x.reason, x.kind]),
      [
        ['/bin/ls', 'modified', 'exec'],
        ['/tmp/libevil.so', 'added', 'library'],
        ['/tmp/true', 'added', 'exec'],
      ],
    );
    const x = r.drift.find((d) => d.path === '/tmp/true')!;
    assert.equal(x.sha256, podman(['exec', drifted, 'sha256sum', '/tmp/true']).split(/\s+/)[0]);
    assert.deepEqual(r.unchanged, ['/bin/busybox'], 'touched: listed by the engine, same content and mode as the image');
    assert.equal(r.findings.length, 3);
    assert.ok(r.findings.every((f) => f.kind === 'drift'));
  });

  it('a container recreated from the same image has no drift', async () => {
    const r = await checkContainerDrift(fresh, { engine, cache });
    assert.deepEqual(r.drift, []);
    const d = new DriftDetector({ engine, cache });
    await d.watch(fresh);
    for (const p of ['/bin/busybox', '/bin/sh', '/bin/ls', '/bin/sleep']) assert.equal(d.check(execEvent(freshId, p, p)), undefined, p);
    await d.close();
  });

  it('the CLI reports drift as a table or JSON, with --exit-code; bad input is one line', async () => {
    const env = { DOCKER_HOST: HOST };
    const table = await runCli(['evidence', 'drift', drifted, '--exit-code', '3'], { env });
    assert.equal(table.code, 3, table.stderr);
    assert.match(table.stdout, /^\/tmp\/true\s+added\s+exec\s+[0-9a-f]{16}/m);
    assert.match(table.stdout, /3 drifted executable\(s\)/);
    const json = await runCli(['evidence', 'drift', fresh, '--format', 'json', '--host', HOST]);
    assert.equal(json.code, 0, json.stderr);
    const parsed = JSON.parse(json.stdout) as { drift: unknown[]; container: { id: string } };
    assert.deepEqual(parsed.drift, []);
    assert.equal(parsed.container.id, freshId);
    const unknown = await runCli(['evidence', 'drift', `nope-${runId}`], { env });
    assert.equal(unknown.code, 2);
    assert.equal(unknown.stderr.trim().split('\n').length, 1, unknown.stderr);
    assert.match(unknown.stderr, /^gatehouse: no such container/);
  });
});
