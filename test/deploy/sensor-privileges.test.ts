/**
 * The sensor's privileges as the Helm chart and the systemd unit grant them are enough, and
 * each one is needed: the real `gatehouse sensor` (bpftrace) runs under setpriv with the
 * chart's capability set as its bounding set, no_new_privs (allowPrivilegeEscalation: false)
 * and the chart's BPFTRACE_BTF; it attaches and sees events. Without PERFMON, or without
 * BPFTRACE_BTF (bpftrace 0.17 then wants CAP_SYS_ADMIN for BTF), it cannot start.
 * Then in a real container (podman, runc), with the DaemonSet's pod spec turned into podman
 * flags: the chart's seccomp profile (deploy/seccomp/gatehouse-sensor.json) lets the sensor
 * attach; the runtime's default profile does not, which is why the chart does not use it.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { cachedPath, hasCommand, missing, testRegistry } from '../helpers/components.js';

type Obj = Record<string, any>;

const root = fileURLToPath(new URL('../..', import.meta.url));
const chart = join(root, 'deploy/helm/gatehouse');
const unit = join(root, 'deploy/systemd/gatehouse-sensor.service');
const helm4 = cachedPath('bin', 'helm4');
const isRoot = process.getuid?.() === 0;

const skip =
  missing(isRoot, 'the sensor needs root') ||
  missing(hasCommand('bpftrace'), 'bpftrace not installed (.ci/setup.d/65-bpftrace.sh)') ||
  missing(hasCommand('setpriv'), 'setpriv (util-linux) not installed') ||
  missing(existsSync('/sys/kernel/btf/vmlinux'), 'the kernel has no BTF (/sys/kernel/btf/vmlinux)') ||
  missing(existsSync(helm4), `helm v4 (${helm4}; bash .ci/setup.d/69-helm4.sh)`);

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-sensor-privs-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** The sensor container of the chart's DaemonSet, and its rules files written out. */
function chartSensor(): { caps: string[]; env: Record<string, string>; securityContext: Obj; rules: string[]; pod: Obj; container: Obj; extra: string[] } {
  const r = spawnSync(helm4, ['template', 'gh', chart, '--namespace', 'gatehouse'], { encoding: 'utf8', maxBuffer: 64 << 20 });
  assert.equal(r.status, 0, r.stderr);
  const objects = parseAllDocuments(r.stdout).map((d) => d.toJS() as Obj).filter(Boolean);
  const ds = objects.find((o) => o.kind === 'DaemonSet')!;
  const c = ds.spec.template.spec.containers[0];
  const cm = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'gh-gatehouse-sensor-rules')!;
  const rules = Object.entries(cm.data as Record<string, string>).map(([name, text]) => {
    const f = join(dir, name);
    writeFileSync(f, text);
    return f;
  });
  const env = Object.fromEntries((c.env as Obj[]).filter((e) => e.value !== undefined).map((e) => [e.name, e.value as string]));
  // The flow probes are part of what the chart turns on: run them too (shorter interval).
  const extra = (c.args as string[]).includes('--flows') ? ['--flows', '/dev/null', '--flow-interval', '2s'] : [];
  return { caps: c.securityContext.capabilities.add, env, securityContext: c.securityContext, rules, pod: ds.spec.template.spec, container: c, extra };
}

/**
 * Perf ring buffers are locked memory: past perf_event_mlock_kb (per user: every root
 * bpftrace on the machine shares it) they are charged to RLIMIT_MEMLOCK, which bpftrace
 * raises to infinity with CAP_SYS_RESOURCE on a node. This test machine is itself a sandbox
 * whose 8 MiB hard limit cannot be raised, and other sessions run sensors beside this one,
 * so the sensor's 1024 pages per CPU would not fit: 64 pages do.
 */
const SMALL_BUFFERS = { BPFTRACE_PERF_RB_PAGES: '64' };

