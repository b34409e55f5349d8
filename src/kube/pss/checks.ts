/**
 * The Pod Security Standards checks, following the semantics of Kubernetes' reference
 * implementation (k8s.io/pod-security-admission/policy): each check has versioned
 * variants; the variant with the highest minimum version not above the requested policy
 * version applies. Restricted checks may override (replace) a baseline check.
 * Written by hand because no TypeScript library implements PSS evaluation.
 */
import type { FieldPath } from '../manifests.js';

export type PssLevel = 'baseline' | 'restricted';

export interface PssPod {
  metadata: Record<string, any>;
  spec: Record<string, any>;
}

export interface PssViolation {
  /** Short reason in the words Kubernetes uses ("privileged", "host namespaces"). */
  reason: string;
  detail: string;
  /** Offending fields, relative to the pod (['spec', ...] or ['metadata', ...]). */
  paths: FieldPath[];
}

export type CheckFn = (pod: PssPod) => PssViolation | undefined;

export interface VersionedCheck {
  minVersion: number; // minor version of 1.x
  check: CheckFn;
  overrides?: string[];
}

export interface PssCheck {
  id: string;
  level: PssLevel;
  versions: VersionedCheck[];
}

// ---- helpers ---------------------------------------------------------------------------

interface Ctr {
  c: Record<string, any>;
  path: FieldPath;
}

// Every check walks the containers; build the list once per pod spec.
const containerCache = new WeakMap<object, Ctr[]>();

function containers(pod: PssPod): Ctr[] {
  const cached = pod.spec && typeof pod.spec === 'object' ? containerCache.get(pod.spec) : undefined;
  if (cached) return cached;
  const out: Ctr[] = [];
  for (const kind of ['initContainers', 'containers', 'ephemeralContainers']) {
    const list = pod.spec?.[kind];
    if (!Array.isArray(list)) continue;
    list.forEach((c, i) => {
      if (c && typeof c === 'object') out.push({ c, path: ['spec', kind, i] });
    });
  }
  if (pod.spec && typeof pod.spec === 'object') containerCache.set(pod.spec, out);
  return out;
}

const obj = (v: unknown): Record<string, any> | undefined =>
  v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, any>) : undefined;

const podSC = (pod: PssPod) => obj(pod.spec?.securityContext);
const ctrSC = (c: Ctr) => obj(c.c.securityContext);
const nameOf = (c: Ctr) => JSON.stringify(String(c.c.name ?? ''));
const isWindows = (pod: PssPod) => obj(pod.spec?.os)?.name === 'windows';

function violation(reason: string, details: string[], paths: FieldPath[]): PssViolation | undefined {
  if (paths.length === 0) return undefined;
  return { reason, detail: details.join('; '), paths };
}

// ---- baseline ----------------------------------------------------------------------------

const hostNamespaces: CheckFn = (pod) => {
  const paths: FieldPath[] = [];
  const names: string[] = [];
  for (const f of ['hostNetwork', 'hostPID', 'hostIPC']) {
    if (pod.spec?.[f] === true) {
      paths.push(['spec', f]);
      names.push(`${f}=true`);
    }
  }
  return violation('host namespaces', names, paths);
};

const privileged: CheckFn = (pod) => {
  const bad = containers(pod).filter((c) => ctrSC(c)?.privileged === true);
  return violation(
    'privileged',
    bad.map((c) => `container ${nameOf(c)} must not set securityContext.privileged=true`),
    bad.map((c) => [...c.path, 'securityContext', 'privileged']),
  );
};

const BASELINE_CAPS = new Set([
  'AUDIT_WRITE', 'CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'FSETID', 'KILL', 'MKNOD', 'NET_BIND_SERVICE',
  'SETFCAP', 'SETGID', 'SETPCAP', 'SETUID', 'SYS_CHROOT',
]);

