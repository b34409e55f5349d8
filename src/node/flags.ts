/**
 * Where a component's flags come from: running processes (/proc/PID/cmdline), static-pod
 * manifests (/etc/kubernetes/manifests/*.yaml), a bare flag list, or a kubeadm
 * ClusterConfiguration (its extraArgs over the flags kubeadm itself writes).
 */
import { basename } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { UserError } from '../util/errors.js';
import type { HostRoot } from './host.js';

export const COMPONENTS = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'etcd', 'kubelet', 'kube-proxy'] as const;
export type Component = (typeof COMPONENTS)[number];

/** Short names used in check ids (`controlplane.apiserver.…`). */
export const SHORT: Record<Component, string> = {
  'kube-apiserver': 'apiserver',
  'kube-controller-manager': 'controller-manager',
  'kube-scheduler': 'scheduler',
  etcd: 'etcd',
  kubelet: 'kubelet',
  'kube-proxy': 'kube-proxy',
};

export interface FlagSource {
  component: Component;
  kind: 'process' | 'manifest' | 'flags-file' | 'kubeadm';
  /** `pid 1234`, a manifest path, a flag file path. */
  origin: string;
  /** The file the flags were read from (manifests, flag lists, kubeadm config). */
  file?: string;
  /** Flag name (without dashes) → values in order (a flag may repeat). */
  flags: Map<string, string[]>;
  /** For kubeadm: flags kubeadm writes itself (so evidence says where a value came from). */
  defaulted?: Set<string>;
  /** etcd reads every flag from ETCD_<FLAG> too: the process's environment or the container's env. */
  env?: Map<string, string>;
}

/** `ETCD_*` variables of an environment block (NUL-separated) or a container's env list. */
function etcdEnv(entries: [string, string][]): Map<string, string> | undefined {
  const env = new Map(entries.filter(([k]) => k.startsWith('ETCD_')));
  return env.size ? env : undefined;
}

/** The component an executable name stands for (`/usr/bin/kube-apiserver`, `kube-apiserver-v1.34.3`, `etcd`). */
export function componentOf(exe: string): Component | undefined {
  const b = basename(exe);
  for (const c of COMPONENTS) if (b === c || b.startsWith(`${c}-v`)) return c;
  return undefined;
}

/** `--a=b`, `--a b`, `--a` (true); single-dash flags too; positional words are skipped. */
export function parseFlags(argv: readonly string[]): Map<string, string[]> {
  const flags = new Map<string, string[]>();
  const add = (k: string, v: string) => flags.set(k, [...(flags.get(k) ?? []), v]);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') continue;
    const m = /^--?([A-Za-z0-9][A-Za-z0-9._-]*)(?:=(.*))?$/s.exec(a);
    if (!m) continue;
    if (m[2] !== undefined) add(m[1]!, m[2]);
    else if (argv[i + 1] !== undefined && !argv[i + 1]!.startsWith('-') && !isBoolish(m[1]!)) add(m[1]!, argv[++i]!);
    else add(m[1]!, 'true');
  }
  return flags;
}

/** Boolean flags that never take a separate value word. */
function isBoolish(name: string): boolean {
  return /^(anonymous-auth|profiling|client-cert-auth|peer-client-cert-auth|auto-tls|peer-auto-tls|rotate-certificates|use-service-account-credentials|service-account-lookup|make-iptables-util-chains|protect-kernel-defaults|allow-privileged|leader-elect|enable-bootstrap-token-auth)$/.test(name);
}

