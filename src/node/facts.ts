/**
 * Host facts read from the running system (or a fixture root): kernel, boot integrity,
 * memory encryption, FIPS, LSMs, seccomp, cgroups, user namespaces. A fact is `known` with
 * the evidence it came from, or `unknown` with the reason it could not be read — never
 * guessed. Hardware the machine lacks is known to be absent.
 */
import type { HostRoot, Read } from './host.js';

export type Fact<T> = { state: 'known'; value: T; evidence: string[] } | { state: 'unknown'; reason: string; evidence: string[] };

export const known = <T>(value: T, evidence: string[]): Fact<T> => ({ state: 'known', value, evidence });
export const unknownFact = <T>(reason: string, evidence: string[] = []): Fact<T> => ({ state: 'unknown', reason, evidence });

export type Presence = 'present' | 'absent';
export type SecureBoot = 'enabled' | 'disabled' | 'setup-mode' | 'no-efi';

export interface MemoryEncryption {
  /** CPU capability flags seen in /proc/cpuinfo (sme, sev, sev_es, sev_snp, tdx_guest, …). */
  cpuFlags: string[];
  /** SME active on this host (kernel log "Memory Encryption Features active: AMD SME"). */
  smeActive: boolean | 'unknown';
  /** This machine is a confidential guest: SEV / SEV-ES / SEV-SNP / TDX, or none. */
  guest: 'sev' | 'sev-es' | 'sev-snp' | 'tdx' | 'none' | 'unknown';
  /** KVM host able to run encrypted guests (kvm_amd sev/sev_es/sev_snp, kvm_intel tdx parameters). */
  hostSupport: string[];
}

export interface HostFacts {
  hostname: string;
  kernelRelease: Fact<string>;
  lockdown: Fact<{ mode: string; modes: string[] }>;
  secureBoot: Fact<SecureBoot>;
  tpm: Fact<{ presence: Presence; devices: string[]; version?: string }>;
  ima: Fact<{ active: boolean; measurements?: number }>;
  memoryEncryption: Fact<MemoryEncryption>;
  fips: Fact<boolean>;
  lsms: Fact<string[]>;
  apparmor: Fact<{ enabled: boolean; enforcedProfiles?: number; complainProfiles?: number }>;
  selinux: Fact<{ enabled: boolean; enforcing?: boolean }>;
  seccomp: Fact<{ supported: boolean; actions?: string[] }>;
  cgroupVersion: Fact<1 | 2>;
  userNamespaces: Fact<{ max: number; unprivileged?: boolean }>;
}

const EFI_GLOBAL = '8be4df61-93ca-11d2-aa0d-00e098032b8c';
const trim = (r: Read<string>) => (r.ok ? r.value.trim() : '');

async function kernelRelease(h: HostRoot): Promise<Fact<string>> {
  const r = await h.read('/proc/sys/kernel/osrelease');
  return r.ok ? known(r.value.trim(), [`/proc/sys/kernel/osrelease: ${r.value.trim()}`]) : unknownFact(r.reason);
}

async function lockdown(h: HostRoot): Promise<Fact<{ mode: string; modes: string[] }>> {
  const r = await h.read('/sys/kernel/security/lockdown');
  if (r.ok) {
    const text = r.value.trim();
    const mode = /\[([a-z]+)\]/.exec(text)?.[1];
    if (!mode) return unknownFact(`/sys/kernel/security/lockdown: unexpected content "${text}"`);
    return known({ mode, modes: text.replace(/[[\]]/g, '').split(/\s+/) }, [`/sys/kernel/security/lockdown: ${text}`]);
  }
  if (r.absent) {
    // securityfs mounted but no lockdown file: the kernel has no lockdown LSM (lockdown none).
    const sec = await h.list('/sys/kernel/security');
    if (sec.ok && sec.value.length > 0) return known({ mode: 'none', modes: [] }, ['/sys/kernel/security/lockdown: absent (kernel without the lockdown LSM)']);
    return unknownFact(`${r.reason} (securityfs not mounted or not visible)`);
  }
  return unknownFact(r.reason);
}