/** Runs the sensor for a few seconds under setpriv; exec activity meanwhile, so there are events. */
function runSensor(caps: string[], env: Record<string, string | undefined>, rules: string[], extra: string[] = []): Promise<{ code: number; stderr: string }> {
  const bounding = ['-all', ...caps.map((c) => `+${c.toLowerCase()}`)].join(',');
  const args = ['--no-new-privs', `--bounding-set=${bounding}`, '--inh-caps=-all', process.execPath, join(root, 'bin/gatehouse.mjs'), 'sensor', ...rules.flatMap((f) => ['--rules', f]), '--duration', '4', '--format', 'json', '--output', join(dir, 'alerts.jsonl'), ...extra];
  const child = spawn('setpriv', args, { env: { ...process.env, GATEHOUSE_FROM_SOURCE: '1', TMPDIR: dir, ...SMALL_BUFFERS, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
  const activity = setInterval(() => spawn('/bin/true').on('error', () => undefined), 200);
  const timer = setTimeout(() => child.kill('SIGKILL'), 240_000);
  return new Promise((resolve) => {
    child.on('close', (code) => {
      clearInterval(activity);
      clearTimeout(timer);
      resolve({ code: code ?? 1, stderr });
    });
  });
}

describe('the sensor with exactly the chart\'s privileges', { skip }, () => {
  test('the chart and the systemd unit grant the same capabilities', () => {
    const { caps, securityContext } = chartSensor();
    assert.deepEqual([...caps].sort(), ['BPF', 'PERFMON', 'SYS_PTRACE', 'SYS_RESOURCE']);
    assert.deepEqual(securityContext.capabilities.drop, ['ALL']);
    assert.equal(securityContext.allowPrivilegeEscalation, false);
    assert.equal(securityContext.privileged, false);
    const text = readFileSync(unit, 'utf8');
    const bounding = /^CapabilityBoundingSet=(.*)$/m.exec(text)![1]!.trim().split(/\s+/).map((c) => c.replace(/^CAP_/, ''));
    assert.deepEqual(bounding.sort(), [...caps].sort());
    assert.match(text, /^NoNewPrivileges=yes$/m);
    assert.match(text, /^Environment=BPFTRACE_BTF=\/sys\/kernel\/btf\/vmlinux$/m);
  });

  test('BPF, PERFMON, SYS_RESOURCE, SYS_PTRACE with no_new_privs: the real sensor attaches and sees events', async () => {
    const { caps, env, rules, extra } = chartSensor();
    assert.ok(extra.length > 0, 'the chart turns flows on');
    const r = await runSensor(caps, { BPFTRACE_BTF: env.BPFTRACE_BTF }, rules, extra);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /\d+ flows from \d+ connections/);
    assert.match(r.stderr, /sensor ready/);
    const events = Number(/sensor stopped: (\d+) events/.exec(r.stderr)?.[1] ?? 0);
    assert.ok(events > 0, `events seen: ${r.stderr}`);
  });

  test('without PERFMON the probe cannot attach', async () => {
    const { caps, env, rules } = chartSensor();
    const r = await runSensor(caps.filter((c) => c !== 'PERFMON'), { BPFTRACE_BTF: env.BPFTRACE_BTF }, rules);
    assert.notEqual(r.code, 0);
    assert.doesNotMatch(r.stderr, /sensor ready/);
    // Tracing programs need PERFMON to load: bpftrace's feature probes fail, or perf_event_open does.
    assert.match(r.stderr, /bpftrace could not start/);
    assert.match(r.stderr, /BPF_FUNC_\w+ is not available|perf_event_open/);
  });

  test('without BPFTRACE_BTF, bpftrace 0.17 cannot read kernel types with these capabilities (it would need SYS_ADMIN)', async () => {
    const { caps, rules } = chartSensor();
    const r = await runSensor(caps, { BPFTRACE_BTF: undefined }, rules);
    assert.notEqual(r.code, 0);
    assert.doesNotMatch(r.stderr, /sensor ready/);
    assert.match(r.stderr, /BTF|unknown type name|Unknown struct/);
  });
});

const IMAGE = `${testRegistry}/gatehouse-test/debian:bookworm`;
const imageReady = hasCommand('podman') && spawnSync('podman', ['image', 'exists', IMAGE]).status === 0;
const seccompFile = join(root, 'deploy/seccomp/gatehouse-sensor.json');

/**
 * `podman run` flags for the chart's sensor pod spec: host PID namespace, the capability set,
 * no_new_privs, read-only root, the /tmp emptyDir, the read-only tracefs mount, the env, and
 * the seccomp profile the spec names (Localhost → the file the chart ships). The host's /usr
 * (Debian bookworm, as the image's) brings node and bpftrace; the checkout brings Gatehouse.
 */
function podmanFlags(s: ReturnType<typeof chartSensor>, seccomp: string): string[] {
  const { pod, container: c } = s;
  assert.equal(pod.hostPID, true);
  assert.equal(pod.securityContext.runAsUser, 0);
  const flags = ['run', '--runtime', 'runc', '--ulimit', 'nofile=20000:20000', '--ulimit', 'nproc=4096:4096', '--rm', '--pid=host', '--user', '0:0'];
  flags.push('--cap-drop=ALL', `--cap-add=${(c.securityContext.capabilities.add as string[]).join(',')}`);
  if (c.securityContext.allowPrivilegeEscalation === false) flags.push('--security-opt', 'no-new-privileges');
  if (c.securityContext.readOnlyRootFilesystem) flags.push('--read-only', '--tmpfs', '/tmp');
  flags.push('--security-opt', `seccomp=${seccomp}`);
  const tracefs = (c.volumeMounts as Obj[]).find((m) => m.name === 'tracefs')!;
  assert.equal((pod.volumes as Obj[]).find((v) => v.name === 'tracefs')?.hostPath?.path, '/sys/kernel/tracing');
  flags.push('-v', `/sys/kernel/tracing:${tracefs.mountPath}:${tracefs.readOnly ? 'ro' : 'rw'}`);
  for (const [k, v] of Object.entries({ ...s.env, ...SMALL_BUFFERS })) if (k.startsWith('BPFTRACE_') || k === 'TMPDIR') flags.push('-e', `${k}=${v}`);
  flags.push('-e', 'GATEHOUSE_FROM_SOURCE=1', '-v', '/usr:/usr:ro', '-v', `${root}:${root}:ro`, '-v', `${dir}:${dir}`);
  return flags;
}

function runInContainer(flags: string[], rules: string[], extra: string[] = []): Promise<{ code: number; stderr: string }> {
  const args = [...flags, IMAGE, 'node', join(root, 'bin/gatehouse.mjs'), 'sensor', ...rules.flatMap((f) => ['--rules', f]), '--duration', '4', '--format', 'json', '--output', join(dir, 'container-alerts.jsonl'), ...extra];
  const child = spawn('podman', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
  const activity = setInterval(() => spawn('/bin/true').on('error', () => undefined), 200);
  const timer = setTimeout(() => child.kill('SIGKILL'), 300_000);
  return new Promise((resolve) => {
    child.on('close', (code) => {
      clearInterval(activity);
      clearTimeout(timer);
      resolve({ code: code ?? 1, stderr });
    });
  });
}

describe('the sensor pod spec in a real container runtime', { skip: skip || missing(imageReady, `podman image ${IMAGE} missing (.ci/setup.d/40-test-images.sh)`) }, () => {
  test('the chart names the shipped seccomp profile; with it, the sensor attaches inside the container and sees events', async () => {
    const s = chartSensor();
    assert.deepEqual(s.pod.securityContext.seccompProfile, { type: 'Localhost', localhostProfile: 'gatehouse/sensor.json' });
    const profile = JSON.parse(readFileSync(seccompFile, 'utf8')) as Obj;
    const allowed = new Set((profile.syscalls as Obj[]).filter((r) => r.action === 'SCMP_ACT_ALLOW').flatMap((r) => r.names as string[]));
    assert.equal(profile.defaultAction, 'SCMP_ACT_ERRNO');
    for (const n of ['bpf', 'perf_event_open']) assert.ok(allowed.has(n), `${n} allowed`);
    for (const n of ['ptrace', 'process_vm_readv', 'process_vm_writev', 'mount', 'unshare', 'setns', 'init_module', 'kexec_load']) assert.ok(!allowed.has(n), `${n} refused`);
    const r = await runInContainer(podmanFlags(s, seccompFile), s.rules, s.extra);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /sensor ready/);
    assert.ok(Number(/sensor stopped: (\d+) events/.exec(r.stderr)?.[1] ?? 0) > 0, r.stderr);
  });

  test("the runtime's default seccomp profile stops the probe (bpf() is for CAP_SYS_ADMIN there)", async () => {
    const s = chartSensor();
    const defaults = '/usr/share/containers/seccomp.json';
    if (!existsSync(defaults)) assert.fail(`${defaults} (podman's default profile) is missing`);
    const r = await runInContainer(podmanFlags(s, defaults), s.rules);
    assert.notEqual(r.code, 0);
    assert.doesNotMatch(r.stderr, /sensor ready/);
    assert.match(r.stderr, /bpftrace could not start/);
    assert.match(r.stderr, /is not available for your kernel|Failed to create|Operation not permitted/);
  });
});