const capabilitiesBaseline: CheckFn = (pod) => {
  const paths: FieldPath[] = [];
  const details: string[] = [];
  for (const c of containers(pod)) {
    const add = obj(ctrSC(c)?.capabilities)?.add;
    if (!Array.isArray(add)) continue;
    const bad = add.filter((cap) => !BASELINE_CAPS.has(String(cap)));
    if (bad.length) {
      paths.push([...c.path, 'securityContext', 'capabilities', 'add']);
      details.push(`container ${nameOf(c)} must not include ${bad.map((b) => JSON.stringify(b)).join(', ')} in securityContext.capabilities.add`);
    }
  }
  return violation('non-default capabilities', details, paths);
};

const hostPathVolumes: CheckFn = (pod) => {
  const vols = Array.isArray(pod.spec?.volumes) ? pod.spec.volumes : [];
  const paths: FieldPath[] = [];
  const names: string[] = [];
  vols.forEach((v: any, i: number) => {
    if (obj(v) && v.hostPath !== undefined && v.hostPath !== null) {
      paths.push(['spec', 'volumes', i, 'hostPath']);
      names.push(String(v.name ?? ''));
    }
  });
  return violation('hostPath volumes', names.length ? [`volumes ${names.map((n) => JSON.stringify(n)).join(', ')}`] : [], paths);
};

const hostPorts: CheckFn = (pod) => {
  const paths: FieldPath[] = [];
  const details: string[] = [];
  for (const c of containers(pod)) {
    const ports = Array.isArray(c.c.ports) ? c.c.ports : [];
    ports.forEach((p: any, i: number) => {
      if (obj(p) && p.hostPort !== undefined && p.hostPort !== null && Number(p.hostPort) !== 0) {
        paths.push([...c.path, 'ports', i, 'hostPort']);
        details.push(`container ${nameOf(c)} uses hostPort ${p.hostPort}`);
      }
    });
  }
  return violation('hostPort', details, paths);
};

const APPARMOR_PREFIX = 'container.apparmor.security.beta.kubernetes.io/';
const appArmorAnnotations = (pod: PssPod): { paths: FieldPath[]; details: string[] } => {
  const paths: FieldPath[] = [];
  const details: string[] = [];
  for (const [k, v] of Object.entries(obj(pod.metadata?.annotations) ?? {})) {
    if (!k.startsWith(APPARMOR_PREFIX)) continue;
    const value = v === null || v === undefined ? '' : String(v);
    if (value === '' || value === 'runtime/default' || value.startsWith('localhost/')) continue;
    paths.push(['metadata', 'annotations', k]);
    details.push(`${k}="${value}"`);
  }
  return { paths, details };
};

const appArmor_1_0: CheckFn = (pod) => {
  const { paths, details } = appArmorAnnotations(pod);
  return violation('forbidden AppArmor profile', details, paths);
};

const appArmor_1_30: CheckFn = (pod) => {
  const { paths, details } = appArmorAnnotations(pod);
  const unconfined = (sc: Record<string, any> | undefined) => obj(sc?.appArmorProfile)?.type === 'Unconfined';
  if (unconfined(podSC(pod))) {
    paths.push(['spec', 'securityContext', 'appArmorProfile', 'type']);
    details.push('pod must not set securityContext.appArmorProfile.type to "Unconfined"');
  }
  for (const c of containers(pod)) {
    if (unconfined(ctrSC(c))) {
      paths.push([...c.path, 'securityContext', 'appArmorProfile', 'type']);
      details.push(`container ${nameOf(c)} must not set securityContext.appArmorProfile.type to "Unconfined"`);
    }
  }
  return violation('forbidden AppArmor profile', details, paths);
};