/** Processes of Kubernetes components in the process list (optionally only some pids). */
export async function processSources(h: HostRoot, only?: { pid: number; component?: Component }[]): Promise<{ sources: FlagSource[]; notes: string[] }> {
  const notes: string[] = [];
  const sources: FlagSource[] = [];
  let pids: number[];
  if (only) pids = only.map((p) => p.pid);
  else {
    const l = await h.list('/proc');
    if (!l.ok) return { sources, notes: [`process list not readable: ${l.reason}`] };
    pids = l.value.filter((d) => /^\d+$/.test(d)).map(Number);
  }
  for (const pid of pids) {
    const cmd = await h.readBytes(`/proc/${pid}/cmdline`);
    if (!cmd.ok) {
      if (only) notes.push(`process ${pid}: ${cmd.reason}`);
      continue;
    }
    const argv = cmd.value.toString('utf8').split('\0');
    if (argv.at(-1) === '') argv.pop();
    if (argv.length === 0) continue;
    let component = only?.find((p) => p.pid === pid)?.component ?? componentOf(argv[0]!);
    if (!component && h.isLive) {
      // argv[0] can be anything; the executable's real name settles it.
      const exe = await import('node:fs/promises').then((fs) => fs.readlink(`/proc/${pid}/exe`)).catch(() => undefined);
      if (exe) component = componentOf(exe.replace(/ \(deleted\)$/, ''));
    }
    if (!component) {
      if (only) notes.push(`process ${pid} (${basename(argv[0]!)}) is not a Kubernetes component`);
      continue;
    }
    const src: FlagSource = { component, kind: 'process', origin: `pid ${pid}`, flags: parseFlags(argv.slice(1)) };
    if (component === 'etcd') {
      const environ = await h.readBytes(`/proc/${pid}/environ`);
      if (environ.ok) {
        const env = etcdEnv(environ.value.toString('utf8').split('\0').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
        if (env) src.env = env;
      } else notes.push(`etcd pid ${pid}: environment not readable (${environ.reason}); ETCD_* variables are not seen`);
    }
    sources.push(src);
  }
  return { sources, notes };
}

/** Static-pod manifests: every container whose command is a component. */
export async function manifestSources(h: HostRoot, dir: string, explicit: boolean): Promise<{ sources: FlagSource[]; notes: string[] }> {
  const l = await h.list(dir);
  if (!l.ok) {
    if (explicit) throw new UserError(`--manifests: ${l.reason}`, 'bad-input');
    return { sources: [], notes: l.absent ? [] : [`static-pod manifests not readable: ${l.reason}`] };
  }
  const sources: FlagSource[] = [];
  const notes: string[] = [];
  for (const name of l.value.filter((n) => /\.(ya?ml|json|manifest)$/.test(n))) {
    const file = `${dir.replace(/\/$/, '')}/${name}`;
    const r = await h.read(file);
    if (!r.ok) {
      notes.push(`manifest not readable: ${r.reason}`);
      continue;
    }
    let docs: unknown[];
    try {
      docs = parseAllDocuments(r.value).map((d) => {
        if (d.errors.length) throw new Error(d.errors[0]!.message.split('\n')[0]);
        return d.toJS();
      });
    } catch (e) {
      notes.push(`${file}: not valid YAML: ${(e as Error).message}`);
      continue;
    }
    for (const doc of docs as any[]) {
      for (const c of [...(doc?.spec?.containers ?? []), ...(doc?.spec?.initContainers ?? [])]) {
        const argv = [...(Array.isArray(c?.command) ? c.command : []), ...(Array.isArray(c?.args) ? c.args : [])].map(String);
        const component = argv[0] ? componentOf(argv[0]) : undefined;
        if (!component) continue;
        const src: FlagSource = { component, kind: 'manifest', origin: file, file, flags: parseFlags(argv.slice(1)) };
        if (component === 'etcd' && Array.isArray(c?.env)) {
          const env = etcdEnv(c.env.filter((e: any) => typeof e?.name === 'string' && e.value !== undefined).map((e: any) => [e.name, String(e.value)]));
          if (env) src.env = env;
        }
        sources.push(src);
      }
    }
  }
  return { sources, notes };
}

/**
 * A bare flag list: `kube-apiserver --a=b --c …` on one line or one flag per line (`#`
 * comments). The component is the first word, or given as `component=FILE`.
 */
export async function flagFileSource(h: HostRoot, spec: string): Promise<FlagSource> {
  const m = /^([a-z-]+)=(.+)$/.exec(spec);
  let component: Component | undefined;
  let file = spec;
  if (m && (COMPONENTS as readonly string[]).includes(m[1]!)) {
    component = m[1] as Component;
    file = m[2]!;
  }
  const r = await h.read(file);
  if (!r.ok) throw new UserError(`--flags: ${r.reason}`, 'bad-input');
  const words = r.value
    .split('\n')
    .map((l) => l.replace(/(^|\s)#.*$/, '').trim())
    .join(' ')
    .split(/\s+|\\\s*/)
    .filter(Boolean)
    .map((w) => w.replace(/^(['"])(.*)\1$/, '$2'));
  if (words[0] && !words[0].startsWith('-')) {
    const c = componentOf(words[0]);
    if (!c) throw new UserError(`--flags ${file}: "${words[0]}" is not a Kubernetes component (expected ${COMPONENTS.join(', ')})`, 'bad-input');
    if (component && c !== component) throw new UserError(`--flags ${spec}: the file starts with ${c}`, 'bad-input');
    component = c;
    words.shift();
  }
  if (!component) throw new UserError(`--flags ${file}: cannot tell which component the flags are for; start the file with the binary name or write --flags kube-apiserver=${file}`, 'bad-input');
  const bad = words.find((w) => !w.startsWith('-') && !words[words.indexOf(w) - 1]?.startsWith('-'));
  if (bad) throw new UserError(`--flags ${file}: "${bad}" is not a flag`, 'bad-input');
  return { component, kind: 'flags-file', origin: file, file, flags: parseFlags(words) };
}

/** Flags kubeadm (v1.34) writes into its static pods before extraArgs apply. */
const KUBEADM_DEFAULTS: Partial<Record<Component, Record<string, string>>> = {
  'kube-apiserver': {
    'advertise-address': '<node address>',
    'allow-privileged': 'true',
    'authorization-mode': 'Node,RBAC',
    'client-ca-file': '/etc/kubernetes/pki/ca.crt',
    'enable-admission-plugins': 'NodeRestriction',
    'enable-bootstrap-token-auth': 'true',
    'etcd-cafile': '/etc/kubernetes/pki/etcd/ca.crt',
    'etcd-certfile': '/etc/kubernetes/pki/apiserver-etcd-client.crt',
    'etcd-keyfile': '/etc/kubernetes/pki/apiserver-etcd-client.key',
    'etcd-servers': 'https://127.0.0.1:2379',
    'kubelet-client-certificate': '/etc/kubernetes/pki/apiserver-kubelet-client.crt',
    'kubelet-client-key': '/etc/kubernetes/pki/apiserver-kubelet-client.key',
    'kubelet-preferred-address-types': 'InternalIP,ExternalIP,Hostname',
    'proxy-client-cert-file': '/etc/kubernetes/pki/front-proxy-client.crt',
    'proxy-client-key-file': '/etc/kubernetes/pki/front-proxy-client.key',
    'requestheader-allowed-names': 'front-proxy-client',
    'requestheader-client-ca-file': '/etc/kubernetes/pki/front-proxy-ca.crt',
    'secure-port': '6443',
    'service-account-issuer': 'https://kubernetes.default.svc.cluster.local',
    'service-account-key-file': '/etc/kubernetes/pki/sa.pub',
    'service-account-signing-key-file': '/etc/kubernetes/pki/sa.key',
    'service-cluster-ip-range': '10.96.0.0/12',
    'tls-cert-file': '/etc/kubernetes/pki/apiserver.crt',
    'tls-private-key-file': '/etc/kubernetes/pki/apiserver.key',
  },
  'kube-controller-manager': {
    'authentication-kubeconfig': '/etc/kubernetes/controller-manager.conf',
    'authorization-kubeconfig': '/etc/kubernetes/controller-manager.conf',
    'bind-address': '127.0.0.1',
    'client-ca-file': '/etc/kubernetes/pki/ca.crt',
    'cluster-signing-cert-file': '/etc/kubernetes/pki/ca.crt',
    'cluster-signing-key-file': '/etc/kubernetes/pki/ca.key',
    controllers: '*,bootstrapsigner,tokencleaner',
    kubeconfig: '/etc/kubernetes/controller-manager.conf',
    'leader-elect': 'true',
    'requestheader-client-ca-file': '/etc/kubernetes/pki/front-proxy-ca.crt',
    'root-ca-file': '/etc/kubernetes/pki/ca.crt',
    'service-account-private-key-file': '/etc/kubernetes/pki/sa.key',
    'use-service-account-credentials': 'true',
  },
  'kube-scheduler': {
    'authentication-kubeconfig': '/etc/kubernetes/scheduler.conf',
    'authorization-kubeconfig': '/etc/kubernetes/scheduler.conf',
    'bind-address': '127.0.0.1',
    kubeconfig: '/etc/kubernetes/scheduler.conf',
    'leader-elect': 'true',
  },
  etcd: {
    'advertise-client-urls': 'https://<node address>:2379',
    'cert-file': '/etc/kubernetes/pki/etcd/server.crt',
    'client-cert-auth': 'true',
    'data-dir': '/var/lib/etcd',
    'key-file': '/etc/kubernetes/pki/etcd/server.key',
    'listen-client-urls': 'https://127.0.0.1:2379',
    'peer-cert-file': '/etc/kubernetes/pki/etcd/peer.crt',
    'peer-client-cert-auth': 'true',
    'peer-key-file': '/etc/kubernetes/pki/etcd/peer.key',
    'peer-trusted-ca-file': '/etc/kubernetes/pki/etcd/ca.crt',
    'trusted-ca-file': '/etc/kubernetes/pki/etcd/ca.crt',
  },
};

/** extraArgs: a map (v1beta3) or a list of {name, value} (v1beta4). */
function extraArgs(v: unknown, file: string, where: string): [string, string][] {
  if (v === undefined || v === null) return [];
  if (Array.isArray(v)) {
    return v.map((e, i) => {
      if (typeof e?.name !== 'string') throw new UserError(`--kubeadm-config ${file}: ${where}[${i}] has no name`, 'bad-input');
      return [e.name, String(e.value ?? '')];
    });
  }
  if (typeof v === 'object') return Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, String(x)]);
  throw new UserError(`--kubeadm-config ${file}: ${where} must be a map or a list`, 'bad-input');
}

/** A kubeadm ClusterConfiguration (the file may hold other kubeadm documents too). */
export async function kubeadmSources(h: HostRoot, file: string): Promise<FlagSource[]> {
  const r = await h.read(file);
  if (!r.ok) throw new UserError(`--kubeadm-config: ${r.reason}`, 'bad-input');
  let docs: any[];
  try {
    docs = parseAllDocuments(r.value).map((d) => {
      if (d.errors.length) throw new Error(d.errors[0]!.message.split('\n')[0]);
      return d.toJS();
    });
  } catch (e) {
    throw new UserError(`--kubeadm-config ${file}: not valid YAML: ${(e as Error).message}`, 'bad-input');
  }
  const cc = docs.find((d) => d?.kind === 'ClusterConfiguration');
  if (!cc) throw new UserError(`--kubeadm-config ${file}: no ClusterConfiguration document (kinds: ${docs.map((d) => d?.kind ?? '?').join(', ') || 'none'})`, 'bad-input');
  if (!/^kubeadm\.k8s\.io\/v1beta[34]$/.test(String(cc.apiVersion))) throw new UserError(`--kubeadm-config ${file}: apiVersion ${cc.apiVersion} is not kubeadm.k8s.io/v1beta3 or v1beta4`, 'bad-input');
  const known = new Set(['apiVersion', 'kind', 'etcd', 'networking', 'kubernetesVersion', 'controlPlaneEndpoint', 'apiServer', 'controllerManager', 'scheduler', 'dns', 'proxy', 'certificatesDir', 'imageRepository', 'featureGates', 'clusterName', 'encryptionAlgorithm', 'certificateValidityPeriod', 'caCertificateValidityPeriod', 'timeouts', 'upgrade']);
  const unknownField = Object.keys(cc).find((k) => !known.has(k));
  if (unknownField) throw new UserError(`--kubeadm-config ${file}: unknown ClusterConfiguration field "${unknownField}"`, 'bad-input');
  const pki = typeof cc.certificatesDir === 'string' ? cc.certificatesDir : '/etc/kubernetes/pki';
  const out: FlagSource[] = [];
  const parts: [Component, unknown, string][] = [
    ['kube-apiserver', cc.apiServer?.extraArgs, 'apiServer.extraArgs'],
    ['kube-controller-manager', cc.controllerManager?.extraArgs, 'controllerManager.extraArgs'],
    ['kube-scheduler', cc.scheduler?.extraArgs, 'scheduler.extraArgs'],
  ];
  if (!cc.etcd?.external) parts.push(['etcd', cc.etcd?.local?.extraArgs, 'etcd.local.extraArgs']);
  for (const [component, args, where] of parts) {
    const flags = new Map<string, string[]>();
    const defaulted = new Set<string>();
    for (const [k, v] of Object.entries(KUBEADM_DEFAULTS[component] ?? {})) {
      flags.set(k, [v.replaceAll('/etc/kubernetes/pki', pki)]);
      defaulted.add(k);
    }
    if (component === 'etcd' && typeof cc.etcd?.local?.dataDir === 'string') flags.set('data-dir', [cc.etcd.local.dataDir]);
    for (const [k, v] of extraArgs(args, file, where)) {
      flags.set(k, [v]);
      defaulted.delete(k);
    }
    out.push({ component, kind: 'kubeadm', origin: `${file} (${where})`, file, flags, defaulted });
  }
  return out;
}
