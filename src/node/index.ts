/**
 * `node check` as a library: host facts, the container engine's configuration, the
 * control-plane / etcd / kubelet / kube-proxy settings (process list, static-pod manifests,
 * bare flag lists, kubeadm ClusterConfiguration) and the CIS file permissions, each as a
 * CheckResult. Everything is read under `root` (default `/`) so fixture trees work too.
 *
 * Check ids: `node.<area>.<name>` for host, engine, kubelet, kube-proxy and file checks;
 * `controlplane.<component>.<name>` for the API server, controller manager, scheduler and etcd.
 * CIS Benchmark numbers are data (CHECK_CIS here, and policies/frameworks/cis-kubernetes/).
 */
import type { CheckResult, CheckStatus } from '../findings/check-result.js';
import type { Finding } from '../findings/finding.js';
import { UserError } from '../util/errors.js';
import { readEngines, ENGINE_CHECKS } from './engine.js';
import { hostname, readHostFacts, type HostFacts } from './facts.js';
import { fileChecks, runFileCheck, type NodePaths } from './files.js';
import { COMPONENTS, flagFileSource, kubeadmSources, manifestSources, processSources, type Component, type FlagSource } from './flags.js';
import { HOST_CHECKS } from './host-checks.js';
import { HostRoot } from './host.js';
import { readKubeletConfig, readKubeProxyConfig } from './kubelet.js';
import { SETTING_CHECKS } from './controlplane.js';
import { makeResult, unknown, type CheckDef, type Outcome } from './result.js';
import { flagInstance, type Instance } from './settings.js';

export { HostRoot } from './host.js';
export type { HostFacts, Fact } from './facts.js';
export { COMPONENTS, type FlagSource, type Component } from './flags.js';
export { parseEncryptionConfig } from './encryption.js';
export { parseAuditPolicy, assessAuditPolicy } from './audit.js';

export type Area = 'host' | 'engine' | 'controlplane' | 'worker' | 'files';
export const AREAS: readonly Area[] = ['host', 'engine', 'controlplane', 'worker', 'files'];

export interface NodeCheckOptions {
  /** Root of the host's filesystem (default `/`). */
  root?: string;
  /** Static-pod manifest directory, a host path under root (default /etc/kubernetes/manifests). */
  manifestsDir?: string;
  /** Bare flag lists (`FILE` starting with the binary name, or `component=FILE`), host paths under root. */
  flagFiles?: string[];
  /** A kubeadm configuration holding a ClusterConfiguration, a host path under root. */
  kubeadmConfig?: string;
  /** Only these processes (default: every process in root/proc). `component` overrides detection. */
  processes?: { pid: number; component?: Component }[];
  /** Do not read the process list at all. */
  noProcesses?: boolean;
  /** Only these areas (default all). */
  areas?: readonly Area[];
  /** File locations that neither flags nor kubeadm tell (defaults: kubeadm's), host paths under root. */
  paths?: Partial<Pick<NodePaths, 'pki' | 'adminKubeconfigs' | 'kubeletServices'>>;
}

export interface NodeReport {
  host: string;
  root: string;
  facts?: HostFacts;
  results: CheckResult[];
  /** Where component settings were read from. */
  sources: { component: Component; kind: FlagSource['kind']; origin: string }[];
  notes: string[];
}

/** Every check id with its CIS Kubernetes v1.10 number, when it has one. */
export function checkCatalog(): { id: string; title: string; cis?: string; manual?: boolean }[] {
  return [
    ...HOST_CHECKS.map((c) => ({ id: c.id, title: c.title })),
    ...ENGINE_CHECKS.map((c) => ({ id: c.id, title: c.title })),
    ...SETTING_CHECKS.map((c) => ({ id: c.id, title: c.title, cis: c.cis, manual: c.manual })),
    ...fileChecks(defaultPaths()).map((c) => ({ id: c.id, title: c.title, cis: c.cis, manual: c.manual })),
  ];
}