const seLinuxOptions = (allowedTypes: Set<string>): CheckFn => (pod) => {
  const paths: FieldPath[] = [];
  const details: string[] = [];
  const checkOpts = (opts: Record<string, any> | undefined, path: FieldPath, who: string) => {
    if (!opts) return;
    const type = opts.type === undefined || opts.type === null ? '' : String(opts.type);
    if (!allowedTypes.has(type)) {
      paths.push([...path, 'type']);
      details.push(`${who} seLinuxOptions.type "${type}"`);
    }
    for (const f of ['user', 'role']) {
      if (opts[f] !== undefined && opts[f] !== null && String(opts[f]) !== '') {
        paths.push([...path, f]);
        details.push(`${who} seLinuxOptions.${f} "${opts[f]}"`);
      }
    }
  };
  checkOpts(obj(podSC(pod)?.seLinuxOptions), ['spec', 'securityContext', 'seLinuxOptions'], 'pod');
  for (const c of containers(pod)) {
    checkOpts(obj(ctrSC(c)?.seLinuxOptions), [...c.path, 'securityContext', 'seLinuxOptions'], `container ${nameOf(c)}`);
  }
  return violation('seLinuxOptions', details, paths);
};
const SELINUX_1_0 = new Set(['', 'container_t', 'container_init_t', 'container_kvm_t']);
const SELINUX_1_31 = new Set([...SELINUX_1_0, 'container_engine_t']);

const procMountWith = (allowUnmaskedInUserNamespace: boolean): CheckFn => (pod) => {
  if (allowUnmaskedInUserNamespace && pod.spec?.hostUsers === false) return undefined;
  const bad = containers(pod).filter((c) => {
    const pm = ctrSC(c)?.procMount;
    return pm !== undefined && pm !== null && pm !== 'Default';
  });
  return violation(
    'procMount',
    bad.map((c) => `container ${nameOf(c)} must not set securityContext.procMount to "${ctrSC(c)?.procMount}"`),
    bad.map((c) => [...c.path, 'securityContext', 'procMount']),
  );
};

const seccompBaseline_1_0: CheckFn = (pod) => {
  const paths: FieldPath[] = [];
  const details: string[] = [];
  for (const [k, v] of Object.entries(obj(pod.metadata?.annotations) ?? {})) {
    if (k !== 'seccomp.security.alpha.kubernetes.io/pod' && !k.startsWith('container.seccomp.security.alpha.kubernetes.io/')) continue;
    if (String(v) === 'unconfined') {
      paths.push(['metadata', 'annotations', k]);
      details.push(`${k}="unconfined"`);
    }
  }
  return violation('seccompProfile', details, paths);
};

const seccompBaseline_1_19: CheckFn = (pod) => {
  const paths: FieldPath[] = [];
  const details: string[] = [];
  if (obj(podSC(pod)?.seccompProfile)?.type === 'Unconfined') {
    paths.push(['spec', 'securityContext', 'seccompProfile', 'type']);
    details.push('pod must not set securityContext.seccompProfile.type to "Unconfined"');
  }
  for (const c of containers(pod)) {
    if (obj(ctrSC(c)?.seccompProfile)?.type === 'Unconfined') {
      paths.push([...c.path, 'securityContext', 'seccompProfile', 'type']);
      details.push(`container ${nameOf(c)} must not set securityContext.seccompProfile.type to "Unconfined"`);
    }
  }
  return violation('seccompProfile', details, paths);
};

const SYSCTLS_1_0 = [
  'kernel.shm_rmid_forced', 'net.ipv4.ip_local_port_range', 'net.ipv4.tcp_syncookies',
  'net.ipv4.ping_group_range', 'net.ipv4.ip_unprivileged_port_start',
];
const SYSCTLS_1_27 = [...SYSCTLS_1_0, 'net.ipv4.ip_local_reserved_ports'];
const SYSCTLS_1_29 = [
  ...SYSCTLS_1_27, 'net.ipv4.tcp_keepalive_time', 'net.ipv4.tcp_fin_timeout',
  'net.ipv4.tcp_keepalive_intvl', 'net.ipv4.tcp_keepalive_probes',
];
const SYSCTLS_1_32 = [...SYSCTLS_1_29, 'net.ipv4.tcp_rmem', 'net.ipv4.tcp_wmem'];
const SYSCTLS_1_37 = [...SYSCTLS_1_32, 'net.ipv4.tcp_slow_start_after_idle', 'net.ipv4.tcp_notsent_lowat'];

