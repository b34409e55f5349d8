/**
 * Control-plane and worker checks over component settings (CIS Kubernetes Benchmark v1.10,
 * sections 1.2–1.4 API server / controller manager / scheduler, 2 etcd, 3.2 audit policy,
 * 4.2 kubelet, 4.3 kube-proxy). Each check reads an Instance (one source of one component's
 * settings) and says pass / fail / unknown / manual with the evidence it read.
 */
import type { Severity } from '../findings/finding.js';
import type { Component } from './flags.js';
import { assessAuditPolicy, parseAuditPolicy } from './audit.js';
import { parseEncryptionConfig, STRONG_PROVIDERS } from './encryption.js';
import { fail, pass, unknown, type Outcome } from './result.js';
import { featureGate, listOf, type Instance } from './settings.js';

export interface SettingCheck {
  id: string;
  cis?: string;
  title: string;
  severity: Severity;
  component: Component;
  remediation: string;
  /** CIS marks it Manual: still evaluated where a rule can decide, reported as CIS says. */
  manual?: boolean;
  evaluate(i: Instance): Outcome | Promise<Outcome>;
}

const STRONG_CIPHERS = new Set('TLS_AES_128_GCM_SHA256,TLS_AES_256_GCM_SHA384,TLS_CHACHA20_POLY1305_SHA256,TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA,TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305,TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305,TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256'.split(','));

/** Admission plugins on by default (kube-apiserver v1.34), so "set" means "not disabled". */
const DEFAULT_ADMISSION = new Set(['CertificateApproval', 'CertificateSigning', 'CertificateSubjectRestriction', 'ClusterTrustBundleAttest', 'DefaultIngressClass', 'DefaultStorageClass', 'DefaultTolerationSeconds', 'LimitRanger', 'MutatingAdmissionPolicy', 'MutatingAdmissionWebhook', 'NamespaceLifecycle', 'PersistentVolumeClaimResize', 'PodSecurity', 'Priority', 'ResourceQuota', 'RuntimeClass', 'ServiceAccount', 'StorageObjectInUseProtection', 'TaintNodesByCondition', 'ValidatingAdmissionPolicy', 'ValidatingAdmissionWebhook']);

function admission(i: Instance, plugin: string): { on: boolean; evidence: string[] } {
  const en = i.get('enable-admission-plugins');
  const legacy = i.get('admission-control');
  const dis = i.get('disable-admission-plugins');
  const enabled = [...listOf(en.value), ...listOf(legacy.value)];
  const disabled = listOf(dis.value);
  const evidence = [en.evidence, ...(legacy.value ? [legacy.evidence] : []), dis.evidence];
  const on = enabled.includes(plugin) || (DEFAULT_ADMISSION.has(plugin) && !disabled.includes(plugin));
  return { on: on && !disabled.includes(plugin), evidence };
}

const boolEq = (flag: string, want: boolean, dflt: boolean) => (i: Instance) => {
  const s = i.get(flag, String(dflt));
  const v = s.value?.toLowerCase();
  if (v !== 'true' && v !== 'false') return unknown(`--${flag}=${s.value}: not a boolean`, [s.evidence]);
  return (v === 'true') === want ? pass([s.evidence]) : fail([s.evidence], `${s.evidence}; CIS wants ${want}`);
};
const isSet = (...flags: string[]) => (i: Instance) => {
  const ss = flags.map((f) => i.get(f));
  const missing = flags.filter((_, k) => !ss[k]!.value);
  return missing.length ? fail(ss.map((s) => s.evidence), `${missing.map((m) => `--${m}`).join(' and ')} not set`) : pass(ss.map((s) => s.evidence));
};
const notSet = (flag: string) => (i: Instance) => {
  const s = i.get(flag);
  return s.value ? fail([s.evidence], `${s.evidence}; CIS wants it unset`) : pass([s.evidence]);
};
const notFalse = (flag: string, dflt: string) => (i: Instance) => {
  const s = i.get(flag, dflt);
  return s.value === 'false' ? fail([s.evidence]) : pass([s.evidence]);
};
const minInt = (flag: string, min: number) => (i: Instance) => {
  const s = i.get(flag);
  if (!s.value) return fail([s.evidence], `--${flag} not set`);
  const n = Number(s.value);
  if (!Number.isFinite(n)) return unknown(`--${flag}=${s.value}: not a number`, [s.evidence]);
  return n >= min ? pass([s.evidence]) : fail([s.evidence], `${s.evidence}; CIS wants at least ${min}`);
};
const equals = (flag: string, want: string, dflt?: string) => (i: Instance) => {
  const s = i.get(flag, dflt);
  return s.value === want ? pass([s.evidence]) : fail([s.evidence], `${s.evidence}; CIS wants ${want}`);
};
const admissionOn = (plugin: string, want: boolean) => (i: Instance) => {
  const a = admission(i, plugin);
  return a.on === want ? pass([...a.evidence, `${plugin}: ${a.on ? 'enabled' : 'not enabled'}`]) : fail(a.evidence, `admission plugin ${plugin} is ${a.on ? 'enabled' : 'not enabled'}`);
};

