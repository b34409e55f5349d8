/**
 * Drift with the real sensor (bpftrace, root): the sensor's events of real podman (runc)
 * containers go through a DriftDetector, as the host agent would feed them. A binary copied
 * into a running container and executed raises a drift alert; the image's binaries, run
 * in the same container and in a container recreated from the same image, do not; a binary
 * written after the watch began (seen only through the sensor's write events) is drift too.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { hasCommand, missing, podmanSocket, testRegistry } from '../helpers/components.js';
import { EngineApi } from '../../src/respond/evidence/engine.js';
import { DriftDetector } from '../../src/respond/drift/detector.js';
import { DRIFT_EXEC_RULE, driftAlert, type DriftVerdict } from '../../src/respond/drift/verdict.js';
import { Sensor } from '../../src/sensor/sensor.js';
import { DEFAULT_OPEN_BOUNDS } from '../../src/sensor/open-filter.js';
import { withLibraryOpens } from '../../src/respond/drift/open-bounds.js';
import type { RuntimeEvent } from '../../src/runtime/event.js';

const IMAGE = 'localhost/gatehouse-ep-busybox:1';
const HOST = `unix://${podmanSocket}`;
const RUN = ['run', '-d', '--runtime', 'runc', '--ulimit', 'nofile=20000:20000', '--ulimit', 'nproc=1024:1024'];
/** Debian bookworm (merged /usr, dynamically linked), from the local test registry (.ci/setup.d/40-test-images.sh). */
const DEBIAN = `${testRegistry}/gatehouse-test/debian:bookworm`;
const debianReady = () =>
  spawnSync('podman', ['image', 'exists', DEBIAN]).status === 0 || spawnSync('podman', ['pull', '-q', DEBIAN], { timeout: 300_000 }).status === 0;
const isRoot = process.getuid?.() === 0;
const podmanReady = existsSync(podmanSocket) && hasCommand('podman') && spawnSync('podman', ['image', 'exists', IMAGE]).status === 0;
const skip =
  missing(isRoot, 'the sensor needs root') ||
  missing(hasCommand('bpftrace'), 'bpftrace not installed (.ci/setup.d/65-bpftrace.sh)') ||
  missing(existsSync('/sys/kernel/tracing/events'), 'tracefs not mounted at /sys/kernel/tracing (mount -t tracefs nodev /sys/kernel/tracing)') ||
  missing(podmanReady, `podman socket ${podmanSocket} and image ${IMAGE} (.ci/setup.d/20-podman.sh, 70-engine-proxy.sh)`) ||
  missing(debianReady(), `image ${DEBIAN} in podman or the test registry (.ci/setup.d/40-test-images.sh)`);
const runId = Math.random().toString(36).slice(2, 8);