const sysctls = (allowed: readonly string[]): CheckFn => {
  const set = new Set(allowed);
  return (pod) => {
    const list = podSC(pod)?.sysctls;
    if (!Array.isArray(list)) return undefined;
    const paths: FieldPath[] = [];
    const names: string[] = [];
    list.forEach((s: any, i: number) => {
      const name = String(obj(s)?.name ?? '');
      if (!set.has(name)) {
        paths.push(['spec', 'securityContext', 'sysctls', i, 'name']);
        names.push(name);
      }
    });
    return violation('forbidden sysctls', names.length ? [names.join(', ')] : [], paths);
  };
};

const windowsHostProcess: CheckFn = (pod) => {
  const paths: FieldPath[] = [];
  if (obj(podSC(pod)?.windowsOptions)?.hostProcess === true) paths.push(['spec', 'securityContext', 'windowsOptions', 'hostProcess']);
  for (const c of containers(pod)) {
    if (obj(ctrSC(c)?.windowsOptions)?.hostProcess === true) paths.push([...c.path, 'securityContext', 'windowsOptions', 'hostProcess']);
  }
  return violation('hostProcess', paths.length ? ['pod or containers must not set securityContext.windowsOptions.hostProcess=true'] : [], paths);
};

const hostProbesAndHostLifecycle: CheckFn = (pod) => {
  const paths: FieldPath[] = [];
  const details: string[] = [];
  const handler = (h: unknown, path: FieldPath, c: Ctr, what: string) => {
    const ho = obj(h);
    if (!ho) return;
    for (const kind of ['httpGet', 'tcpSocket']) {
      const host = obj(ho[kind])?.host;
      if (host !== undefined && host !== null && String(host) !== '') {
        paths.push([...path, kind, 'host']);
        details.push(`container ${nameOf(c)} ${what} uses ${kind}.host "${host}"`);
      }
    }
  };
  for (const c of containers(pod)) {
    for (const probe of ['livenessProbe', 'readinessProbe', 'startupProbe']) handler(c.c[probe], [...c.path, probe], c, probe);
    const lc = obj(c.c.lifecycle);
    for (const hook of ['postStart', 'preStop']) handler(lc?.[hook], [...c.path, 'lifecycle', hook], c, `lifecycle.${hook}`);
  }
  return violation('probe or lifecycle host', details, paths);
};

// ---- restricted --------------------------------------------------------------------------

const skipWindows = (fn: CheckFn): CheckFn => (pod) => (isWindows(pod) ? undefined : fn(pod));

const allowPrivilegeEscalation: CheckFn = (pod) => {
  const bad = containers(pod).filter((c) => ctrSC(c)?.allowPrivilegeEscalation !== false);
  return violation(
    'allowPrivilegeEscalation != false',
    bad.map((c) => `container ${nameOf(c)} must set securityContext.allowPrivilegeEscalation=false`),
    bad.map((c) => [...c.path, 'securityContext', 'allowPrivilegeEscalation']),
  );
};

const capabilitiesRestricted: CheckFn = (pod) => {
  const paths: FieldPath[] = [];
  const details: string[] = [];
  for (const c of containers(pod)) {
    const caps = obj(ctrSC(c)?.capabilities);
    const drop = Array.isArray(caps?.drop) ? caps!.drop.map(String) : [];
    if (!drop.includes('ALL')) {
      paths.push([...c.path, 'securityContext', 'capabilities', 'drop']);
      details.push(`container ${nameOf(c)} must set securityContext.capabilities.drop=["ALL"]`);
    }
    const add = Array.isArray(caps?.add) ? caps!.add.map(String) : [];
    const bad = add.filter((a: string) => a !== 'NET_BIND_SERVICE');
    if (bad.length) {
      paths.push([...c.path, 'securityContext', 'capabilities', 'add']);
      details.push(`container ${nameOf(c)} must not include ${bad.map((b: string) => JSON.stringify(b)).join(', ')} in securityContext.capabilities.add`);
    }
  }
  return violation('unrestricted capabilities', details, paths);
};