function defaultPaths(): NodePaths {
  return {
    manifests: '/etc/kubernetes/manifests',
    pki: '/etc/kubernetes/pki',
    etcdDataDir: '/var/lib/etcd',
    schedulerKubeconfig: '/etc/kubernetes/scheduler.conf',
    controllerManagerKubeconfig: '/etc/kubernetes/controller-manager.conf',
    kubeletKubeconfig: '/etc/kubernetes/kubelet.conf',
    kubeletConfig: '/var/lib/kubelet/config.yaml',
    adminKubeconfigs: ['/etc/kubernetes/admin.conf', '/etc/kubernetes/super-admin.conf'],
    kubeletServices: ['/etc/systemd/system/kubelet.service.d/10-kubeadm.conf', '/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf', '/lib/systemd/system/kubelet.service', '/etc/systemd/system/kubelet.service'],
  };
}

const ORDER: CheckStatus[] = ['fail', 'unknown', 'manual', 'pass', 'not-applicable'];

/** One result from the outcomes of several sources: the worst status wins; evidence says which source said what. */
function combine(def: CheckDef, outcomes: { label: string; o: Outcome }[], host: string): CheckResult {
  const worst = outcomes.reduce((a, b) => (ORDER.indexOf(b.o.status) < ORDER.indexOf(a.o.status) ? b : a));
  const many = outcomes.length > 1;
  const pre = (label: string, s: string) => (many || label ? `${label ? `${label}: ` : ''}${s}` : s);
  const evidence = outcomes.flatMap(({ label, o }) => o.evidence.map((e) => pre(label, e)));
  const reasons = outcomes.filter((x) => x.o.status === worst.o.status && x.o.reason).map((x) => pre(x.label, x.o.reason!));
  const details = outcomes.filter((x) => x.o.status === 'fail').map((x) => pre(x.label, x.o.detail ?? x.o.evidence.join('; ')));
  return makeResult(def, { status: worst.o.status, evidence, reason: reasons.join('; ') || undefined, detail: details.join('; ') || undefined, file: worst.o.file }, host);
}

const label = (s: FlagSource) => `${s.component} ${s.kind === 'process' ? s.origin : `${s.kind} ${s.origin}`}`;