async function secureBoot(h: HostRoot): Promise<Fact<SecureBoot>> {
  const efi = await h.stat('/sys/firmware/efi');
  if (!efi.ok) {
    if (!efi.absent) return unknownFact(efi.reason);
    const fw = await h.stat('/sys/firmware');
    if (!fw.ok) return unknownFact(`${fw.reason} (sysfs not visible)`);
    return known('no-efi', ['/sys/firmware/efi: absent (booted by legacy BIOS or without EFI runtime services): no Secure Boot']);
  }
  const sb = await h.readBytes(`/sys/firmware/efi/efivars/SecureBoot-${EFI_GLOBAL}`);
  if (!sb.ok) {
    if (!sb.absent) return unknownFact(sb.reason);
    // The legacy sysfs interface: one directory per variable, its value in `data`.
    const legacy = await h.readBytes(`/sys/firmware/efi/vars/SecureBoot-${EFI_GLOBAL}/data`);
    if (legacy.ok && legacy.value.length >= 1) {
      const evidence = [`/sys/firmware/efi/vars/SecureBoot-${EFI_GLOBAL}/data: ${legacy.value[0]}`];
      return known(legacy.value[0] === 1 ? 'enabled' : 'disabled', evidence);
    }
    const vars = await h.list('/sys/firmware/efi/efivars');
    // An empty directory is efivarfs not mounted, not a firmware without variables.
    if (!vars.ok || vars.value.length === 0) return unknownFact(`/sys/firmware/efi/efivars: ${vars.ok ? 'no variables visible' : vars.reason} (efivarfs not mounted)`);
    return known('disabled', ['/sys/firmware/efi: present', `efivars: ${vars.value.length} variable(s), no SecureBoot-${EFI_GLOBAL} (firmware without Secure Boot)`]);
  }
  // efivarfs: 4 bytes of attributes, then the value.
  if (sb.value.length < 5) return unknownFact(`SecureBoot efivar: ${sb.value.length} bytes, expected at least 5`);
  const value = sb.value[4];
  const evidence = [`/sys/firmware/efi/efivars/SecureBoot-${EFI_GLOBAL}: ${value}`];
  const setup = await h.readBytes(`/sys/firmware/efi/efivars/SetupMode-${EFI_GLOBAL}`);
  if (setup.ok && setup.value.length >= 5) evidence.push(`SetupMode: ${setup.value[4]}`);
  if (value === 1) return known('enabled', evidence);
  if (setup.ok && setup.value[4] === 1) return known('setup-mode', evidence);
  return known('disabled', evidence);
}

async function tpm(h: HostRoot): Promise<Fact<{ presence: Presence; devices: string[]; version?: string }>> {
  const r = await h.list('/sys/class/tpm');
  if (!r.ok) {
    if (r.absent) {
      const cls = await h.stat('/sys/class');
      if (!cls.ok) return unknownFact(`${cls.reason} (sysfs not visible)`);
      return known({ presence: 'absent', devices: [] }, ['/sys/class/tpm: absent (no TPM driver bound)']);
    }
    return unknownFact(r.reason);
  }
  const devices = r.value.filter((d) => /^tpm\d+$/.test(d));
  if (devices.length === 0) return known({ presence: 'absent', devices: [] }, ['/sys/class/tpm: no tpm devices']);
  const major = await h.read(`/sys/class/tpm/${devices[0]}/tpm_version_major`);
  return known({ presence: 'present', devices, ...(major.ok ? { version: `${major.value.trim()}.0` } : {}) }, [`/sys/class/tpm: ${devices.join(', ')}${major.ok ? ` (TPM ${major.value.trim()}.0)` : ''}`]);
}

async function ima(h: HostRoot): Promise<Fact<{ active: boolean; measurements?: number }>> {
  const count = await h.read('/sys/kernel/security/ima/runtime_measurements_count');
  if (count.ok) {
    const n = Number(count.value.trim());
    return known({ active: true, measurements: n }, [`/sys/kernel/security/ima/runtime_measurements_count: ${n}`]);
  }
  if (!count.absent) return unknownFact(count.reason);
  const sec = await h.list('/sys/kernel/security');
  if (sec.ok && sec.value.length > 0) return known({ active: false }, ['/sys/kernel/security/ima: absent (IMA not built in or not enabled)']);
  return unknownFact(`/sys/kernel/security/ima: ${sec.ok ? 'securityfs empty' : sec.reason} (securityfs not mounted or not visible)`);
}