const runAsNonRoot: CheckFn = (pod) => {
  const paths: FieldPath[] = [];
  const details: string[] = [];
  const podValue = podSC(pod)?.runAsNonRoot;
  if (podValue === false) {
    paths.push(['spec', 'securityContext', 'runAsNonRoot']);
    details.push('pod must not set securityContext.runAsNonRoot=false');
  }
  for (const c of containers(pod)) {
    const v = ctrSC(c)?.runAsNonRoot;
    if (v === false) {
      paths.push([...c.path, 'securityContext', 'runAsNonRoot']);
      details.push(`container ${nameOf(c)} must not set securityContext.runAsNonRoot=false`);
    } else if ((v === undefined || v === null) && podValue !== true) {
      paths.push([...c.path, 'securityContext', 'runAsNonRoot']);
      details.push(`pod or container ${nameOf(c)} must set securityContext.runAsNonRoot=true`);
    }
  }
  return violation('runAsNonRoot != true', details, paths);
};

const runAsUser: CheckFn = (pod) => {
  const paths: FieldPath[] = [];
  if (podSC(pod)?.runAsUser === 0) paths.push(['spec', 'securityContext', 'runAsUser']);
  for (const c of containers(pod)) {
    if (ctrSC(c)?.runAsUser === 0) paths.push([...c.path, 'securityContext', 'runAsUser']);
  }
  return violation('runAsUser=0', paths.length ? ['pod and containers must not set runAsUser=0'] : [], paths);
};

const ALLOWED_VOLUME_SOURCES = [
  'configMap', 'csi', 'downwardAPI', 'emptyDir', 'ephemeral', 'persistentVolumeClaim', 'projected', 'secret',
];

const restrictedVolumes: CheckFn = (pod) => {
  const vols = Array.isArray(pod.spec?.volumes) ? pod.spec.volumes : [];
  const paths: FieldPath[] = [];
  const details: string[] = [];
  vols.forEach((v: any, i: number) => {
    const vo = obj(v) ?? {};
    const types = Object.keys(vo).filter((k) => k !== 'name' && vo[k] !== null && vo[k] !== undefined);
    // The API server defaults a volume without a source to emptyDir.
    if (types.length === 0) return;
    const allowed = ALLOWED_VOLUME_SOURCES.some((s) => vo[s] !== undefined && vo[s] !== null);
    if (allowed) return;
    paths.push(['spec', 'volumes', i]);
    details.push(`volume ${JSON.stringify(String(vo.name ?? ''))} uses ${types.join(', ') || 'an unknown volume type'}`);
  });
  return violation('restricted volume types', details, paths);
};

const seccompRestricted: CheckFn = (pod) => {
  const paths: FieldPath[] = [];
  const details: string[] = [];
  const valid = (t: unknown) => t === 'RuntimeDefault' || t === 'Localhost';
  const podProfile = obj(podSC(pod)?.seccompProfile);
  const podSet = podProfile !== undefined;
  if (podSet && !valid(podProfile!.type)) {
    paths.push(['spec', 'securityContext', 'seccompProfile', 'type']);
    details.push(`pod must not set securityContext.seccompProfile.type to "${podProfile!.type}"`);
  }
  for (const c of containers(pod)) {
    const prof = obj(ctrSC(c)?.seccompProfile);
    if (prof) {
      if (!valid(prof.type)) {
        paths.push([...c.path, 'securityContext', 'seccompProfile', 'type']);
        details.push(`container ${nameOf(c)} must not set securityContext.seccompProfile.type to "${prof.type}"`);
      }
    } else if (!podSet) {
      paths.push([...c.path, 'securityContext', 'seccompProfile']);
      details.push(`pod or container ${nameOf(c)} must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost"`);
    }
  }
  return violation('seccompProfile', details, paths);
};

