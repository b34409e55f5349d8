/**
 * The real docker CLI through the proxy, against podman's Docker-compatible API: allowed
 * commands behave as they do directly (output, exit codes, TTYs, streams, copies, builds)
 * and the dangerous ones are refused with the rule named in the CLI's error.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { missing, podmanSocket, testRegistry } from '../helpers/components.js';
import { ULIMITS, TEST_IMAGE, docker, podmanUp, policyWith, run, startProxy, testImagePresent, type RunningProxy } from './helpers.js';

const direct = `unix://${podmanSocket}`;
const up = podmanUp();
const imageOk = up && (await testImagePresent());

const POLICY = await policyWith(`
  - id: T-REGISTRY
    name: images must come from an approved registry
    severity: HIGH
    scope: { actions: [container.create, image.pull] }
    criteria: { field: image.registry, op: notIn, value: [localhost, 127.0.0.1:5000] }
    enforcement: [block]
  - id: T-PROTECTED
    name: protected containers cannot be exec'd into, killed, stopped or removed
    severity: HIGH
    scope: { actions: [exec.create, container.kill, container.stop, container.remove] }
    criteria: { field: target.labels, op: in, value: [gatehouse.protected=true] }
    enforcement: [block]
  - id: T-PUSH
    name: images are pushed to the team registry only
    severity: HIGH
    scope: { actions: [image.push] }
    criteria: { field: image.registry, op: notIn, value: [127.0.0.1:5000] }
    enforcement: [block]
`);

const suffix = `${process.pid}-${Date.now() % 100000}`;
const created: string[] = [];
const name = (n: string) => {
  const full = `gh-ep-${n}-${suffix}`;
  created.push(full);
  return full;
};

describe('docker CLI through engine-proxy', { skip: missing(up && imageOk, `podman API at ${podmanSocket}, docker CLI and ${TEST_IMAGE} (.ci/setup.d/70-engine-proxy.sh)`) }, () => {
  let p: RunningProxy;
  before(async () => {
    p = await startProxy(POLICY);
  });
  after(async () => {
    if (created.length) await docker(direct, ['rm', '-f', ...created]);
    await docker(direct, ['rmi', '-f', `localhost/gh-ep-built:${suffix}`]);
    await p?.close();
  });

  test('docker run: output, stderr and exit code as without the proxy', async () => {
    const script = 'echo out; echo err >&2; cat /data/greeting.txt; exit 3';
    const viaProxy = await docker(p.host, ['run', '--name', name('run1'), ...ULIMITS, TEST_IMAGE, 'sh', '-c', script]);
    const plain = await docker(direct, ['run', '--name', name('run2'), ...ULIMITS, TEST_IMAGE, 'sh', '-c', script]);
    assert.equal(viaProxy.code, 3, viaProxy.stderr);
    assert.equal(viaProxy.stdout, 'out\nhello from the image\n');
    assert.equal(viaProxy.stderr, 'err\n');
    assert.deepEqual(viaProxy, plain);
  });

  test('docker run -it attaches a pseudo-TTY both ways', async () => {
    // The keystrokes come late, as a person's would: typed before the attach is up, they
    // would race the container start (and podman then reports a broken attach pipe).
    const typed = `(sleep 4; printf 'tty; echo typed-$((6*7))\\nexit 5\\n')`;
    const r = await run('sh', ['-c', `${typed} | script -qec "docker run -it --name ${name('tty')} ${ULIMITS.join(' ')} ${TEST_IMAGE} sh" /dev/null`], {
      env: { DOCKER_HOST: p.host },
    });
    assert.equal(r.code, 5, r.stdout + r.stderr);
    assert.match(r.stdout, /\/dev\/pts\/\d+/);
    assert.match(r.stdout, /typed-42/);
  });

  const denials: [string, string[], string][] = [
    ['--privileged', ['--privileged'], 'EP001'],
    ['-v /:/host', ['-v', '/:/host'], 'EP005'],
    ['-v /var/run/docker.sock', ['-v', '/var/run/docker.sock:/var/run/docker.sock'], 'EP005'],
    ['--pid=host', ['--pid=host'], 'EP003'],
    ['--network=host', ['--network=host'], 'EP003'],
    ['--cap-add SYS_ADMIN', ['--cap-add', 'SYS_ADMIN'], 'EP006'],
    ['--security-opt seccomp=unconfined', ['--security-opt', 'seccomp=unconfined'], 'EP007'],
  ];
  for (const [label, flags, rule] of denials) {
    test(`docker run ${label} is denied by ${rule}`, async () => {
      const n = name('deny');
      const r = await docker(p.host, ['run', '--name', n, ...ULIMITS, ...flags, TEST_IMAGE, 'true']);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, new RegExp(`Error response from daemon: denied by gatehouse policy "engine\\+test": .*${rule}`));
      const inspect = await docker(direct, ['container', 'inspect', n]);
      assert.notEqual(inspect.code, 0, 'no container was created');
    });
  }

  test('a local volume bound to the host root is denied (EP014)', async () => {
    const r = await docker(p.host, ['volume', 'create', '--opt', 'type=none', '--opt', 'device=/', '--opt', 'o=bind', `gh-ep-hostroot-${suffix}`]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /denied by gatehouse policy "engine\+test": EP014/);
    const ok = await docker(p.host, ['volume', 'create', `gh-ep-plain-${suffix}`]);
    assert.equal(ok.code, 0, ok.stderr);
    await docker(direct, ['volume', 'rm', `gh-ep-plain-${suffix}`]);
  });

  test('images from unapproved registries: run and pull are denied, approved pull works', async () => {
    const r = await docker(p.host, ['run', '--name', name('evil'), 'evil.example.com/tools/shell:1', 'true']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /denied by gatehouse policy "engine\+test": T-REGISTRY images must come from an approved registry/);
    const pull = await docker(p.host, ['pull', 'evil.example.com/tools/shell:1']);
    assert.notEqual(pull.code, 0);
    assert.match(pull.stderr, /T-REGISTRY/);
    const ok = await docker(p.host, ['pull', '127.0.0.1:5000/gatehouse-test/ep-busybox:1']);
    assert.equal(ok.code, 0, ok.stderr);
  });

  test('exec into a protected container is denied; into an ordinary one it works', async () => {
    const prot = name('protected');
    const plain = name('plain');
    for (const [n, labels] of [[prot, ['--label', 'gatehouse.protected=true']], [plain, []]] as const) {
      const r = await docker(p.host, ['run', '-d', '--name', n, ...labels, ...ULIMITS, TEST_IMAGE, 'sleep', '300']);
      assert.equal(r.code, 0, r.stderr);
    }
    const denied = await docker(p.host, ['exec', prot, 'cat', '/data/greeting.txt']);
    assert.notEqual(denied.code, 0);
    assert.match(denied.stderr, /denied by gatehouse policy "engine\+test": T-PROTECTED/);
    for (const cmd of [['stop', '-t', '1', prot], ['kill', prot], ['rm', '-f', prot]]) {
      const r = await docker(p.host, cmd);
      assert.notEqual(r.code, 0, cmd.join(' '));
      assert.match(r.stderr, /T-PROTECTED/, cmd.join(' '));
    }
    const still = await docker(direct, ['inspect', '-f', '{{.State.Running}}', prot]);
    assert.equal(still.stdout.trim(), 'true');
    const ok = await docker(p.host, ['exec', plain, 'sh', '-c', 'cat /data/greeting.txt; exit 4']);
    assert.equal(ok.code, 4);
    assert.equal(ok.stdout, 'hello from the image\n');
    const privExec = await docker(p.host, ['exec', '--privileged', plain, 'true']);
    assert.match(privExec.stderr, /EP002/);
  });

  test('docker logs -f streams lines as they are written', async () => {
    const n = name('logs');
    const r = await docker(p.host, ['run', '-d', '--name', n, ...ULIMITS, TEST_IMAGE, 'sh', '-c', 'echo first; sleep 60; echo never']);
    assert.equal(r.code, 0, r.stderr);
    const seen = await firstOutput(['logs', '-f', n], /first\n/, 20_000);
    assert.match(seen, /first/);
    assert.doesNotMatch(seen, /never/);
  });

  test('docker events streams container events', async () => {
    const n = name('events');
    const since = Math.floor(Date.now() / 1000) - 1;
    const watcher = firstOutput(['events', '--since', String(since), '--filter', `container=${n}`, '--format', '{{.Action}} {{.Actor.Attributes.name}}'], new RegExp(`start ${n}`), 30_000);
    await new Promise((r) => setTimeout(r, 500));
    const r = await docker(p.host, ['run', '-d', '--name', n, ...ULIMITS, TEST_IMAGE, 'true']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(await watcher, new RegExp(`start ${n}`));
  });

  test('docker cp in both directions, byte for byte', async () => {
    const n = name('cp');
    const r = await docker(p.host, ['run', '-d', '--name', n, ...ULIMITS, TEST_IMAGE, 'sleep', '300']);
    assert.equal(r.code, 0, r.stderr);
    const dir = mkdtempSync(join(tmpdir(), 'gh-ep-cp-'));
    const out = await docker(p.host, ['cp', `${n}:/data/greeting.txt`, join(dir, 'greeting.txt')]);
    assert.equal(out.code, 0, out.stderr);
    assert.equal(readFileSync(join(dir, 'greeting.txt'), 'utf8'), 'hello from the image\n');
    const blob = randomBytes(8 << 20);
    writeFileSync(join(dir, 'blob.bin'), blob);
    const put = await docker(p.host, ['cp', join(dir, 'blob.bin'), `${n}:/tmp/blob.bin`]);
    assert.equal(put.code, 0, put.stderr);
    const sum = await docker(p.host, ['exec', n, 'sha256sum', '/tmp/blob.bin']);
    assert.equal(sum.stdout.split(' ')[0], createHash('sha256').update(blob).digest('hex'));
    const back = await docker(p.host, ['cp', `${n}:/tmp/blob.bin`, join(dir, 'back.bin')]);
    assert.equal(back.code, 0, back.stderr);
    assert.ok(readFileSync(join(dir, 'back.bin')).equals(blob));
  });

  test('docker build through the proxy, then run the built image', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gh-ep-build-'));
    mkdirSync(join(dir, 'ctx'));
    writeFileSync(join(dir, 'ctx', 'hello.txt'), 'built through the proxy\n');
    writeFileSync(join(dir, 'ctx', 'Dockerfile'), `FROM ${TEST_IMAGE}\nCOPY hello.txt /hello.txt\nLABEL built.by=gatehouse-test\n`);
    const tag = `localhost/gh-ep-built:${suffix}`;
    const b = await docker(p.host, ['build', '-t', tag, join(dir, 'ctx')], { timeoutMs: 180_000 });
    assert.equal(b.code, 0, b.stdout + b.stderr);
    const r = await docker(p.host, ['run', '--name', name('built'), ...ULIMITS, tag, 'cat', '/hello.txt']);
    assert.equal(r.stdout, 'built through the proxy\n', r.stderr);
  });

  test('docker save, load and push through the proxy; a push elsewhere is denied', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gh-ep-save-'));
    const tarPath = join(dir, 'image.tar');
    const saved = await docker(p.host, ['save', '-o', tarPath, TEST_IMAGE]);
    assert.equal(saved.code, 0, saved.stderr);
    const id = (await docker(direct, ['image', 'inspect', '--format', '{{.Id}}', TEST_IMAGE])).stdout.trim();
    const loaded = await docker(p.host, ['load', '-i', tarPath]);
    assert.equal(loaded.code, 0, loaded.stderr);
    assert.match(loaded.stdout, /Loaded image/);
    assert.equal((await docker(direct, ['image', 'inspect', '--format', '{{.Id}}', TEST_IMAGE])).stdout.trim(), id, 'the saved archive loads back as the same image');

    const pushed = `${testRegistry}/gatehouse-test/ep-push:${suffix}`;
    const elsewhere = `localhost:5999/gatehouse-test/ep-push:${suffix}`;
    for (const t of [pushed, elsewhere]) assert.equal((await docker(direct, ['tag', TEST_IMAGE, t])).code, 0);
    try {
      const ok = await docker(p.host, ['push', pushed]);
      assert.equal(ok.code, 0, ok.stdout + ok.stderr);
      const res = await fetch(`http://${testRegistry}/v2/gatehouse-test/ep-push/manifests/${suffix}`, {
        method: 'HEAD',
        headers: { Accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' },
      });
      assert.equal(res.status, 200, 'the pushed manifest is in the registry');
      const denied = await docker(p.host, ['push', elsewhere]);
      assert.notEqual(denied.code, 0);
      assert.match(denied.stderr, /T-PUSH/);
    } finally {
      await docker(direct, ['rmi', pushed, elsewhere]);
    }
  });

  test('every decision is in the audit log with the caller identified', () => {
    const recs = p.audit();
    const denies = recs.filter((r) => r.decision === 'deny');
    assert.ok(denies.length >= denials.length + 3);
    const priv = denies.find((r) => (r.rules as string[]).includes('EP001'));
    assert.ok(priv);
    assert.equal(priv.action, 'container.create');
    assert.equal(priv.image, TEST_IMAGE);
    const caller = priv.caller as { uid: number; pid: number; user: string; transport: string };
    assert.equal(caller.transport, 'unix');
    assert.equal(caller.uid, process.getuid!());
    assert.ok(caller.pid > 0 && caller.pid !== process.pid, 'pid is the docker CLI, not the proxy');
    assert.ok(recs.some((r) => r.action === 'container.attach' && r.decision !== 'deny'));
    assert.ok(recs.some((r) => r.decision === 'warn' && (r.rules as string[]).includes('EP009')), 'inform policy logged as would-deny');
    // Decisions are Findings at the edge: one per violated policy, with a stable fingerprint.
    const f = (priv.findings as { id: string; kind: string; fingerprint: string; resource: { host?: string; container?: { image?: string } } }[]).find((x) => x.id === 'EP001');
    assert.ok(f);
    assert.equal(f.kind, 'policy');
    assert.match(f.fingerprint, /^[0-9a-f]{32}$/);
    assert.equal(f.resource.container?.image, TEST_IMAGE);
    assert.ok(f.resource.host);
  });

  /** Starts a docker command through the proxy and resolves with its output once `until` matches. */
  function firstOutput(args: string[], until: RegExp, timeoutMs: number): Promise<string> {
    return new Promise((resolve, reject) => {
      const child = spawn('docker', args, { env: { ...process.env, DOCKER_HOST: p.host } });
      let out = '';
      let err = '';
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`timed out waiting for ${until} from docker ${args.join(' ')}: ${out} ${err}`));
      }, timeoutMs);
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (until.test(out)) {
          clearTimeout(timer);
          child.kill('SIGTERM');
          resolve(out);
        }
      });
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    });
  }
});
