/** Judgments over host facts: each a CheckResult with the facts' evidence. */
import type { Severity } from '../findings/finding.js';
import type { Fact, HostFacts } from './facts.js';
import { fail, notApplicable, pass, unknown, type Outcome } from './result.js';

export interface HostCheck {
  id: string;
  title: string;
  severity: Severity;
  remediation: string;
  evaluate(f: HostFacts): Outcome;
}

/** A known fact judged by `ok`; an unknown fact stays unknown with its reason. */
function on<T>(fact: Fact<T>, ok: (v: T) => boolean | 'na', detail: (v: T) => string): Outcome {
  if (fact.state === 'unknown') return unknown(fact.reason, fact.evidence);
  const r = ok(fact.value);
  if (r === 'na') return notApplicable(detail(fact.value), fact.evidence);
  return r ? pass(fact.evidence) : fail(fact.evidence, detail(fact.value));
}

export const HOST_CHECKS: HostCheck[] = [
  {
    id: 'node.kernel.lockdown', title: 'Kernel lockdown is in integrity or confidentiality mode', severity: 'MEDIUM',
    remediation: 'Boot with lockdown=integrity (or enable Secure Boot, which turns lockdown on with most distribution kernels).',
    evaluate: (f) => on(f.lockdown, (v) => v.mode === 'integrity' || v.mode === 'confidentiality', (v) => `kernel lockdown is ${v.mode}`),
  },
  {
    id: 'node.boot.secure-boot', title: 'The host booted with UEFI Secure Boot enabled', severity: 'MEDIUM',
    remediation: 'Enable Secure Boot in the firmware and boot a signed shim, kernel and modules.',
    evaluate: (f) => on(f.secureBoot, (v) => v === 'enabled', (v) => (v === 'no-efi' ? 'no EFI firmware: Secure Boot is absent' : `Secure Boot is ${v}`)),
  },
  {
    id: 'node.boot.tpm', title: 'A TPM (hardware root of trust) is present', severity: 'LOW',
    remediation: 'Use hosts with a TPM 2.0 (or a vTPM on virtual machines) and enable it in the firmware.',
    evaluate: (f) => on(f.tpm, (v) => v.presence === 'present', () => 'no TPM device: no hardware root of trust for measured boot'),
  },
  {
    id: 'node.kernel.ima', title: 'Integrity Measurement Architecture (IMA) is active', severity: 'LOW',
    remediation: 'Boot with an IMA policy (ima_policy=tcb or a custom policy) to measure executables and files.',
    evaluate: (f) => on(f.ima, (v) => v.active, () => 'IMA is not active'),
  },
  {
    id: 'node.cpu.memory-encryption', title: 'Memory is encrypted (AMD SME, or a SEV/SEV-ES/SEV-SNP/TDX confidential guest)', severity: 'LOW',
    remediation: 'Enable SME (mem_encrypt=on) on AMD hosts, or run nodes as SEV-SNP / TDX confidential VMs.',
    evaluate: (f) => {
      const m = f.memoryEncryption;
      if (m.state === 'unknown') return unknown(m.reason, m.evidence);
      if (m.value.smeActive === true || ['sev', 'sev-es', 'sev-snp', 'tdx'].includes(m.value.guest)) return pass(m.evidence);
      if (m.value.smeActive === 'unknown' || m.value.guest === 'unknown') return unknown('the CPU has memory-encryption features but the kernel log that says whether they are active is not readable', m.evidence);
      return fail(m.evidence, m.value.cpuFlags.length ? `memory encryption is not active (CPU flags: ${m.value.cpuFlags.join(' ')})` : 'the CPU offers no memory encryption (no sme/sev/tdx flags)');
    },
  },
  {
    id: 'node.crypto.fips', title: 'The kernel runs in FIPS mode', severity: 'LOW',
    remediation: 'Boot with fips=1 on a distribution with FIPS-validated kernel crypto modules.',
    evaluate: (f) => on(f.fips, (v) => v, () => 'the kernel is not in FIPS mode'),
  },
  {
    id: 'node.lsm.mandatory-access-control', title: 'A mandatory access control LSM (AppArmor or SELinux) is enforcing', severity: 'HIGH',
    remediation: 'Enable AppArmor (with enforced profiles) or SELinux in enforcing mode.',
    evaluate: (f) => {
      const ev = [...f.lsms.evidence, ...f.apparmor.evidence, ...f.selinux.evidence];
      const aa = f.apparmor.state === 'known' && f.apparmor.value.enabled && (f.apparmor.value.enforcedProfiles ?? 1) > 0;
      const se = f.selinux.state === 'known' && f.selinux.value.enforcing === true;
      if (aa || se) return pass(ev);
      if (f.apparmor.state === 'unknown' && f.selinux.state === 'unknown') return unknown(`${f.apparmor.reason}; ${f.selinux.reason}`, ev);
      if (f.apparmor.state === 'unknown' || f.selinux.state === 'unknown') return unknown(f.apparmor.state === 'unknown' ? f.apparmor.reason : (f.selinux as { reason: string }).reason, ev);
      return fail(ev, 'neither AppArmor (with enforced profiles) nor SELinux (enforcing) is active');
    },
  },
  {
    id: 'node.lsm.selinux-enforcing', title: 'SELinux, when enabled, is enforcing', severity: 'MEDIUM',
    remediation: 'Set SELINUX=enforcing in /etc/selinux/config and reboot (or setenforce 1).',
    evaluate: (f) => on(f.selinux, (v) => (v.enabled ? v.enforcing === true : 'na'), (v) => (v.enabled ? 'SELinux is permissive' : 'SELinux is not enabled')),
  },
  {
    id: 'node.kernel.seccomp', title: 'The kernel supports seccomp filters', severity: 'HIGH',
    remediation: 'Use a kernel built with CONFIG_SECCOMP and CONFIG_SECCOMP_FILTER.',
    evaluate: (f) => on(f.seccomp, (v) => v.supported, () => 'no seccomp support: container seccomp profiles cannot apply'),
  },
  {
    id: 'node.cgroup.v2', title: 'The host uses cgroup v2 (unified hierarchy)', severity: 'LOW',
    remediation: 'Boot with systemd.unified_cgroup_hierarchy=1.',
    evaluate: (f) => on(f.cgroupVersion, (v) => v === 2, (v) => `cgroup v${v}`),
  },
  {
    id: 'node.kernel.user-namespaces', title: 'User namespaces are available (rootless engines, userns-remap, pod user namespaces)', severity: 'LOW',
    remediation: 'Set user.max_user_namespaces above 0.',
    evaluate: (f) => on(f.userNamespaces, (v) => v.max > 0, () => 'user namespaces are disabled (user.max_user_namespaces=0)'),
  },
];