// ---- registry ----------------------------------------------------------------------------

export const PSS_CHECKS: readonly PssCheck[] = [
  { id: 'hostNamespaces', level: 'baseline', versions: [{ minVersion: 0, check: hostNamespaces }] },
  { id: 'privileged', level: 'baseline', versions: [{ minVersion: 0, check: privileged }] },
  { id: 'capabilities_baseline', level: 'baseline', versions: [{ minVersion: 0, check: capabilitiesBaseline }] },
  { id: 'hostPathVolumes', level: 'baseline', versions: [{ minVersion: 0, check: hostPathVolumes }] },
  { id: 'hostPorts', level: 'baseline', versions: [{ minVersion: 0, check: hostPorts }] },
  {
    id: 'appArmorProfile',
    level: 'baseline',
    versions: [
      { minVersion: 0, check: appArmor_1_0 },
      { minVersion: 30, check: appArmor_1_30 },
    ],
  },
  {
    id: 'seLinuxOptions',
    level: 'baseline',
    versions: [
      { minVersion: 0, check: seLinuxOptions(SELINUX_1_0) },
      { minVersion: 31, check: seLinuxOptions(SELINUX_1_31) },
    ],
  },
  {
    id: 'procMount',
    level: 'baseline',
    versions: [
      { minVersion: 0, check: procMountWith(false) },
      { minVersion: 35, check: procMountWith(true) },
    ],
  },
  {
    id: 'seccompProfile_baseline',
    level: 'baseline',
    versions: [
      { minVersion: 0, check: seccompBaseline_1_0 },
      { minVersion: 19, check: seccompBaseline_1_19 },
    ],
  },
  {
    id: 'sysctls',
    level: 'baseline',
    versions: [
      { minVersion: 0, check: sysctls(SYSCTLS_1_0) },
      { minVersion: 27, check: sysctls(SYSCTLS_1_27) },
      { minVersion: 29, check: sysctls(SYSCTLS_1_29) },
      { minVersion: 32, check: sysctls(SYSCTLS_1_32) },
      { minVersion: 37, check: sysctls(SYSCTLS_1_37) },
    ],
  },
  { id: 'windowsHostProcess', level: 'baseline', versions: [{ minVersion: 0, check: windowsHostProcess }] },
  { id: 'hostProbesAndHostLifecycle', level: 'baseline', versions: [{ minVersion: 34, check: hostProbesAndHostLifecycle }] },
  {
    id: 'allowPrivilegeEscalation',
    level: 'restricted',
    versions: [
      { minVersion: 8, check: allowPrivilegeEscalation },
      { minVersion: 25, check: skipWindows(allowPrivilegeEscalation) },
    ],
  },
  {
    id: 'capabilities_restricted',
    level: 'restricted',
    versions: [
      { minVersion: 22, check: capabilitiesRestricted, overrides: ['capabilities_baseline'] },
      { minVersion: 25, check: skipWindows(capabilitiesRestricted), overrides: ['capabilities_baseline'] },
    ],
  },
  { id: 'runAsNonRoot', level: 'restricted', versions: [{ minVersion: 0, check: runAsNonRoot }] },
  { id: 'runAsUser', level: 'restricted', versions: [{ minVersion: 23, check: runAsUser }] },
  { id: 'restrictedVolumes', level: 'restricted', versions: [{ minVersion: 0, check: restrictedVolumes }] },
  {
    id: 'seccompProfile_restricted',
    level: 'restricted',
    versions: [
      { minVersion: 19, check: seccompRestricted, overrides: ['seccompProfile_baseline'] },
      { minVersion: 25, check: skipWindows(seccompRestricted), overrides: ['seccompProfile_baseline'] },
    ],
  },
  {
    id: 'procMount_restricted',
    level: 'restricted',
    versions: [{ minVersion: 35, check: procMountWith(false), overrides: ['procMount'] }],
  },
];
