/**
 * Privileges: what a compromise of the deployment gives an attacker on the node and in the
 * cluster: privileged containers, added capabilities (the dangerous ones weigh more),
 * host paths (the node's root, its configuration and the container runtime's socket weigh
 * more), root users, privilege escalation, host namespaces, and the risky rights of the
 * service account whose token the pods get (`rbac analyze`'s catalog).
 */
import { saturate } from './scale.js';
import type { FactorContext, FactorResult, RiskFactor } from './types.js';
import type { Severity } from '../../findings/finding.js';

const PRIVILEGED = 10;
/** Capabilities that amount to (or lead straight to) root on the node; others weigh 1. */
const CAPABILITY_WEIGHTS: Readonly<Record<string, number>> = {
  ALL: 8, SYS_ADMIN: 6, SYS_MODULE: 6, SYS_PTRACE: 4, NET_ADMIN: 4, DAC_READ_SEARCH: 4, DAC_OVERRIDE: 3,
  SYS_RAWIO: 4, BPF: 4, PERFMON: 3, SYS_BOOT: 3, SYS_TIME: 2, SYSLOG: 2, NET_RAW: 2, MKNOD: 2, SETUID: 2, SETGID: 2, CHOWN: 2, FOWNER: 2,
};
/** Host paths that hand over the node: its root, configuration, kubelet and runtime state. */
const SENSITIVE_PATHS = new Set([
  '/', '/etc', '/root', '/home', '/proc', '/sys', '/dev', '/boot', '/lib/modules', '/usr', '/var', '/var/run', '/run',
  '/var/lib/kubelet', '/var/lib/docker', '/var/lib/containerd', '/etc/kubernetes', '/var/lib/etcd',
]);
const RUNTIME_SOCKET = /(docker|containerd|crio|cri-dockerd|podman)[^/]*\.sock$|\/(docker|containerd|crio|podman)$/;
const HOST_PATH = { sensitive: 6, sensitiveReadOnly: 4, other: 2, otherReadOnly: 1 };
const ROOT_USER = 3;
const MAYBE_ROOT = 2;
const ESCALATION = 1;
const HOST_PID = 4;
const HOST_IPC = 2;
const RIGHT_WEIGHTS: Readonly<Record<Severity, number>> = { CRITICAL: 12, HIGH: 6, MEDIUM: 3, LOW: 1, UNKNOWN: 1 };
const SATURATION = 40;
const MAX = 3;

const normalizePath = (p: string): string => (p.length > 1 ? p.replace(/\/+$/, '') : p);

export function isSensitiveHostPath(path: string): boolean {
  const p = normalizePath(path);
  return SENSITIVE_PATHS.has(p) || RUNTIME_SOCKET.test(p);
}

export const privilegesFactor: RiskFactor = {
  name: 'privileges',
  evaluate(ctx: FactorContext): FactorResult {
    const w = ctx.workload;
    let points = 0;
    const details: string[] = [];
    const add = (n: number, why: string) => {
      points += n;
      details.push(why);
    };
    for (const c of w.containers) {
      const who = `container '${c.name}'`;
      if (c.privileged) add(PRIVILEGED, `privileged container '${c.name}'`);
      for (const cap of c.capabilitiesAdded) add(CAPABILITY_WEIGHTS[cap] ?? 1, `capability ${cap} added to ${who}`);
      for (const m of c.hostPaths) {
        const sensitive = isSensitiveHostPath(m.path);
        const weight = sensitive ? (m.readOnly ? HOST_PATH.sensitiveReadOnly : HOST_PATH.sensitive) : m.readOnly ? HOST_PATH.otherReadOnly : HOST_PATH.other;
        add(weight, `hostPath ${m.path} mounted ${m.readOnly ? 'read-only' : 'read-write'} in ${who}${sensitive ? ' (sensitive host path)' : ''}`);
      }
      if (c.runAsUser === 0) add(ROOT_USER, `${who} runs as root (user 0)`);
      else if (c.runAsUser === undefined && !c.runAsNonRoot) add(MAYBE_ROOT, `${who} may run as root (no runAsNonRoot, no runAsUser)`);
      if (c.allowPrivilegeEscalation && !c.privileged) add(ESCALATION, `${who} allows privilege escalation (no allowPrivilegeEscalation: false / no-new-privileges)`);
    }
    if (w.hostPID) add(HOST_PID, "hostPID: the pods share the node's process namespace");
    if (w.hostIPC) add(HOST_IPC, "hostIPC: the pods share the node's IPC namespace");
    if (w.platform === 'kubernetes' && w.serviceAccount && w.namespace) {
      const mounted = w.automountToken ?? ctx.cluster.serviceAccountAutomount(w.namespace, w.serviceAccount) ?? true;
      if (mounted) {
        const sa = `${w.namespace}/${w.serviceAccount}`;
        const own = `ServiceAccount ${sa} → `;
        for (const r of ctx.cluster.serviceAccountRights(w.namespace, w.serviceAccount)) {
          const via = r.path.startsWith(own) ? r.path.slice(own.length) : r.path;
          add(RIGHT_WEIGHTS[r.severity], `service account ${sa}: ${r.name} (${r.severity}, via ${via})`);
        }
      }
    }
    return { score: saturate(points, SATURATION, MAX), details };
  },
};