function podman(args: string[]): string {
  const r = spawnSync('podman', args, { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, `podman ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

const until = async (what: string, ok: () => boolean, ms = 30_000, seen?: () => unknown) => {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${seen ? `; seen: ${JSON.stringify(seen())}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
};

describe('drift from the real sensor on real podman containers', { skip, timeout: 600_000 }, () => {
  const drifted = `gh-drift-s-${runId}`;
  const debian = `gh-drift-deb-${runId}`;
  let debianId = '';
  const libraryOpens: RuntimeEvent[] = [];
  const recreated = `gh-drift-s2-${runId}`;
  let sensor: Sensor;
  let engine: EngineApi;
  let detector: DriftDetector;
  let loop: Promise<void>;
  const verdicts: DriftVerdict[] = [];
  const execs: RuntimeEvent[] = [];
  let driftedId = '';
  let recreatedId = '';

  before(async () => {
    engine = new EngineApi(HOST);
    detector = new DriftDetector({ engine });
    // the default open set (all writes, sensitive reads) plus reads of shared objects
    sensor = await Sensor.start({ engineSocket: podmanSocket, openBounds: withLibraryOpens(DEFAULT_OPEN_BOUNDS) });
    loop = (async () => {
      for await (const ev of sensor.events()) {
        const cid = ev['container.id'];
        if (typeof cid !== 'string' || cid === 'host' || !cid) continue;
        if (ev['evt.type'] === 'execve') execs.push(ev);
        if (typeof ev['fd.name'] === 'string' && /\.so(\.|$)/.test(ev['fd.name']) && ev['evt.is_open_read'] === true) libraryOpens.push(ev);
        const v = await detector.observe(ev);
        if (v) verdicts.push(v);
      }
    })();
    driftedId = podman([...RUN, '--name', drifted, IMAGE, 'sleep', '600']);
    await until('the drifted container to be watched', () => detector.watched(driftedId) !== undefined);
    // copy a binary in and run it, then run binaries of the image (each a real execve by runc:
    // busybox's sh runs some applets in-process, without one)
    podman(['exec', drifted, 'cp', '/bin/busybox', '/tmp/true']);
    podman(['exec', drifted, '/tmp/true']);
    podman(['exec', drifted, '/bin/ls', '/']);
    podman(['exec', drifted, '/bin/busybox', 'true']);
    // a shared object dropped in and read (what a loader does; this image's busybox is static)
    podman(['exec', drifted, 'sh', '-c', 'printf "\\177ELF" > /tmp/libevil.so']);
    podman(['exec', drifted, '/bin/cat', '/tmp/libevil.so']);
    await until('the library drift verdict', () => verdicts.some((v) => v.kind === 'library'), 30_000, () => verdicts.map((v) => [v.path, v.kind]));
    await until("the drifted container's exec of busybox", () => execs.some((e) => e['container.id'] === driftedId.slice(0, 12) && e['proc.exepath'] === '/bin/busybox' && e['proc.cmdline'] === 'busybox true'), 30_000, () => execs.map((e) => [e['container.id'], e['proc.exepath'], e['proc.cmdline']]));
    // the container recreated from the same image
    podman(['rm', '-f', '-t', '0', drifted]);
    recreatedId = podman([...RUN, '--name', recreated, IMAGE, 'sleep', '600']);
    await until('the recreated container to be watched', () => detector.watched(recreatedId) !== undefined);
    podman(['exec', recreated, '/bin/ls', '/']);
    podman(['exec', recreated, '/bin/busybox', 'true']);
    podman(['exec', recreated, '/bin/cat', '/etc/hostname']);
    await until("the recreated container's exec of cat", () => execs.some((e) => e['container.id'] === recreatedId.slice(0, 12) && e['proc.name'] === 'cat'), 30_000, () => execs.map((e) => [e['container.id'], e['proc.exepath'], e['proc.cmdline']]));

    // Debian: merged /usr (/bin and /lib are links), dynamically linked binaries. The image
    // index is loaded first, so that the event loop never waits seconds on it.
    await detector.images.get(podman(['image', 'inspect', '--format', '{{.Id}}', DEBIAN]));
    debianId = podman([...RUN, '--name', debian, DEBIAN, 'sleep', '600']);
    await until('the Debian container to be watched', () => detector.watched(debianId) !== undefined);
    podman(['exec', debian, '/bin/ls', '/']);
    podman(['exec', debian, 'cp', '/usr/lib/x86_64-linux-gnu/libselinux.so.1', '/tmp/libevil.so']);
    podman(['exec', debian, 'env', 'LD_PRELOAD=/tmp/libevil.so', '/bin/ls', '/']);
    await until('the Debian library drift', () => verdicts.some((v) => v.containerId === debianId), 30_000, () => verdicts.map((v) => [v.path, v.kind]));
  });

  after(async () => {
    for (const c of [drifted, recreated, debian]) spawnSync('podman', ['rm', '-f', '-i', '-t', '0', c], { stdio: 'ignore' });
    await sensor?.stop();
    await loop;
    await detector?.close();
    await engine?.close();
  });

  it('the exec of the binary copied in is drift, as a Falco JSON alert', () => {
    const mine = verdicts.filter((v) => v.containerId === driftedId && v.kind === 'exec');
    assert.deepEqual(
      mine.map((v) => [v.path, v.reason, v.kind]),
      [['/tmp/true', 'added', 'exec']],
      `execs seen: ${JSON.stringify(execs.filter((e) => e['container.id'] === driftedId.slice(0, 12)).map((e) => e['proc.exepath']))}`,
    );
    const a = driftAlert(mine[0]!);
    assert.equal(a.rule, DRIFT_EXEC_RULE);
    assert.equal(a.output_fields['container.id'], driftedId.slice(0, 12));
    assert.equal(a.output_fields['proc.exepath'], '/tmp/true');
    assert.equal(a.output_fields['container.image'], IMAGE);
  });

  it('a shared object the container added, opened for reading, is library drift', () => {
    const libs = verdicts.filter((v) => v.containerId === driftedId && v.kind === 'library');
    assert.deepEqual(libs.map((v) => v.path), ['/tmp/libevil.so']);
    // `added` when the sensor's write event was seen; `not-in-image` when it was not (a drop
    // on a busy machine): drift either way
    assert.ok(['added', 'not-in-image'].includes(libs[0]!.reason), libs[0]!.reason);
    assert.equal(driftAlert(libs[0]!).output_fields['fd.name'], '/tmp/libevil.so');
  });

  it('the image binaries the sensor saw run are not drift', () => {
    const ran = execs.filter((e) => e['container.id'] === driftedId.slice(0, 12)).map((e) => e['proc.exepath']);
    assert.ok(ran.includes('/bin/busybox'), `image binaries ran: ${JSON.stringify(ran)}`);
    assert.ok(ran.includes('/tmp/true'));
  });

  it('a container recreated from the same image has no drift', () => {
    const ran = execs.filter((e) => e['container.id'] === recreatedId.slice(0, 12));
    assert.ok(ran.length >= 3, 'the sensor saw the recreated container work');
    assert.deepEqual(verdicts.filter((v) => v.containerId === recreatedId), []);
  });

  it("Debian: the image's binaries and libraries through /bin and /lib links are not drift; a preloaded library dropped in is", () => {
    const mine = (e: RuntimeEvent) => e['container.id'] === debianId.slice(0, 12);
    const ran = execs.filter(mine).map((e) => e['proc.exepath']);
    assert.ok(ran.includes('/bin/ls'), `execs: ${JSON.stringify(ran)}`);
    const libs = libraryOpens.filter(mine).map((e) => e['fd.name']);
    assert.ok(libs.includes('/lib/x86_64-linux-gnu/libc.so.6'), `library opens: ${JSON.stringify(libs)}`);
    const debianDrift = verdicts.filter((v) => v.containerId === debianId);
    assert.deepEqual(debianDrift.map((v) => [v.path, v.kind]), [['/tmp/libevil.so', 'library']]);
    // `added` when the sensor's write event was seen, `not-in-image` when a busy machine lost it: drift either way.
    assert.ok(['added', 'not-in-image'].includes(debianDrift[0]!.reason), debianDrift[0]!.reason);
  });

  it('a binary written after the watch began, seen through the sensor\'s writes only, is drift when run', async () => {
    const before = verdicts.length;
    podman(['exec', recreated, 'sh', '-c', 'cat /bin/busybox > /tmp/echo && chmod +x /tmp/echo']);
    podman(['exec', recreated, '/tmp/echo', 'hi']);
    await until('the drift verdict', () => verdicts.length > before, 30_000);
    const v = verdicts.slice(before);
    assert.deepEqual(v.map((x) => [x.path, x.reason]), [['/tmp/echo', 'added']], `sensor: ${JSON.stringify(sensor.stats())}`);
  });
});