async function memoryEncryption(h: HostRoot): Promise<Fact<MemoryEncryption>> {
  const cpu = await h.read('/proc/cpuinfo');
  if (!cpu.ok) return unknownFact(cpu.reason);
  const flagsLine = /^flags\s*:(.*)$/m.exec(cpu.value)?.[1];
  if (flagsLine === undefined) return unknownFact('/proc/cpuinfo: no flags line (not an x86 CPU?)');
  const all = new Set(flagsLine.trim().split(/\s+/));
  const cpuFlags = ['sme', 'sev', 'sev_es', 'sev_snp', 'tdx_guest', 'tdx_host_platform', 'tme'].filter((f) => all.has(f));
  const evidence = [`/proc/cpuinfo flags: ${cpuFlags.length ? cpuFlags.join(' ') : 'none of sme sev sev_es sev_snp tdx_guest tme'}`];
  const hostSupport: string[] = [];
  for (const [mod, param] of [['kvm_amd', 'sev'], ['kvm_amd', 'sev_es'], ['kvm_amd', 'sev_snp'], ['kvm_intel', 'tdx']] as const) {
    const p = await h.read(`/sys/module/${mod}/parameters/${param}`);
    if (p.ok) {
      evidence.push(`/sys/module/${mod}/parameters/${param}: ${p.value.trim()}`);
      if (/^(Y|1)$/.test(p.value.trim())) hostSupport.push(`${mod}.${param}`);
    }
  }
  const log = await h.kernelLog();
  let smeActive: boolean | 'unknown' = 'unknown';
  let guest: MemoryEncryption['guest'] = 'unknown';
  if (all.has('tdx_guest')) guest = 'tdx';
  if (log.ok) {
    const line = /Memory Encryption Features active:.*$/m.exec(log.value)?.[0];
    if (line) evidence.push(`kernel log: ${line.trim()}`);
    else evidence.push('kernel log: no "Memory Encryption Features active" line');
    smeActive = !!line && /\bSME\b/.test(line);
    if (guest !== 'tdx') guest = line && /SEV-SNP/.test(line) ? 'sev-snp' : line && /SEV-ES/.test(line) ? 'sev-es' : line && /\bSEV\b/.test(line) ? 'sev' : line && /Intel TDX/.test(line) ? 'tdx' : 'none';
  } else {
    evidence.push(`kernel log not readable: ${log.reason}`);
    // Without the log, a CPU lacking every capability flag still settles it.
    if (!all.has('sme') && !all.has('sev') && guest !== 'tdx') {
      smeActive = false;
      guest = 'none';
    }
  }
  return known({ cpuFlags, smeActive, guest, hostSupport }, evidence);
}

async function fips(h: HostRoot): Promise<Fact<boolean>> {
  const r = await h.read('/proc/sys/crypto/fips_enabled');
  if (r.ok) return known(r.value.trim() === '1', [`/proc/sys/crypto/fips_enabled: ${r.value.trim()}`]);
  if (r.absent) {
    const crypto = await h.stat('/proc/sys/crypto');
    const procOk = await h.stat('/proc/sys/kernel');
    if (procOk.ok) return known(false, [`/proc/sys/crypto/fips_enabled: absent (${crypto.ok ? 'no fips_enabled' : 'no /proc/sys/crypto'}: kernel without FIPS mode)`]);
  }
  return unknownFact(r.reason);
}

async function lsms(h: HostRoot): Promise<Fact<string[]>> {
  const r = await h.read('/sys/kernel/security/lsm');
  if (r.ok) return known(r.value.trim().split(',').filter(Boolean), [`/sys/kernel/security/lsm: ${r.value.trim()}`]);
  return unknownFact(`${r.reason}${r.absent ? ' (securityfs not mounted or not visible)' : ''}`);
}

async function apparmor(h: HostRoot): Promise<Fact<{ enabled: boolean; enforcedProfiles?: number; complainProfiles?: number }>> {
  const en = await h.read('/sys/module/apparmor/parameters/enabled');
  if (!en.ok) {
    if (en.absent && (await h.stat('/sys/module')).ok) return known({ enabled: false }, ['/sys/module/apparmor: absent (AppArmor not in the kernel)']);
    return unknownFact(en.reason);
  }
  const enabled = en.value.trim() === 'Y';
  const evidence = [`/sys/module/apparmor/parameters/enabled: ${en.value.trim()}`];
  if (!enabled) return known({ enabled }, evidence);
  const prof = await h.read('/sys/kernel/security/apparmor/profiles');
  if (!prof.ok) return known({ enabled }, [...evidence, `profiles not readable: ${prof.reason}`]);
  const lines = prof.value.split('\n').filter(Boolean);
  const enforcedProfiles = lines.filter((l) => l.endsWith('(enforce)')).length;
  const complainProfiles = lines.filter((l) => l.endsWith('(complain)')).length;
  return known({ enabled, enforcedProfiles, complainProfiles }, [...evidence, `/sys/kernel/security/apparmor/profiles: ${enforcedProfiles} enforce, ${complainProfiles} complain`]);
}

async function selinux(h: HostRoot): Promise<Fact<{ enabled: boolean; enforcing?: boolean }>> {
  const r = await h.read('/sys/fs/selinux/enforce');
  if (r.ok) return known({ enabled: true, enforcing: r.value.trim() === '1' }, [`/sys/fs/selinux/enforce: ${r.value.trim()}`]);
  if (r.absent && (await h.stat('/sys/fs')).ok) return known({ enabled: false }, ['/sys/fs/selinux: absent (SELinux not enabled)']);
  return unknownFact(r.reason);
}

