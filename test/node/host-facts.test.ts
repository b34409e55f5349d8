/**
 * Host facts: this machine's, checked against what the test reads independently (uname,
 * /sys/firmware/efi, cpuinfo flags, cgroup filesystem type); and fixture roots for hardware
 * this machine lacks (Secure Boot, TPM, SEV-SNP, lockdown, IMA, SELinux) and for facts that
 * cannot be read.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { checkNode, HostRoot } from '../../src/node/index.js';
import { readHostFacts } from '../../src/node/facts.js';
import { cmdline, isRoot, makeRoot } from './fixture.js';
import { runCli } from '../helpers/cli.js';
import { hasCommand, missing } from '../helpers/components.js';

const byId = (r: { results: { id: string }[] }, id: string) => {
  const x = r.results.find((c) => c.id === id);
  assert.ok(x, `no result ${id}`);
  return x as any;
};

test("this machine's facts match what the system says", async () => {
  const r = await checkNode({ areas: ['host'] });
  const f = r.facts!;
  // Kernel release: uname -r.
  assert.deepEqual(f.kernelRelease, { state: 'known', value: execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim(), evidence: [`/proc/sys/kernel/osrelease: ${execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim()}`] });
  // Secure Boot: no /sys/firmware/efi means no EFI, hence no Secure Boot, and the check fails.
  if (!existsSync('/sys/firmware/efi')) {
    assert.equal(f.secureBoot.state === 'known' && f.secureBoot.value, 'no-efi');
    assert.equal(byId(r, 'node.boot.secure-boot').status, 'fail');
  } else {
    assert.equal(f.secureBoot.state, 'known');
  }
  // TPM: the devices /sys/class/tpm lists.
  const tpms = existsSync('/sys/class/tpm') ? readdirSync('/sys/class/tpm').filter((d) => /^tpm\d+$/.test(d)) : [];
  assert.equal(f.tpm.state, 'known');
  if (f.tpm.state === 'known') assert.equal(f.tpm.value.presence, tpms.length ? 'present' : 'absent');
  assert.equal(byId(r, 'node.boot.tpm').status, tpms.length ? 'pass' : 'fail');
  // Memory encryption: the cpuinfo flags.
  const flags = new Set(/^flags\s*:(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))![1]!.trim().split(/\s+/));
  assert.equal(f.memoryEncryption.state, 'known');
  if (f.memoryEncryption.state === 'known') {
    assert.deepEqual(f.memoryEncryption.value.cpuFlags, ['sme', 'sev', 'sev_es', 'sev_snp', 'tdx_guest', 'tdx_host_platform', 'tme'].filter((x) => flags.has(x)));
    if (!flags.has('sme') && !flags.has('sev') && !flags.has('tdx_guest')) {
      assert.equal(f.memoryEncryption.value.guest, 'none');
      assert.equal(byId(r, 'node.cpu.memory-encryption').status, 'fail');
    }
  }
  // FIPS.
  const fips = existsSync('/proc/sys/crypto/fips_enabled') && readFileSync('/proc/sys/crypto/fips_enabled', 'utf8').trim() === '1';
  assert.deepEqual(f.fips.state === 'known' && f.fips.value, fips);
  // cgroup version: the filesystem type of /sys/fs/cgroup.
  const fsType = execFileSync('stat', ['-fc', '%T', '/sys/fs/cgroup'], { encoding: 'utf8' }).trim();
  assert.equal(f.cgroupVersion.state === 'known' && f.cgroupVersion.value, fsType === 'cgroup2fs' ? 2 : 1);
  // seccomp: the Seccomp line of our own status.
  assert.equal(f.seccomp.state === 'known' && f.seccomp.value.supported, /^Seccomp:/m.test(readFileSync('/proc/self/status', 'utf8')));
  // LSMs: securityfs may not be mounted here; then unknown, with the reason, never a guess.
  if (existsSync('/sys/kernel/security/lsm')) assert.deepEqual(f.lsms.state === 'known' && f.lsms.value, readFileSync('/sys/kernel/security/lsm', 'utf8').trim().split(','));
  else assert.match(f.lsms.state === 'unknown' ? f.lsms.reason : '', /lsm/);
  // AppArmor / SELinux.
  assert.equal(f.apparmor.state === 'known' && f.apparmor.value.enabled, existsSync('/sys/module/apparmor/parameters/enabled') && readFileSync('/sys/module/apparmor/parameters/enabled', 'utf8').trim() === 'Y');
  assert.equal(f.selinux.state === 'known' && f.selinux.value.enabled, existsSync('/sys/fs/selinux/enforce'));
  // Every fact is known or unknown with a reason; every result carries evidence or a reason.
  for (const [k, v] of Object.entries(f)) if (typeof v === 'object') assert.ok(v.state === 'known' || v.reason, k);
  for (const x of r.results) {
    assert.ok(x.evidence.length || x.reason, x.id);
    assert.equal(!!x.finding, x.status === 'fail', x.id);
  }
});

const SB = '8be4df61-93ca-11d2-aa0d-00e098032b8c';
const efivar = (v: number) => Buffer.from([6, 0, 0, 0, v]);

test('a host with Secure Boot, a TPM 2.0, SEV-SNP, lockdown, IMA, FIPS, SELinux enforcing', async () => {
  const fx = makeRoot({
    'proc/sys/kernel/osrelease': '6.8.0-test\n',
    'proc/sys/kernel/hostname': 'fixture-host\n',
    'proc/cpuinfo': 'processor\t: 0\nflags\t\t: fpu sse2 sme sev sev_es sev_snp\n',
    'proc/sys/crypto/fips_enabled': '1\n',
    'proc/self/status': 'Name:\tx\nSeccomp:\t2\n',
    'proc/self/mounts': 'cgroup2 /sys/fs/cgroup cgroup2 rw 0 0\n',
    'proc/sys/user/max_user_namespaces': '1000\n',
    [`sys/firmware/efi/efivars/SecureBoot-${SB}`]: efivar(1),
    'sys/class/tpm/tpm0/tpm_version_major': '2\n',
    'sys/kernel/security/lockdown': 'none [integrity] confidentiality\n',
    'sys/kernel/security/lsm': 'lockdown,capability,selinux,bpf\n',
    'sys/kernel/security/ima/runtime_measurements_count': '1234\n',
    'sys/fs/selinux/enforce': '1',
    'sys/module/kvm_amd/parameters/sev_snp': 'Y\n',
    'sys/module/loop/x': '',
    'var/log/dmesg': '[    0.000000] Memory Encryption Features active: AMD SEV SEV-ES SEV-SNP\n',
  });
  try {
    const r = await checkNode({ root: fx.root, areas: ['host'] });
    assert.equal(r.host, 'fixture-host');
    const status = Object.fromEntries(r.results.map((x) => [x.id, x.status]));
    assert.deepEqual(status, {
      'node.kernel.lockdown': 'pass',
      'node.boot.secure-boot': 'pass',
      'node.boot.tpm': 'pass',
      'node.kernel.ima': 'pass',
      'node.cpu.memory-encryption': 'pass',
      'node.crypto.fips': 'pass',
      'node.lsm.mandatory-access-control': 'pass',
      'node.lsm.selinux-enforcing': 'pass',
      'node.kernel.seccomp': 'pass',
      'node.cgroup.v2': 'pass',
      'node.kernel.user-namespaces': 'pass',
    });
    const f = r.facts!;
    assert.deepEqual(f.tpm.state === 'known' && f.tpm.value, { presence: 'present', devices: ['tpm0'], version: '2.0' });
    assert.deepEqual(f.memoryEncryption.state === 'known' && [f.memoryEncryption.value.guest, f.memoryEncryption.value.hostSupport], ['sev-snp', ['kvm_amd.sev_snp']]);
    assert.deepEqual(f.lockdown.state === 'known' && f.lockdown.value.mode, 'integrity');
  } finally {
    fx.cleanup();
  }
});

test('Secure Boot off, EFI without the variable, no TPM, SELinux permissive, lockdown none: each fails with its evidence', async () => {
  const fx = makeRoot({
    'proc/cpuinfo': 'flags\t: fpu sse2\n',
    'proc/sys/kernel/osrelease': '6.1.0\n',
    [`sys/firmware/efi/efivars/SecureBoot-${SB}`]: efivar(0),
    'sys/class/tpm': { dir: true },
    'sys/kernel/security/lockdown': '[none] integrity confidentiality\n',
    'sys/fs/selinux/enforce': '0',
  });
  try {
    const r = await checkNode({ root: fx.root, areas: ['host'] });
    assert.equal(byId(r, 'node.boot.secure-boot').status, 'fail');
    assert.match(byId(r, 'node.boot.secure-boot').finding.detail, /Secure Boot is disabled/);
    assert.equal(byId(r, 'node.boot.tpm').status, 'fail');
    assert.equal(byId(r, 'node.kernel.lockdown').status, 'fail');
    assert.equal(byId(r, 'node.lsm.selinux-enforcing').status, 'fail');
    assert.equal(byId(r, 'node.cpu.memory-encryption').status, 'fail');
    // The kernel log is absent and the CPU lacks the flags: that settles it; files not there are unknown, not guessed.
    // /proc/sys is readable but has no crypto/fips_enabled: a kernel without FIPS mode.
    assert.equal(byId(r, 'node.crypto.fips').status, 'fail');
    assert.equal(byId(r, 'node.kernel.seccomp').status, 'unknown');
    assert.equal(byId(r, 'node.boot.secure-boot').finding.resource.host, fx.root);
  } finally {
    fx.cleanup();
  }
});

test('Secure Boot: efivarfs not mounted is unknown; the legacy sysfs variable is read; a firmware without the variable is disabled', async () => {
  const cases: [Record<string, any>, string, string | RegExp][] = [
    [{ 'sys/firmware/efi/efivars': { dir: true } }, 'unknown', /efivarfs not mounted/],
    [{ [`sys/firmware/efi/vars/SecureBoot-${SB}/data`]: Buffer.from([1]) }, 'known', 'enabled'],
    [{ [`sys/firmware/efi/efivars/BootOrder-${SB}`]: efivar(0) }, 'known', 'disabled'],
    [{ [`sys/firmware/efi/efivars/SecureBoot-${SB}`]: efivar(0), [`sys/firmware/efi/efivars/SetupMode-${SB}`]: efivar(1) }, 'known', 'setup-mode'],
  ];
  for (const [files, state, want] of cases) {
    const fx = makeRoot(files);
    try {
      const f = await readHostFacts(new HostRoot(fx.root));
      assert.equal(f.secureBoot.state, state, JSON.stringify(f.secureBoot));
      if (f.secureBoot.state === 'known') assert.equal(f.secureBoot.value, want);
      else assert.match(f.secureBoot.reason, want as RegExp);
    } finally {
      fx.cleanup();
    }
  }
});

test('SELinux active in the LSM list but selinuxfs not mounted: unknown, not "disabled"', async () => {
  const fx = makeRoot({ 'sys/kernel/security/lsm': 'capability,selinux\n', 'sys/fs/cgroup': { dir: true } });
  try {
    const f = await readHostFacts(new HostRoot(fx.root));
    assert.equal(f.selinux.state, 'unknown');
    assert.match(f.selinux.state === 'unknown' ? f.selinux.reason : '', /selinux is not mounted/);
  } finally {
    fx.cleanup();
  }
});

test('an empty root: every host fact is unknown with a reason, nothing crashes', async () => {
  const fx = makeRoot({});
  try {
    const r = await checkNode({ root: fx.root });
    for (const x of r.results) assert.ok(['unknown', 'not-applicable'].includes(x.status), `${x.id}: ${x.status}`);
    for (const x of r.results.filter((c) => c.status === 'unknown')) assert.ok(x.reason, x.id);
  } finally {
    fx.cleanup();
  }
});

test('files that cannot be read give unknown with "permission denied" (the CLI as an unprivileged user)', { skip: missing(isRoot && hasCommand('setpriv'), 'running as root with setpriv (util-linux), to read a fixture as an unprivileged user') }, async () => {
  const fx = makeRoot({
    'proc/sys/kernel/osrelease': { content: '6.1.0\n', mode: 0o600 },
    'proc/cpuinfo': { content: 'flags\t: fpu\n', mode: 0o600 },
    'sys/firmware/efi': { dir: true, mode: 0o700 },
    'etc/kubernetes/manifests/kube-apiserver.yaml': { content: 'kind: Pod\n', mode: 0o600 },
  });
  try {
    // root: 0755 dirs made by mkdtemp are 0700; open the root for the unprivileged user.
    execFileSync('chmod', ['755', fx.root]);
    execFileSync('chmod', ['-R', 'o+rX', fx.path('proc'), fx.path('sys'), fx.path('etc')]);
    execFileSync('chmod', ['600', fx.path('proc/sys/kernel/osrelease'), fx.path('proc/cpuinfo'), fx.path('etc/kubernetes/manifests/kube-apiserver.yaml')]);
    execFileSync('chmod', ['700', fx.path('sys/firmware/efi')]);
    const res = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, 'bin/gatehouse.mjs', 'node', 'check', '--root', fx.root, '--format', 'json', '--no-processes'], {
      encoding: 'utf8',
      env: { ...process.env, GATEHOUSE_FROM_SOURCE: '1', HOME: '/tmp' },
    });
    assert.equal(res.stderr.includes('at '), false, res.stderr);
    const out = JSON.parse(res.stdout);
    const get = (id: string) => out.results.find((x: any) => x.id === id);
    assert.equal(out.facts.kernelRelease.state, 'unknown');
    assert.match(out.facts.kernelRelease.reason, /osrelease: permission denied/);
    assert.equal(get('node.cpu.memory-encryption').status, 'unknown');
    assert.match(get('node.cpu.memory-encryption').reason, /cpuinfo: permission denied/);
    assert.equal(get('node.boot.secure-boot').status, 'unknown');
    assert.equal(get('node.files.apiserver-manifest-mode').status, 'pass', 'stat works without read permission');
    assert.match(out.notes.join('\n'), /kube-apiserver\.yaml: permission denied/);
  } finally {
    fx.cleanup();
  }
});

test('process list: a process that is gone or not a component is unknown, never a crash', async () => {
  const fx = makeRoot({ 'proc/42/cmdline': cmdline('/usr/bin/sleep', '100') });
  try {
    const r = await checkNode({ root: fx.root, processes: [{ pid: 42 }, { pid: 4242 }], areas: ['controlplane'] });
    assert.match(r.notes.join('\n'), /process 42 \(sleep\) is not a Kubernetes component/);
    assert.match(r.notes.join('\n'), /process 4242: \/proc\/4242\/cmdline: does not exist/);
    for (const x of r.results) assert.equal(x.status, 'unknown', x.id);
    assert.match(byId(r, 'controlplane.apiserver.anonymous-auth').reason, /no kube-apiserver found/);
  } finally {
    fx.cleanup();
  }
});

test('HostRoot reads a live machine path as is and a fixture path under its root', async () => {
  assert.equal(new HostRoot('/').path('/proc/cpuinfo'), '/proc/cpuinfo');
  assert.equal(new HostRoot('/tmp/x').path('/proc/cpuinfo'), '/tmp/x/proc/cpuinfo');
  const facts = await readHostFacts(new HostRoot('/'));
  assert.equal(facts.kernelRelease.state, 'known');
});

test('CLI: node check --area host prints a table; a bad --root or --area is one line on stderr', async () => {
  const ok = await runCli(['node', 'check', '--area', 'host']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /node\.kernel\.seccomp/);
  const badRoot = await runCli(['node', 'check', '--root', '/nonexistent/dir']);
  assert.equal(badRoot.code, 2);
  assert.equal(badRoot.stderr.trim().split('\n').length, 1, badRoot.stderr);
  assert.match(badRoot.stderr, /--root \/nonexistent\/dir: not a directory/);
  const badArea = await runCli(['node', 'check', '--area', 'hostt']);
  assert.equal(badArea.code, 2);
  assert.match(badArea.stderr, /unknown --area "hostt"/);
});
