/**
 * Evidence bundles from real podman containers (runc) through the engine's Docker API:
 * a running container's bundle holds its processes, logs, connections, inspect output and
 * filesystem diff (with the sha256 of what was dropped into it, checked against sha256sum
 * run inside the container); it verifies with the signer's public key; a tampered bundle
 * (changed part, changed manifest, extra or missing file, wrong key, hostile part names)
 * fails naming the part; big files are hashed, not copied; hostile file names in the
 * container never become paths; bad input is one line, never a stack.
 */
import { spawnSync } from 'node:child_process';
import { createHash, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { hasCommand, missing, podmanSocket } from '../helpers/components.js';
import { runCli } from '../helpers/cli.js';
import { collectEvidence, type EvidenceResult } from '../../src/respond/evidence/collect.js';
import { verifyEvidence } from '../../src/respond/evidence/verify.js';
import { generateKeyPair, parsePrivateKey, parsePublicKey } from '../../src/trust/keys.js';

const IMAGE = 'localhost/gatehouse-ep-busybox:1';
const HOST = `unix://${podmanSocket}`;
const RUN = ['run', '-d', '--runtime', 'runc', '--ulimit', 'nofile=20000:20000', '--ulimit', 'nproc=1024:1024'];
const podmanReady = existsSync(podmanSocket) && hasCommand('podman') && spawnSync('podman', ['image', 'exists', IMAGE]).status === 0;
const skip = missing(podmanReady, `podman socket ${podmanSocket} and image ${IMAGE} (.ci/setup.d/20-podman.sh, 70-engine-proxy.sh)`);

const runId = Math.random().toString(36).slice(2, 8);
const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

function podman(args: string[]): string {
  const r = spawnSync('podman', args, { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, `podman ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

/** sha256 of a file as the container itself computes it. */
function inContainerSha(name: string, path: string): string {
  return podman(['exec', name, 'sha256sum', path]).split(/\s+/)[0]!;
}

function listAll(dir: string, base = ''): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? listAll(join(dir, e.name), `${base}${e.name}/`) : [`${base}${e.name}`]));
}

describe('evidence bundles from a running podman container', { skip, timeout: 300_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'gh-evidence-'));
  const name = `gh-evidence-${runId}`;
  let privateKey: KeyObject;
  let publicKey: KeyObject;
  let bundle: EvidenceResult;
  const bundleDir = join(dir, 'bundle');
  const script = [
    'echo evidence-started',
    'echo evidence-oops >&2',
    'cp /bin/busybox /tmp/dropper',
    'dd if=/dev/urandom of=/tmp/big bs=1024 count=3072 2>/dev/null',
    'printf small-content > /tmp/small',
    // hostile names: traversal-looking, a newline, shell metacharacters
    'mkdir -p "/tmp/..x" && printf a > "/tmp/..x/..%2F..%2Fescape" && printf b > "$(printf "/tmp/new\\nline")" && printf c > "/tmp/\\$(touch pwned)"',
    // a link to a host-sensitive path: recorded as a link, never followed
    'ln -s /etc/shadow /tmp/shadow-link',
    'rm /bin/vi',
    'nc -l -p 8080 -e /bin/cat & sleep 600',
  ].join('; ');

  before(async () => {
    podman([...RUN, '--name', name, IMAGE, 'sh', '-c', script]);
    // wait until the script reached its sleep: the last file is written and the listener is up
    for (let i = 0; i < 100; i++) {
      const ready = spawnSync('podman', ['exec', name, 'sh', '-c', 'test -f "/tmp/\\$(touch pwned)" && grep -qE ":1F90 0+:0000 0A" /proc/net/tcp /proc/net/tcp6'], { encoding: 'utf8' });
      if (ready.status === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const pass = 'evidence-test';
    const pair = await generateKeyPair(pass);
    writeFileSync(join(dir, 'cosign.key'), pair.privatePem);
    writeFileSync(join(dir, 'cosign.pub'), pair.publicPem);
    privateKey = await parsePrivateKey(pair.privatePem, 'cosign.key', async () => pass);
    publicKey = parsePublicKey(pair.publicPem, 'cosign.pub');
    const alert = { rule: 'Drop and execute new binary in container', priority: 'Critical', output_fields: { 'container.name': name } };
    // the sensor's events carry bigint times
    const event = { 'evt.type': 'execve', 'evt.rawtime': 1765000000123456789n, 'proc.exepath': '/tmp/dropper', 'container.id': 'x' };
    bundle = await collectEvidence({ container: name, host: HOST, output: bundleDir, signingKey: privateKey, events: [alert, event], incident: { id: 'inc-1', trigger: 'test' } });
  });

  after(() => {
    spawnSync('podman', ['rm', '-f', '-t', '0', name], { stdio: 'ignore' });
    rmSync(dir, { recursive: true, force: true });
  });

  it('holds every part, each listed with its sha256, and verifies with the trusted key', async () => {
    const kinds = new Set(bundle.manifest.parts.map((p) => p.kind));
    for (const k of ['inspect', 'processes', 'events', 'logs', 'network', 'changes', 'file'] as const) assert.ok(kinds.has(k), `part ${k} (unavailable: ${JSON.stringify(bundle.manifest.unavailable)})`);
    for (const p of bundle.manifest.parts) assert.equal(sha256(readFileSync(join(bundleDir, p.path))), p.sha256, p.path);
    assert.equal(bundle.signed, true);
    const r = await verifyEvidence(bundleDir, publicKey);
    assert.deepEqual(r.problems, []);
    assert.equal(r.ok, true);
    assert.equal(r.signature, 'trusted-key');
    assert.equal(r.partsChecked, bundle.manifest.parts.length);
  });

  it('records the container, its processes with command lines, logs, connections and the triggering events', () => {
    const id = podman(['inspect', '--format', '{{.Id}}', name]);
    assert.equal(bundle.manifest.container.id, id);
    assert.equal(bundle.manifest.container.name, name);
    assert.equal(bundle.manifest.incident?.id, 'inc-1');
    const inspect = JSON.parse(readFileSync(join(bundleDir, 'inspect.json'), 'utf8')) as { Id: string };
    assert.equal(inspect.Id, id);
    const procs = JSON.parse(readFileSync(join(bundleDir, 'processes.json'), 'utf8')) as { source: string; processes: Array<{ cmdline: string[]; nspid?: number }> };
    assert.equal(procs.source, 'proc');
    assert.ok(procs.processes.some((p) => p.cmdline.join(' ') === 'sleep 600'), JSON.stringify(procs.processes));
    assert.ok(procs.processes.some((p) => p.cmdline[0] === 'nc'), 'the listener is in the tree');
    assert.ok(procs.processes.some((p) => p.nspid === 1), 'pid 1 inside the container');
    const logs = readFileSync(join(bundleDir, 'logs.txt'), 'utf8');
    assert.match(logs, /^stdout \S+ evidence-started$/m);
    assert.match(logs, /^stderr \S+ evidence-oops$/m);
    const net = JSON.parse(readFileSync(join(bundleDir, 'network.json'), 'utf8')) as { connections: Array<{ proto: string; local: string; state: string; pids?: number[] }> };
    const listen = net.connections.find((c) => c.state === 'LISTEN' && /:8080$/.test(c.local));
    assert.ok(listen, JSON.stringify(net.connections));
    // busybox nc listens on the IPv6 wildcard (dual stack)
    assert.equal(`${listen.proto} ${listen.local}`, 'tcp6 [::]:8080');
    assert.ok(listen.pids?.length, 'the socket is attributed to the listening process');
    const events = JSON.parse(readFileSync(join(bundleDir, 'events.json'), 'utf8')) as Array<Record<string, unknown>>;
    assert.equal(events[0]?.rule, 'Drop and execute new binary in container');
    assert.equal(events[1]?.['evt.rawtime'], '1765000000123456789');
  });

  it('diffs the filesystem against the image: sha256 of the dropped executable, big files hashed not copied', () => {
    const changes = JSON.parse(readFileSync(join(bundleDir, 'changes.json'), 'utf8')) as {
      changes: Array<{ path: string; kind: string; type?: string; executable?: boolean; magic?: string; sha256?: string; copy?: string; size?: number; note?: string }>;
    };
    const by = new Map(changes.changes.map((c) => [c.path, c]));
    assert.equal(by.get('/bin/vi')?.kind, 'deleted');
    assert.equal((changes as { truncated?: boolean }).truncated, undefined, 'every added or changed file was read');
    const dropper = by.get('/tmp/dropper');
    assert.ok(dropper, JSON.stringify([...by.keys()]));
    assert.equal(dropper.kind, 'added');
    assert.equal(dropper.executable, true);
    assert.equal(dropper.magic, 'elf');
    assert.equal(dropper.sha256, inContainerSha(name, '/tmp/dropper'));
    // busybox (~2 MB) and /tmp/big (3 MiB) are past the 1 MiB copy limit: hashed only
    assert.equal(dropper.copy, undefined);
    const big = by.get('/tmp/big')!;
    assert.equal(big.size, 3 << 20);
    assert.equal(big.sha256, inContainerSha(name, '/tmp/big'));
    assert.equal(big.copy, undefined);
    assert.match(big.note ?? '', /hashed, not copied/);
    assert.ok(!existsSync(join(bundleDir, 'files', big.sha256!)));
    const small = by.get('/tmp/small')!;
    assert.equal(small.copy, `files/${sha256('small-content')}`);
    assert.equal(readFileSync(join(bundleDir, small.copy), 'utf8'), 'small-content');
    // the whole bundle stays far below what the container wrote
    const total = listAll(bundleDir).reduce((n, f) => n + statSync(join(bundleDir, f)).size, 0);
    assert.ok(total < 1 << 20, `bundle is ${total} bytes`);
  });

  it('never turns a name from the container into a path', () => {
    const changes = JSON.parse(readFileSync(join(bundleDir, 'changes.json'), 'utf8')) as { changes: Array<{ path: string; copy?: string }> };
    const hostile = changes.changes.filter((c) => c.path.includes('escape') || c.path.includes('\n') || c.path.includes('$('));
    assert.equal(hostile.length, 3, JSON.stringify(changes.changes.map((c) => c.path)));
    for (const h of hostile) assert.match(h.copy ?? '', /^files\/[0-9a-f]{64}$/);
    for (const f of listAll(bundleDir)) assert.match(f, /^(?:[a-z.-]+\.(?:json|txt|pub)|files\/[0-9a-f]{64})$/, f);
    assert.ok(!existsSync(join(dir, 'escape')) && !existsSync(join(process.cwd(), 'pwned')));
  });

  it('records links as links: a link to /etc/shadow is never followed onto the host', () => {
    const changes = JSON.parse(readFileSync(join(bundleDir, 'changes.json'), 'utf8')) as { changes: Array<{ path: string; type?: string; linkTarget?: string; sha256?: string; copy?: string }> };
    const link = changes.changes.find((c) => c.path === '/tmp/shadow-link');
    assert.deepEqual([link?.type, link?.linkTarget, link?.sha256, link?.copy], ['symlink', '/etc/shadow', undefined, undefined]);
    const hostShadow = sha256(readFileSync('/etc/shadow'));
    assert.ok(!existsSync(join(bundleDir, 'files', hostShadow)));
  });

  it("reads changed files from the writable layer here, and the same through the engine's archive endpoint alone", async () => {
    const out = join(dir, 'engine-only');
    const r = await collectEvidence({ container: name, host: HOST, output: out, noProc: true });
    const type = (d: string) => JSON.parse(readFileSync(join(d, 'changes.json'), 'utf8')) as { changes: Array<{ path: string; type?: string; sha256?: string; mode?: string; size?: number; linkTarget?: string }> };
    const key = (c: { path: string; type?: string; sha256?: string; mode?: string; size?: number; linkTarget?: string }) => JSON.stringify([c.path, c.type, c.sha256, c.mode, c.size, c.linkTarget]);
    // podman's archive endpoint follows links: the dangling link cannot be read through it
    const viaEngine = type(out).changes;
    assert.match((viaEngine.find((c) => c.path === '/tmp/shadow-link') as { note?: string }).note ?? '', /^not readable through the engine/);
    const others = (l: typeof viaEngine) => l.filter((c) => c.path !== '/tmp/shadow-link').map(key).sort();
    assert.deepEqual(others(viaEngine), others(type(bundleDir).changes));
    assert.equal(viaEngine.length, type(bundleDir).changes.length);
    // without the host's /proc: the engine's top, no connections
    const procs = JSON.parse(readFileSync(join(out, 'processes.json'), 'utf8')) as { source: string; processes: Array<Record<string, string>> };
    assert.equal(procs.source, 'engine');
    assert.ok(procs.processes.some((p) => p.COMMAND === 'sleep 600'), JSON.stringify(procs.processes));
    assert.ok(r.manifest.unavailable.some((u) => u.part === 'network.json'));
  });

  it("never reads a /proc whose pid is not the container's (as with a remote engine)", async () => {
    const fakeProc = mkdtempSync(join(tmpdir(), 'gh-fake-proc-'));
    const out = join(dir, 'not-local');
    try {
      const r = await collectEvidence({ container: name, host: HOST, output: out, procRoot: fakeProc });
      const procs = JSON.parse(readFileSync(join(out, 'processes.json'), 'utf8')) as { source: string };
      assert.equal(procs.source, 'engine');
      assert.match(r.manifest.unavailable.find((u) => u.part === 'network.json')?.reason ?? '', /not readable in this host's \/proc/);
    } finally {
      rmSync(fakeProc, { recursive: true, force: true });
    }
  });

  function copyOf(label: string): string {
    const target = join(dir, `tampered-${label}`);
    cpSync(bundleDir, target, { recursive: true });
    return target;
  }

  it('a changed part fails, naming the part', async () => {
    const t = copyOf('part');
    writeFileSync(join(t, 'logs.txt'), 'stdout nothing to see here\n');
    const r = await verifyEvidence(t, { publicKey });
    assert.equal(r.ok, false);
    assert.equal(r.problems.length, 1, r.problems.join('\n'));
    assert.match(r.problems[0]!, /^part logs\.txt: sha256 .* does not match/);
    const copied = bundle.manifest.parts.find((p) => p.kind === 'file')!;
    writeFileSync(join(t, copied.path), 'x');
    const r2 = await verifyEvidence(t, { publicKey });
    assert.ok(r2.problems.some((p) => p.startsWith(`part ${copied.path}:`)), r2.problems.join('\n'));
  });

  it('a changed manifest fails, even with part hashes re-computed', async () => {
    const t = copyOf('manifest');
    writeFileSync(join(t, 'logs.txt'), 'stdout rewritten\n');
    const m = JSON.parse(readFileSync(join(t, 'manifest.json'), 'utf8')) as { parts: Array<{ path: string; sha256: string; size: number }> };
    const logs = m.parts.find((p) => p.path === 'logs.txt')!;
    logs.sha256 = sha256('stdout rewritten\n');
    logs.size = 'stdout rewritten\n'.length;
    writeFileSync(join(t, 'manifest.json'), `${JSON.stringify(m, null, 1)}\n`);
    const r = await verifyEvidence(t, { publicKey });
    assert.equal(r.ok, false);
    assert.equal(r.signature, 'invalid');
    assert.deepEqual(r.problems.length, 1, r.problems.join('\n'));
    assert.match(r.problems[0]!, /^manifest\.sig\.json: manifest\.json changed since it was signed/);
    // …also when the attacker re-signs with their own key and swaps signer.pub: the trusted key says no
    const { privateKey: evil } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const { signManifest } = await import('../../src/respond/evidence/manifest.js');
    const resigned = signManifest(readFileSync(join(t, 'manifest.json')), evil, bundle.manifest.container.id);
    writeFileSync(join(t, 'manifest.sig.json'), resigned.signature);
    writeFileSync(join(t, 'signer.pub'), resigned.publicPem);
    assert.equal((await verifyEvidence(t)).ok, true, 'self-consistent with its own embedded key…');
    const trusted = await verifyEvidence(t, { publicKey });
    assert.equal(trusted.ok, false, '…but not with the trusted key');
    assert.match(trusted.problems[0]!, /^manifest\.sig\.json: bundle signature does not verify/);
  });

  it('a wrong key, a missing or unlisted file, and hostile part names fail', async () => {
    const { publicKey: other } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const wrong = await verifyEvidence(bundleDir, { publicKey: other });
    assert.equal(wrong.ok, false);
    assert.match(wrong.problems.join('\n'), /manifest\.sig\.json: bundle signature does not verify with the trusted key/);

    const t = copyOf('files');
    rmSync(join(t, 'network.json'));
    writeFileSync(join(t, 'files', 'ab'.repeat(32)), 'planted');
    writeFileSync(join(t, 'notes.txt'), 'planted');
    const r = await verifyEvidence(t, { publicKey });
    assert.ok(r.problems.includes('part network.json: missing'), r.problems.join('\n'));
    assert.ok(r.problems.includes(`files/${'ab'.repeat(32)}: in the bundle but not in the manifest`), r.problems.join('\n'));
    assert.ok(r.problems.includes('notes.txt: in the bundle but not in the manifest'), r.problems.join('\n'));

    // the copies' folder swapped for a link to elsewhere: reported, not followed
    const l = copyOf('files-link');
    const elsewhere = join(dir, 'elsewhere');
    cpSync(join(l, 'files'), elsewhere, { recursive: true });
    rmSync(join(l, 'files'), { recursive: true });
    symlinkSync(elsewhere, join(l, 'files'));
    const lr = await verifyEvidence(l, { publicKey });
    assert.equal(lr.ok, false);
    assert.deepEqual(lr.problems, ['files: not a directory (a link or a file where the copies belong)']);

    // a manifest naming paths outside the bundle: reported, never opened (unsigned: no key given)
    const h = copyOf('hostile');
    const m = JSON.parse(readFileSync(join(h, 'manifest.json'), 'utf8')) as { parts: Array<{ path: string }> };
    m.parts.push({ path: '../../../../etc/passwd', sha256: sha256(readFileSync('/etc/passwd')), size: 1, kind: 'logs' } as never);
    m.parts.push({ path: '/etc/hostname', sha256: '0'.repeat(64), size: 1, kind: 'logs' } as never);
    writeFileSync(join(h, 'manifest.json'), JSON.stringify(m));
    const hr = await verifyEvidence(h, { publicKey });
    assert.ok(hr.problems.includes('manifest.json: part "../../../../etc/passwd" is not a bundle part name'), hr.problems.join('\n'));
    assert.ok(hr.problems.includes('manifest.json: part "/etc/hostname" is not a bundle part name'), hr.problems.join('\n'));
  });

  it('an unsigned bundle fails verification unless signatures are not required', async () => {
    const out = join(dir, 'unsigned');
    const r = await collectEvidence({ container: name, host: HOST, output: out });
    assert.equal(r.signed, false);
    const v = await verifyEvidence(out);
    assert.equal(v.ok, false);
    assert.deepEqual(v.problems, ['manifest.sig.json: missing (the bundle is not signed)']);
    const loose = await verifyEvidence(out, { requireSignature: false });
    assert.equal(loose.ok, true, loose.problems.join('\n'));
    assert.equal(loose.signature, 'unsigned');
  });

  it('the copy limit is configurable: with 0 nothing is copied, everything is still hashed', async () => {
    const out = join(dir, 'nocopy');
    const r = await collectEvidence({ container: name, host: HOST, output: out, limits: { copyFileBytes: 0 } });
    assert.equal(r.manifest.parts.filter((p) => p.kind === 'file').length, 0);
    assert.deepEqual(readdirSync(join(out, 'files')), []);
    const changes = JSON.parse(readFileSync(join(out, 'changes.json'), 'utf8')) as { changes: Array<{ path: string; sha256?: string }> };
    assert.equal(changes.changes.find((c) => c.path === '/tmp/small')?.sha256, sha256('small-content'));
  });

  it('a container that has exited: its logs and filesystem diff, no processes or connections', async () => {
    const exited = `${name}-exited`;
    const r = spawnSync('podman', [...RUN.filter((a) => a !== '-d'), '--name', exited, IMAGE, 'sh', '-c', 'echo bye; cp /bin/busybox /tmp/y'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    try {
      const out = join(dir, 'exited');
      const b = await collectEvidence({ container: exited, host: HOST, output: out });
      assert.equal(b.manifest.container.status, 'exited');
      assert.deepEqual(b.manifest.unavailable, [{ part: 'network.json', reason: 'the container is not running' }]);
      assert.deepEqual(JSON.parse(readFileSync(join(out, 'processes.json'), 'utf8')), { source: 'engine', processes: [] });
      assert.match(readFileSync(join(out, 'logs.txt'), 'utf8'), /^stdout \S+ bye$/m);
      const changes = JSON.parse(readFileSync(join(out, 'changes.json'), 'utf8')) as { changes: Array<{ path: string; sha256?: string; executable?: boolean }> };
      const y = changes.changes.find((c) => c.path === '/tmp/y');
      assert.equal(y?.executable, true);
      assert.equal(y?.sha256, JSON.parse(readFileSync(join(bundleDir, 'changes.json'), 'utf8')).changes.find((c: { path: string }) => c.path === '/tmp/dropper').sha256);
    } finally {
      spawnSync('podman', ['rm', '-f', exited], { stdio: 'ignore' });
    }
  });

  it("a container in the host's pid namespace: only its own processes", async () => {
    const hostPid = `${name}-hostpid`;
    podman([...RUN, '--pid', 'host', '--name', hostPid, IMAGE, 'sleep', '601']);
    try {
      const out = join(dir, 'hostpid');
      await collectEvidence({ container: hostPid, host: HOST, output: out });
      const procs = JSON.parse(readFileSync(join(out, 'processes.json'), 'utf8')) as { source: string; processes: Array<{ cmdline: string[] }> };
      assert.equal(procs.source, 'proc');
      assert.deepEqual(procs.processes.map((p) => p.cmdline.join(' ')), ['sleep 601']);
    } finally {
      spawnSync('podman', ['rm', '-f', '-t', '0', hostPid], { stdio: 'ignore' });
    }
  });

  it('the total copy budget and the number of files read are bounded too', async () => {
    type Changes = { total: number; read: number; truncated?: boolean; changes: Array<{ path: string; kind: string; sha256?: string; copy?: string; note?: string }> };
    const budget = join(dir, 'budget');
    await collectEvidence({ container: name, host: HOST, output: budget, limits: { totalCopyBytes: 2 } });
    const b = JSON.parse(readFileSync(join(budget, 'changes.json'), 'utf8')) as Changes;
    // four small files (three of 1 byte, one of 13): at most 2 bytes are copied, the rest hashed only
    const small = b.changes.filter((c) => c.sha256 && !/hashed, not copied/.test(c.note ?? ''));
    assert.equal(small.length, 4, JSON.stringify(b.changes));
    assert.ok(small.every((c) => c.copy || /copy budget \(2 bytes\) is spent/.test(c.note ?? '')), JSON.stringify(small));
    assert.ok(small.filter((c) => c.copy).length <= 2 && small.some((c) => !c.copy));
    const total = readdirSync(join(budget, 'files')).reduce((n, f) => n + statSync(join(budget, 'files', f)).size, 0);
    assert.ok(total <= 2, `copied ${total} bytes`);

    const few = join(dir, 'few');
    await collectEvidence({ container: name, host: HOST, output: few, limits: { maxFiles: 3 } });
    const f = JSON.parse(readFileSync(join(few, 'changes.json'), 'utf8')) as Changes;
    assert.equal(f.read, 3);
    assert.equal(f.truncated, true);
    const live = f.changes.filter((c) => c.kind !== 'deleted');
    const unread = live.filter((c) => c.note === 'not read: past the limit of 3 files');
    assert.equal(unread.length, live.length - 3);
    assert.ok(unread.every((c) => c.sha256 === undefined));
  });

  it('the CLI collects with a cosign key and verifies with its public key; tampering exits 1 naming the part', async () => {
    const out = join(dir, 'cli-bundle');
    const env = { GATEHOUSE_PASSWORD: 'evidence-test', DOCKER_HOST: HOST };
    const alerts = join(dir, 'alerts.jsonl');
    writeFileSync(alerts, `${JSON.stringify({ rule: 'Terminal shell in container', output_fields: { 'container.name': name } })}\n${JSON.stringify({ rule: 'Drop and execute new binary in container' })}\n`);
    const c = await runCli(['evidence', 'collect', name, '--output', out, '--key', join(dir, 'cosign.key'), '--events', alerts, '--format', 'json'], { env });
    assert.equal(c.code, 0, c.stderr);
    const res = JSON.parse(c.stdout) as { signed: boolean; manifestSha256: string; container: { id: string } };
    assert.equal(res.signed, true);
    assert.equal(res.manifestSha256, sha256(readFileSync(join(out, 'manifest.json'))));
    assert.deepEqual((JSON.parse(readFileSync(join(out, 'events.json'), 'utf8')) as Array<{ rule: string }>).map((e) => e.rule), ['Terminal shell in container', 'Drop and execute new binary in container']);
    const v = await runCli(['evidence', 'verify', out, '--key', join(dir, 'cosign.pub')]);
    assert.equal(v.code, 0, v.stderr);
    assert.match(v.stdout, /^verified: \d+ parts match the manifest; signature verified with /);
    writeFileSync(join(out, 'inspect.json'), '{}');
    const bad = await runCli(['evidence', 'verify', out, '--key', join(dir, 'cosign.pub')]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^gatehouse: evidence verify: part inspect\.json: sha256 /m);
  });

  it('bad input is one clear line: unknown container, non-empty output, not a bundle', async () => {
    const env = { DOCKER_HOST: HOST };
    const unknown = await runCli(['evidence', 'collect', `no-such-${runId}`, '--output', join(dir, 'x')], { env });
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /^gatehouse: no such container "no-such-\w+" in the engine at unix:\/\//);
    assert.equal(unknown.stderr.trim().split('\n').length, 1, unknown.stderr);
    const notEmpty = await runCli(['evidence', 'collect', name, '--output', bundleDir], { env });
    assert.equal(notEmpty.code, 2);
    assert.match(notEmpty.stderr, /exists and is not empty/);
    assert.equal(notEmpty.stderr.trim().split('\n').length, 1);
    const notBundle = await runCli(['evidence', 'verify', dir]);
    assert.equal(notBundle.code, 2);
    assert.match(notBundle.stderr, /no manifest\.json .*not an evidence bundle/);
    writeFileSync(join(dir, 'bad.jsonl'), '{"rule":"x"}\nnot json\n');
    const badEvents = await runCli(['evidence', 'collect', name, '--output', join(dir, 'z'), '--events', join(dir, 'bad.jsonl')], { env });
    assert.equal(badEvents.code, 2);
    assert.match(badEvents.stderr, /^gatehouse: --events .*bad\.jsonl: line 2 is not JSON$/m);
    assert.ok(!existsSync(join(dir, 'z')), 'nothing written on bad input');
    const badHost = await runCli(['evidence', 'collect', name, '--output', join(dir, 'y'), '--host', 'ftp://x']);
    assert.equal(badHost.code, 2);
    assert.match(badHost.stderr, /engine endpoint "ftp:\/\/x": expected unix:\/\/\/path or tcp:\/\/host:port/);
  });
});