async function seccomp(h: HostRoot): Promise<Fact<{ supported: boolean; actions?: string[] }>> {
  const st = await h.read('/proc/self/status');
  if (!st.ok) return unknownFact(st.reason);
  const line = /^Seccomp:\s*(\d+)/m.exec(st.value);
  if (!line) return known({ supported: false }, ['/proc/self/status: no Seccomp line (kernel without CONFIG_SECCOMP)']);
  const acts = await h.read('/proc/sys/kernel/seccomp/actions_avail');
  const actions = acts.ok ? acts.value.trim().split(/\s+/) : undefined;
  return known({ supported: true, ...(actions ? { actions } : {}) }, [`/proc/self/status: Seccomp: ${line[1]}`, ...(actions ? [`/proc/sys/kernel/seccomp/actions_avail: ${actions.join(' ')}`] : [])]);
}

async function cgroupVersion(h: HostRoot): Promise<Fact<1 | 2>> {
  const mounts = await h.read('/proc/self/mounts');
  if (mounts.ok) {
    const atRoot = mounts.value.split('\n').map((l) => l.split(' ')).filter((f) => f[1] === '/sys/fs/cgroup');
    const last = atRoot.at(-1);
    if (last?.[2] === 'cgroup2') return known(2, ['/proc/self/mounts: cgroup2 on /sys/fs/cgroup']);
    if (last?.[2] === 'tmpfs') return known(1, ['/proc/self/mounts: tmpfs on /sys/fs/cgroup (cgroup v1 hierarchies below)']);
  }
  const ctl = await h.stat('/sys/fs/cgroup/cgroup.controllers');
  if (ctl.ok) return known(2, ['/sys/fs/cgroup/cgroup.controllers: present (unified hierarchy)']);
  const v1 = await h.list('/sys/fs/cgroup');
  if (v1.ok && v1.value.some((d) => ['memory', 'cpu', 'cpuset', 'pids'].includes(d))) return known(1, [`/sys/fs/cgroup: ${v1.value.join(' ')} (v1 hierarchies)`]);
  return unknownFact(v1.ok ? '/sys/fs/cgroup: neither cgroup.controllers nor v1 hierarchies' : v1.reason);
}

async function userNamespaces(h: HostRoot): Promise<Fact<{ max: number; unprivileged?: boolean }>> {
  const r = await h.read('/proc/sys/user/max_user_namespaces');
  if (!r.ok) return unknownFact(r.reason);
  const max = Number(r.value.trim());
  const evidence = [`/proc/sys/user/max_user_namespaces: ${max}`];
  const unpriv = await h.read('/proc/sys/kernel/unprivileged_userns_clone');
  if (unpriv.ok) evidence.push(`/proc/sys/kernel/unprivileged_userns_clone: ${unpriv.value.trim()}`);
  return known({ max, ...(unpriv.ok ? { unprivileged: unpriv.value.trim() === '1' && max > 0 } : {}) }, evidence);
}

export async function hostname(h: HostRoot): Promise<string> {
  return trim(await h.read('/proc/sys/kernel/hostname')) || trim(await h.read('/etc/hostname')) || (h.isLive ? 'localhost' : h.root);
}

export async function readHostFacts(h: HostRoot): Promise<HostFacts> {
  const [name, kr, ld, sb, tp, im, me, fp, ls, aa, se, sc, cg, un] = await Promise.all([
    hostname(h), kernelRelease(h), lockdown(h), secureBoot(h), tpm(h), ima(h), memoryEncryption(h), fips(h), lsms(h), apparmor(h), selinux(h), seccomp(h), cgroupVersion(h), userNamespaces(h),
  ]);
  // selinuxfs not mounted while SELinux is an active LSM: its mode cannot be read.
  const selinuxFact: HostFacts['selinux'] = se.state === 'known' && !se.value.enabled && ls.state === 'known' && ls.value.includes('selinux')
    ? unknownFact('SELinux is an active LSM (/sys/kernel/security/lsm) but /sys/fs/selinux is not mounted', [...ls.evidence, ...se.evidence])
    : se;
  return { hostname: name, kernelRelease: kr, lockdown: ld, secureBoot: sb, tpm: tp, ima: im, memoryEncryption: me, fips: fp, lsms: ls, apparmor: aa, selinux: selinuxFact, seccomp: sc, cgroupVersion: cg, userNamespaces: un };
}