async function authzModes(i: Instance): Promise<{ modes: string[]; evidence: string[] } | { reason: string; evidence: string[] }> {
  const cfg = i.get('authorization-config');
  if (cfg.value) {
    const r = await i.h.read(cfg.value);
    if (!r.ok) return { reason: `authorization config not readable: ${r.reason}`, evidence: [cfg.evidence] };
    const types = [...r.value.matchAll(/^\s*-?\s*type:\s*["']?([A-Za-z]+)/gm)].map((m) => m[1]!);
    return { modes: types, evidence: [cfg.evidence, `${cfg.value}: authorizers ${types.join(',')}`] };
  }
  const s = i.get('authorization-mode', 'AlwaysAllow');
  return { modes: listOf(s.value), evidence: [s.evidence] };
}
const authz = (test: (modes: string[]) => boolean, what: string) => async (i: Instance) => {
  const m = await authzModes(i);
  if ('reason' in m) return unknown(m.reason, m.evidence);
  return test(m.modes) ? pass(m.evidence) : fail(m.evidence, `authorization modes ${m.modes.join(',') || 'none'}: ${what}`);
};

async function encryptionProviders(i: Instance): Promise<Outcome> {
  const s = i.get('encryption-provider-config');
  if (!s.value) return fail([s.evidence], 'no --encryption-provider-config: Secrets are stored in plaintext in etcd');
  const r = await i.h.read(s.value);
  if (!r.ok) return unknown(`encryption configuration not readable: ${r.reason}`, [s.evidence]);
  let a;
  try {
    a = parseEncryptionConfig(r.value);
  } catch (e) {
    return fail([s.evidence, `${s.value}: ${(e as Error).message}`], `${s.value}: ${(e as Error).message}`, s.value);
  }
  const evidence = [s.evidence, ...a.entries.map((e) => `${s.value}: ${e.resources.join(',')}: ${e.providers.join(' → ')}${e.writer === 'identity' ? ' (identity first: not encrypted)' : ''}`)];
  const problems = [...a.problems];
  if (!a.secrets) problems.push('secrets are not listed: they are stored in plaintext');
  for (const e of a.entries) {
    if (e.writer === 'identity') problems.push(`${e.resources.join(',')}: identity is the first provider, so new writes are not encrypted`);
    else if (!(STRONG_PROVIDERS as readonly string[]).includes(e.writer)) problems.push(`${e.resources.join(',')}: first provider ${e.writer} is not one CIS recommends (${STRONG_PROVIDERS.join(', ')})`);
  }
  return problems.length ? fail(evidence, problems.join('; '), s.value) : pass(evidence, s.value);
}

async function auditPolicy(i: Instance, full: boolean): Promise<Outcome> {
  const s = i.get('audit-policy-file');
  const sink = [i.get('audit-log-path'), i.get('audit-webhook-config-file')];
  if (!s.value) return fail([s.evidence, ...sink.map((x) => x.evidence)], 'no --audit-policy-file: the API server records no audit events');
  const r = await i.h.read(s.value);
  if (!r.ok) return unknown(`audit policy not readable: ${r.reason}`, [s.evidence]);
  let rules;
  try {
    rules = parseAuditPolicy(r.value);
  } catch (e) {
    return fail([s.evidence, `${s.value}: ${(e as Error).message}`], `${s.value}: ${(e as Error).message}`, s.value);
  }
  const evidence = [s.evidence, ...sink.map((x) => x.evidence), `${s.value}: ${rules.length} rule(s)`];
  if (!sink.some((x) => x.value)) return fail(evidence, 'an audit policy but neither --audit-log-path nor --audit-webhook-config-file: events go nowhere', s.value);
  if (!full) return pass(evidence, s.value);
  const assessed = assessAuditPolicy(rules);
  const lines = assessed.map((a) => `${a.request}: ${a.level}${a.rule !== undefined ? ` (rule ${a.rule})` : ' (no rule matches)'}${a.ok ? '' : `, CIS wants ${a.want}`}`);
  const bad = assessed.filter((a) => !a.ok);
  return bad.length ? fail([...evidence, ...lines], bad.map((b) => `${b.request} logged at ${b.level} (CIS wants ${b.want})`).join('; '), s.value) : pass([...evidence, ...lines], s.value);
}

const ciphers = (i: Instance) => {
  const s = i.get('tls-cipher-suites');
  if (!s.value) return fail([s.evidence], '--tls-cipher-suites not set: Go defaults include ciphers CIS does not list');
  const weak = listOf(s.value).filter((c) => !STRONG_CIPHERS.has(c));
  return weak.length ? fail([s.evidence], `weak cipher suites: ${weak.join(', ')}`) : pass([s.evidence]);
};

const A = 'kube-apiserver' as const;
const CM = 'kube-controller-manager' as const;
const S = 'kube-scheduler' as const;
const E = 'etcd' as const;
const K = 'kubelet' as const;
const edit = (c: string, what: string) => `Edit the ${c} configuration (static-pod manifest, unit file or kubeadm ClusterConfiguration extraArgs) and set ${what}.`;

export const SETTING_CHECKS: SettingCheck[] = [
  // 1.2 API server
  { id: 'controlplane.apiserver.anonymous-auth', cis: '1.2.1', component: A, severity: 'HIGH', manual: true, title: 'Ensure that the --anonymous-auth argument is set to false', remediation: edit(A, '--anonymous-auth=false'), evaluate: boolEq('anonymous-auth', false, true) },
  { id: 'controlplane.apiserver.token-auth-file', cis: '1.2.2', component: A, severity: 'HIGH', title: 'Ensure that the --token-auth-file parameter is not set', remediation: 'Use certificates, OIDC or webhook authentication and remove --token-auth-file.', evaluate: notSet('token-auth-file') },
  { id: 'controlplane.apiserver.deny-service-external-ips', cis: '1.2.3', component: A, severity: 'MEDIUM', manual: true, title: 'Ensure that the DenyServiceExternalIPs admission plugin is set', remediation: edit(A, '--enable-admission-plugins=…,DenyServiceExternalIPs'), evaluate: admissionOn('DenyServiceExternalIPs', true) },
  { id: 'controlplane.apiserver.kubelet-client-certificate', cis: '1.2.4', component: A, severity: 'HIGH', title: 'Ensure that the --kubelet-client-certificate and --kubelet-client-key arguments are set as appropriate', remediation: edit(A, '--kubelet-client-certificate and --kubelet-client-key'), evaluate: isSet('kubelet-client-certificate', 'kubelet-client-key') },
  { id: 'controlplane.apiserver.kubelet-certificate-authority', cis: '1.2.5', component: A, severity: 'HIGH', title: 'Ensure that the --kubelet-certificate-authority argument is set as appropriate', remediation: edit(A, '--kubelet-certificate-authority'), evaluate: isSet('kubelet-certificate-authority') },
  { id: 'controlplane.apiserver.authorization-not-always-allow', cis: '1.2.6', component: A, severity: 'CRITICAL', title: 'Ensure that the --authorization-mode argument is not set to AlwaysAllow', remediation: edit(A, '--authorization-mode=Node,RBAC'), evaluate: authz((m) => m.length > 0 && !m.includes('AlwaysAllow'), 'AlwaysAllow authorizes every request') },
  { id: 'controlplane.apiserver.authorization-node', cis: '1.2.7', component: A, severity: 'MEDIUM', title: 'Ensure that the --authorization-mode argument includes Node', remediation: edit(A, '--authorization-mode=Node,RBAC'), evaluate: authz((m) => m.includes('Node'), 'Node is missing') },
  { id: 'controlplane.apiserver.authorization-rbac', cis: '1.2.8', component: A, severity: 'HIGH', title: 'Ensure that the --authorization-mode argument includes RBAC', remediation: edit(A, '--authorization-mode=Node,RBAC'), evaluate: authz((m) => m.includes('RBAC'), 'RBAC is missing') },
  { id: 'controlplane.apiserver.event-rate-limit', cis: '1.2.9', component: A, severity: 'LOW', manual: true, title: 'Ensure that the admission control plugin EventRateLimit is set', remediation: edit(A, '--enable-admission-plugins=…,EventRateLimit and --admission-control-config-file'), evaluate: admissionOn('EventRateLimit', true) },
  { id: 'controlplane.apiserver.always-admit', cis: '1.2.10', component: A, severity: 'HIGH', title: 'Ensure that the admission control plugin AlwaysAdmit is not set', remediation: 'Remove AlwaysAdmit from --enable-admission-plugins.', evaluate: admissionOn('AlwaysAdmit', false) },
  { id: 'controlplane.apiserver.always-pull-images', cis: '1.2.11', component: A, severity: 'LOW', manual: true, title: 'Ensure that the admission control plugin AlwaysPullImages is set', remediation: edit(A, '--enable-admission-plugins=…,AlwaysPullImages'), evaluate: admissionOn('AlwaysPullImages', true) },
  { id: 'controlplane.apiserver.service-account-plugin', cis: '1.2.12', component: A, severity: 'MEDIUM', title: 'Ensure that the admission control plugin ServiceAccount is set', remediation: 'Remove ServiceAccount from --disable-admission-plugins.', evaluate: admissionOn('ServiceAccount', true) },
  { id: 'controlplane.apiserver.namespace-lifecycle', cis: '1.2.13', component: A, severity: 'MEDIUM', title: 'Ensure that the admission control plugin NamespaceLifecycle is set', remediation: 'Remove NamespaceLifecycle from --disable-admission-plugins.', evaluate: admissionOn('NamespaceLifecycle', true) },
  { id: 'controlplane.apiserver.node-restriction', cis: '1.2.14', component: A, severity: 'MEDIUM', title: 'Ensure that the admission control plugin NodeRestriction is set', remediation: edit(A, '--enable-admission-plugins=…,NodeRestriction'), evaluate: admissionOn('NodeRestriction', true) },
  { id: 'controlplane.apiserver.profiling', cis: '1.2.15', component: A, severity: 'LOW', title: 'Ensure that the --profiling argument is set to false', remediation: edit(A, '--profiling=false'), evaluate: boolEq('profiling', false, true) },
  { id: 'controlplane.apiserver.audit-log-path', cis: '1.2.16', component: A, severity: 'MEDIUM', title: 'Ensure that the --audit-log-path argument is set', remediation: edit(A, '--audit-log-path=/var/log/kubernetes/audit.log and --audit-policy-file'), evaluate: isSet('audit-log-path') },
  { id: 'controlplane.apiserver.audit-log-maxage', cis: '1.2.17', component: A, severity: 'LOW', title: 'Ensure that the --audit-log-maxage argument is set to 30 or as appropriate', remediation: edit(A, '--audit-log-maxage=30'), evaluate: minInt('audit-log-maxage', 30) },
  { id: 'controlplane.apiserver.audit-log-maxbackup', cis: '1.2.18', component: A, severity: 'LOW', title: 'Ensure that the --audit-log-maxbackup argument is set to 10 or as appropriate', remediation: edit(A, '--audit-log-maxbackup=10'), evaluate: minInt('audit-log-maxbackup', 10) },
  { id: 'controlplane.apiserver.audit-log-maxsize', cis: '1.2.19', component: A, severity: 'LOW', title: 'Ensure that the --audit-log-maxsize argument is set to 100 or as appropriate', remediation: edit(A, '--audit-log-maxsize=100'), evaluate: minInt('audit-log-maxsize', 100) },
  { id: 'controlplane.apiserver.service-account-lookup', cis: '1.2.21', component: A, severity: 'MEDIUM', title: 'Ensure that the --service-account-lookup argument is set to true', remediation: edit(A, '--service-account-lookup=true'), evaluate: notFalse('service-account-lookup', 'true') },
  { id: 'controlplane.apiserver.service-account-key-file', cis: '1.2.22', component: A, severity: 'MEDIUM', title: 'Ensure that the --service-account-key-file argument is set as appropriate', remediation: edit(A, '--service-account-key-file'), evaluate: isSet('service-account-key-file') },
  { id: 'controlplane.apiserver.etcd-client-certificate', cis: '1.2.23', component: A, severity: 'HIGH', title: 'Ensure that the --etcd-certfile and --etcd-keyfile arguments are set as appropriate', remediation: edit(A, '--etcd-certfile and --etcd-keyfile'), evaluate: isSet('etcd-certfile', 'etcd-keyfile') },
  { id: 'controlplane.apiserver.tls-cert-file', cis: '1.2.24', component: A, severity: 'HIGH', title: 'Ensure that the --tls-cert-file and --tls-private-key-file arguments are set as appropriate', remediation: edit(A, '--tls-cert-file and --tls-private-key-file'), evaluate: isSet('tls-cert-file', 'tls-private-key-file') },
  { id: 'controlplane.apiserver.client-ca-file', cis: '1.2.25', component: A, severity: 'HIGH', title: 'Ensure that the --client-ca-file argument is set as appropriate', remediation: edit(A, '--client-ca-file'), evaluate: isSet('client-ca-file') },
  { id: 'controlplane.apiserver.etcd-cafile', cis: '1.2.26', component: A, severity: 'HIGH', title: 'Ensure that the --etcd-cafile argument is set as appropriate', remediation: edit(A, '--etcd-cafile'), evaluate: isSet('etcd-cafile') },
  { id: 'controlplane.apiserver.encryption-provider-config', cis: '1.2.27', component: A, severity: 'HIGH', manual: true, title: 'Ensure that the --encryption-provider-config argument is set as appropriate', remediation: 'Write an EncryptionConfiguration (aescbc, kms or secretbox first for secrets) and set --encryption-provider-config.', evaluate: isSet('encryption-provider-config') },
  { id: 'controlplane.apiserver.encryption-providers', cis: '1.2.28', component: A, severity: 'HIGH', manual: true, title: 'Ensure that encryption providers are appropriately configured (every resource, a strong provider first)', remediation: 'In the EncryptionConfiguration, list secrets and put aescbc, kms or secretbox before identity for every resource.', evaluate: encryptionProviders },
  { id: 'controlplane.apiserver.tls-cipher-suites', cis: '1.2.29', component: A, severity: 'MEDIUM', manual: true, title: 'Ensure that the API Server only makes use of Strong Cryptographic Ciphers', remediation: edit(A, '--tls-cipher-suites to the strong suites CIS lists'), evaluate: ciphers },
  // 3.2 Logging
  { id: 'controlplane.apiserver.audit-policy', cis: '3.2.1', component: A, severity: 'MEDIUM', manual: true, title: 'Ensure that a minimal audit policy is created', remediation: 'Write an audit Policy, set --audit-policy-file and --audit-log-path (or --audit-webhook-config-file).', evaluate: (i) => auditPolicy(i, false) },
  { id: 'controlplane.apiserver.audit-policy-coverage', cis: '3.2.2', component: A, severity: 'MEDIUM', manual: true, title: 'Ensure that the audit policy covers key security concerns', remediation: 'Log Secrets, ConfigMaps and TokenReviews at Metadata only; Pod and Deployment changes and pods/exec, pods/portforward, pods/proxy, services/proxy at Metadata or above; everything else at Metadata at least.', evaluate: (i) => auditPolicy(i, true) },
  // 1.3 Controller manager
  { id: 'controlplane.controller-manager.terminated-pod-gc-threshold', cis: '1.3.1', component: CM, severity: 'LOW', manual: true, title: 'Ensure that the --terminated-pod-gc-threshold argument is set as appropriate', remediation: edit(CM, '--terminated-pod-gc-threshold=10'), evaluate: isSet('terminated-pod-gc-threshold') },
  { id: 'controlplane.controller-manager.profiling', cis: '1.3.2', component: CM, severity: 'LOW', title: 'Ensure that the --profiling argument is set to false', remediation: edit(CM, '--profiling=false'), evaluate: boolEq('profiling', false, true) },
  { id: 'controlplane.controller-manager.use-service-account-credentials', cis: '1.3.3', component: CM, severity: 'MEDIUM', title: 'Ensure that the --use-service-account-credentials argument is set to true', remediation: edit(CM, '--use-service-account-credentials=true'), evaluate: boolEq('use-service-account-credentials', true, false) },
  { id: 'controlplane.controller-manager.service-account-private-key-file', cis: '1.3.4', component: CM, severity: 'MEDIUM', title: 'Ensure that the --service-account-private-key-file argument is set as appropriate', remediation: edit(CM, '--service-account-private-key-file'), evaluate: isSet('service-account-private-key-file') },
  { id: 'controlplane.controller-manager.root-ca-file', cis: '1.3.5', component: CM, severity: 'MEDIUM', title: 'Ensure that the --root-ca-file argument is set as appropriate', remediation: edit(CM, '--root-ca-file'), evaluate: isSet('root-ca-file') },
  {
    id: 'controlplane.controller-manager.rotate-kubelet-server-certificate', cis: '1.3.6', component: CM, severity: 'MEDIUM', title: 'Ensure that the RotateKubeletServerCertificate argument is set to true', remediation: 'Remove RotateKubeletServerCertificate=false from --feature-gates.',
    evaluate: (i) => {
      const s = i.get('feature-gates');
      const g = featureGate(s.value, 'RotateKubeletServerCertificate');
      return g === 'false' ? fail([s.evidence]) : pass([s.evidence, `RotateKubeletServerCertificate: ${g ?? 'true (default)'}`]);
    },
  },
  { id: 'controlplane.controller-manager.bind-address', cis: '1.3.7', component: CM, severity: 'MEDIUM', title: 'Ensure that the --bind-address argument is set to 127.0.0.1', remediation: edit(CM, '--bind-address=127.0.0.1'), evaluate: equals('bind-address', '127.0.0.1', '0.0.0.0') },
  // 1.4 Scheduler
  { id: 'controlplane.scheduler.profiling', cis: '1.4.1', component: S, severity: 'LOW', title: 'Ensure that the --profiling argument is set to false', remediation: edit(S, '--profiling=false'), evaluate: boolEq('profiling', false, true) },
  { id: 'controlplane.scheduler.bind-address', cis: '1.4.2', component: S, severity: 'MEDIUM', title: 'Ensure that the --bind-address argument is set to 127.0.0.1', remediation: edit(S, '--bind-address=127.0.0.1'), evaluate: equals('bind-address', '127.0.0.1', '0.0.0.0') },
  // 2 etcd
  { id: 'controlplane.etcd.cert-file', cis: '2.1', component: E, severity: 'HIGH', title: 'Ensure that the --cert-file and --key-file arguments are set as appropriate', remediation: edit(E, '--cert-file and --key-file'), evaluate: isSet('cert-file', 'key-file') },
  { id: 'controlplane.etcd.client-cert-auth', cis: '2.2', component: E, severity: 'HIGH', title: 'Ensure that the --client-cert-auth argument is set to true', remediation: edit(E, '--client-cert-auth=true'), evaluate: boolEq('client-cert-auth', true, false) },
  { id: 'controlplane.etcd.auto-tls', cis: '2.3', component: E, severity: 'MEDIUM', title: 'Ensure that the --auto-tls argument is not set to true', remediation: 'Remove --auto-tls or set it to false.', evaluate: boolEq('auto-tls', false, false) },
  { id: 'controlplane.etcd.peer-cert-file', cis: '2.4', component: E, severity: 'HIGH', title: 'Ensure that the --peer-cert-file and --peer-key-file arguments are set as appropriate', remediation: edit(E, '--peer-cert-file and --peer-key-file'), evaluate: isSet('peer-cert-file', 'peer-key-file') },
  { id: 'controlplane.etcd.peer-client-cert-auth', cis: '2.5', component: E, severity: 'HIGH', title: 'Ensure that the --peer-client-cert-auth argument is set to true', remediation: edit(E, '--peer-client-cert-auth=true'), evaluate: boolEq('peer-client-cert-auth', true, false) },
  { id: 'controlplane.etcd.peer-auto-tls', cis: '2.6', component: E, severity: 'MEDIUM', title: 'Ensure that the --peer-auto-tls argument is not set to true', remediation: 'Remove --peer-auto-tls or set it to false.', evaluate: boolEq('peer-auto-tls', false, false) },
  {
    id: 'controlplane.etcd.unique-ca', cis: '2.7', component: E, severity: 'MEDIUM', manual: true, title: 'Ensure that a unique Certificate Authority is used for etcd', remediation: 'Give etcd its own CA (kubeadm: /etc/kubernetes/pki/etcd/ca.crt) and set --trusted-ca-file to it; the API server keeps the cluster CA in --client-ca-file.',
    evaluate: async (i) => {
      const etcdCA = i.get('trusted-ca-file');
      if (!etcdCA.value) return fail([etcdCA.evidence], 'etcd has no --trusted-ca-file: it trusts no client CA of its own');
      const apis = i.peers('kube-apiserver');
      if (apis.length === 0) return unknown('no kube-apiserver found on this node to compare its --client-ca-file with', [etcdCA.evidence]);
      const ev = [etcdCA.evidence];
      const same: string[] = [];
      for (const a of apis) {
        const cluster = a.get('client-ca-file');
        ev.push(`kube-apiserver ${a.source.origin}: ${cluster.evidence}`);
        if (!cluster.value) continue;
        if (cluster.value === etcdCA.value) {
          same.push(`the same file ${cluster.value}`);
          continue;
        }
        const [x, y] = [await i.h.read(etcdCA.value), await i.h.read(cluster.value)];
        if (!x.ok || !y.ok) return unknown(`cannot compare the CA files: ${!x.ok ? x.reason : ''}${!x.ok && !y.ok ? '; ' : ''}${!y.ok ? y.reason : ''}`, ev);
        if (x.value.trim() === y.value.trim()) same.push(`${etcdCA.value} and ${cluster.value} hold the same certificate`);
      }
      return same.length ? fail(ev, `etcd trusts the cluster CA: ${same.join('; ')} (any client certificate of the cluster can reach etcd)`) : pass(ev);
    },
  },
  // 4.2 Kubelet (flags, else its --config file, else defaults)
  { id: 'node.kubelet.anonymous-auth', cis: '4.2.1', component: K, severity: 'HIGH', title: 'Ensure that the --anonymous-auth argument is set to false', remediation: 'Set authentication.anonymous.enabled: false in the kubelet config (or --anonymous-auth=false).', evaluate: boolEq('anonymous-auth', false, true) },
  {
    id: 'node.kubelet.authorization-mode', cis: '4.2.2', component: K, severity: 'CRITICAL', title: 'Ensure that the --authorization-mode argument is not set to AlwaysAllow', remediation: 'Set authorization.mode: Webhook in the kubelet config (or --authorization-mode=Webhook).',
    evaluate: (i) => {
      const s = i.get('authorization-mode', 'AlwaysAllow');
      return s.value === 'AlwaysAllow' ? fail([s.evidence], 'the kubelet authorizes every request') : pass([s.evidence]);
    },
  },
  { id: 'node.kubelet.client-ca-file', cis: '4.2.3', component: K, severity: 'HIGH', title: 'Ensure that the --client-ca-file argument is set as appropriate', remediation: 'Set authentication.x509.clientCAFile in the kubelet config.', evaluate: isSet('client-ca-file') },
  { id: 'node.kubelet.read-only-port', cis: '4.2.4', component: K, severity: 'MEDIUM', manual: true, title: 'Verify that the --read-only-port argument is set to 0', remediation: 'Set readOnlyPort: 0 in the kubelet config.', evaluate: equals('read-only-port', '0', '10255') },
  {
    id: 'node.kubelet.streaming-connection-idle-timeout', cis: '4.2.5', component: K, severity: 'LOW', manual: true, title: 'Ensure that the --streaming-connection-idle-timeout argument is not set to 0', remediation: 'Set streamingConnectionIdleTimeout to 5m in the kubelet config.',
    evaluate: (i) => {
      const s = i.get('streaming-connection-idle-timeout', '4h0m0s');
      return /^0+(s|m|h)?$/.test(s.value ?? '') ? fail([s.evidence]) : pass([s.evidence]);
    },
  },
  { id: 'node.kubelet.make-iptables-util-chains', cis: '4.2.6', component: K, severity: 'LOW', title: 'Ensure that the --make-iptables-util-chains argument is set to true', remediation: 'Set makeIPTablesUtilChains: true in the kubelet config.', evaluate: boolEq('make-iptables-util-chains', true, true) },
  { id: 'node.kubelet.hostname-override', cis: '4.2.7', component: K, severity: 'LOW', manual: true, title: 'Ensure that the --hostname-override argument is not set', remediation: 'Remove --hostname-override from the kubelet unit.', evaluate: notSet('hostname-override') },
  { id: 'node.kubelet.tls-cert-file', cis: '4.2.9', component: K, severity: 'MEDIUM', manual: true, title: 'Ensure that the --tls-cert-file and --tls-private-key-file arguments are set as appropriate', remediation: 'Set tlsCertFile and tlsPrivateKeyFile (or serverTLSBootstrap: true) in the kubelet config.', evaluate: isSet('tls-cert-file', 'tls-private-key-file') },
  { id: 'node.kubelet.rotate-certificates', cis: '4.2.10', component: K, severity: 'MEDIUM', title: 'Ensure that the --rotate-certificates argument is not set to false', remediation: 'Set rotateCertificates: true in the kubelet config.', evaluate: notFalse('rotate-certificates', 'true') },
  {
    id: 'node.kubelet.rotate-server-certificates', cis: '4.2.11', component: K, severity: 'MEDIUM', manual: true, title: 'Verify that the RotateKubeletServerCertificate argument is set to true', remediation: 'Set serverTLSBootstrap: true in the kubelet config and keep the RotateKubeletServerCertificate gate on.',
    evaluate: (i) => {
      const s = i.get('feature-gates');
      const g = featureGate(s.value, 'RotateKubeletServerCertificate');
      return g === 'false' ? fail([s.evidence]) : pass([s.evidence, `RotateKubeletServerCertificate: ${g ?? 'true (default)'}`]);
    },
  },
  { id: 'node.kubelet.tls-cipher-suites', cis: '4.2.12', component: K, severity: 'MEDIUM', manual: true, title: 'Ensure that the Kubelet only makes use of Strong Cryptographic Ciphers', remediation: 'Set tlsCipherSuites to the strong suites CIS lists in the kubelet config.', evaluate: ciphers },
  {
    id: 'node.kubelet.pod-pids-limit', cis: '4.2.13', component: K, severity: 'LOW', manual: true, title: 'Ensure that a limit is set on pod PIDs', remediation: 'Set podPidsLimit in the kubelet config.',
    evaluate: (i) => {
      const s = i.get('pod-max-pids', '-1');
      return Number(s.value) > 0 ? pass([s.evidence]) : fail([s.evidence], 'no pod PID limit');
    },
  },
  { id: 'node.kubelet.protect-kernel-defaults', component: K, severity: 'LOW', title: 'Ensure that the --protect-kernel-defaults argument is set to true', remediation: 'Set protectKernelDefaults: true in the kubelet config.', evaluate: boolEq('protect-kernel-defaults', true, false) },
  // 4.3 kube-proxy
  {
    id: 'node.kube-proxy.metrics-bind-address', cis: '4.3.1', component: 'kube-proxy', severity: 'LOW', title: 'Ensure that the kube-proxy metrics service is bound to localhost', remediation: 'Set metricsBindAddress: 127.0.0.1:10249 for kube-proxy.',
    evaluate: (i) => {
      const s = i.get('metrics-bind-address', '127.0.0.1:10249');
      return /^(127\.0\.0\.1|localhost|\[::1\])(:\d+)?$/.test(s.value ?? '') ? pass([s.evidence]) : fail([s.evidence]);
    },
  },
];