export async function checkNode(opts: NodeCheckOptions = {}): Promise<NodeReport> {
  const h = new HostRoot(opts.root ?? '/');
  if (!h.isLive) {
    const st = await h.stat('/');
    if (!st.ok || !st.value.isDirectory()) throw new UserError(`--root ${opts.root}: not a directory`, 'bad-input');
  }
  const areas = new Set(opts.areas ?? AREAS);
  const host = await hostname(h);
  const results: CheckResult[] = [];
  const notes: string[] = [];
  let facts: HostFacts | undefined;

  if (areas.has('host')) {
    facts = await readHostFacts(h);
    for (const c of HOST_CHECKS) results.push(makeResult(c, c.evaluate(facts), host));
  }

  if (areas.has('engine')) {
    const engines = await readEngines(h);
    for (const c of ENGINE_CHECKS) {
      if (engines.length === 0) results.push(makeResult(c, { status: 'not-applicable', evidence: [], reason: 'no container engine found (Docker or Podman configuration, daemon or socket; containerd or CRI-O daemon or socket)' }, host));
      else results.push(combine(c, engines.map((e) => ({ label: e.name, o: e.configProblems.length ? unknown(e.configProblems.join('; '), e.seen) : c.evaluate(e) })), host));
    }
  }

  // Component settings from every source.
  const sources: FlagSource[] = [];
  const explicit = !!(opts.flagFiles?.length || opts.kubeadmConfig);
  // Given flag lists or a kubeadm config are the subject: the process list only when pids are named.
  if (!opts.noProcesses && (!explicit || opts.processes)) {
    const p = await processSources(h, opts.processes);
    sources.push(...p.sources);
    notes.push(...p.notes);
  }
  const manifestsDir = opts.manifestsDir ?? '/etc/kubernetes/manifests';
  if (!explicit || opts.manifestsDir) {
    const m = await manifestSources(h, manifestsDir, !!opts.manifestsDir);
    sources.push(...m.sources);
    notes.push(...m.notes);
  }
  for (const f of opts.flagFiles ?? []) sources.push(await flagFileSource(h, f));
  if (opts.kubeadmConfig) sources.push(...(await kubeadmSources(h, opts.kubeadmConfig)));

  const instances = new Map<Component, Instance[]>(COMPONENTS.map((c) => [c, []]));
  for (const s of sources) {
    let inst: Instance;
    const configFile = s.component === 'kubelet' || s.component === 'kube-proxy' ? s.flags.get('config')?.at(-1) : undefined;
    const configDir = s.component === 'kubelet' ? s.flags.get('config-dir')?.at(-1) : undefined;
    if (configFile || configDir) {
      const cfg = s.component === 'kubelet' ? await readKubeletConfig(h, configFile, configDir) : await readKubeProxyConfig(h, configFile!);
      if ('reason' in cfg) {
        inst = flagInstance(h, s, undefined, instances);
        inst.problems.push(cfg.reason);
      } else inst = flagInstance(h, s, cfg, instances);
    } else inst = flagInstance(h, s, undefined, instances);
    instances.get(s.component)!.push(inst);
  }

  const wantControl = areas.has('controlplane');
  const wantWorker = areas.has('worker');
  for (const c of SETTING_CHECKS) {
    const worker = c.component === 'kubelet' || c.component === 'kube-proxy';
    if (worker ? !wantWorker : !wantControl) continue;
    const def: CheckDef = { ...c, references: c.cis ? [`CIS Kubernetes Benchmark v1.10 ${c.cis}`] : [] };
    const insts = instances.get(c.component)!;
    if (insts.length === 0) {
      results.push(makeResult(def, unknown(`no ${c.component} found: no running process, static-pod manifest${explicit ? ' given' : ` in ${manifestsDir}`}, flag list or kubeadm configuration`), host));
      continue;
    }
    const outcomes = [];
    for (const i of insts) {
      let o: Outcome;
      if (i.problems.length) o = unknown(i.problems.join('; '));
      else {
        try {
          o = await c.evaluate(i);
        } catch (e) {
          o = unknown(`could not evaluate: ${(e as Error).message}`);
        }
      }
      if (o.status === 'fail' && !o.file && i.source.file) o = { ...o, file: i.source.file };
      outcomes.push({ label: label(i.source), o });
    }
    results.push(combine(def, outcomes, host));
  }

  if (areas.has('files')) {
    const first = (c: Component, flag: string) => instances.get(c)!.map((i) => i.get(flag).value).find((v) => v !== undefined && !v.startsWith('('));
    const p = defaultPaths();
    const kubeadmPki = sources.find((s) => s.kind === 'kubeadm')?.flags.get('client-ca-file')?.[0];
    const paths: NodePaths = {
      manifests: manifestsDir.replace(/\/$/, ''),
      pki: opts.paths?.pki ?? (kubeadmPki ? kubeadmPki.replace(/\/ca\.crt$/, '') : p.pki),
      etcdDataDir: first('etcd', 'data-dir') ?? p.etcdDataDir,
      schedulerKubeconfig: first('kube-scheduler', 'kubeconfig') ?? p.schedulerKubeconfig,
      controllerManagerKubeconfig: first('kube-controller-manager', 'kubeconfig') ?? p.controllerManagerKubeconfig,
      kubeletKubeconfig: first('kubelet', 'kubeconfig') ?? p.kubeletKubeconfig,
      kubeletConfig: first('kubelet', 'config') ?? p.kubeletConfig,
      kubeletClientCA: first('kubelet', 'client-ca-file'),
      proxyKubeconfig: first('kube-proxy', 'kubeconfig'),
      adminKubeconfigs: opts.paths?.adminKubeconfigs ?? p.adminKubeconfigs,
      kubeletServices: opts.paths?.kubeletServices ?? p.kubeletServices,
    };
    for (const c of fileChecks(paths)) {
      const def: CheckDef = { ...c, references: [`CIS Kubernetes Benchmark v1.10 ${c.cis}`] };
      results.push(makeResult(def, await runFileCheck(h, c), host));
    }
  }

  return { host, root: h.root, facts, results, sources: sources.map((s) => ({ component: s.component, kind: s.kind, origin: s.origin })), notes };
}

/** The findings of the failed checks. */
export function findingsOf(results: readonly CheckResult[]): Finding[] {
  return results.flatMap((r) => (r.finding ? [r.finding] : []));
}
