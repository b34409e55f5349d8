/**
 * Cluster-level checks (issue 22 item 3) over Kubernetes objects from manifests or a live
 * cluster, as CheckResults: one per namespace or object, pass or fail, with the evidence.
 * What the deploy pack already decides per object (Ingress without any TLS, pod-level token
 * automount, Secrets read into env vars, Namespace objects without quota) is not decided a
 * second time here: policy-results.ts turns those policies' verdicts into CheckResults.
 * These checks add what the pack cannot see object by object:
 * - every namespace the inputs use (not only Namespace objects) has a ResourceQuota and a
 *   LimitRange;
 * - every host an Ingress routes is covered by one of its TLS entries;
 * - service-mesh mTLS coverage (mesh.ts);
 * - the default ServiceAccount of every namespace does not automount its token (CIS 5.1.5);
 * - every namespace has a NetworkPolicy (CIS 5.3.2's wording) and an active pod admission
 *   control: a Pod Security Admission enforce label of baseline or restricted, or a
 *   validating webhook / ValidatingAdmissionPolicy over pods among the inputs (CIS 5.2.1).
 */
import type { CheckResult } from '../findings/check-result.js';
import type { ManifestObject } from '../kube/manifests.js';
import { buildIndex, type ObjectIndex } from '../kube/object-index.js';
import { meshChecks, MESH_CHECKS } from './mesh.js';
import { describeObject, result, whereIs, type ClusterCheckDef, type Subject } from './check-result.js';

const CHECKS = {
  quota: { id: 'k8s.namespace.resourcequota', title: 'Namespace has a ResourceQuota', failTitle: 'Namespace without ResourceQuota', severity: 'LOW', remediation: 'Add a ResourceQuota to the namespace (caps what its workloads can consume).' },
  limits: { id: 'k8s.namespace.limitrange', title: 'Namespace has a LimitRange', failTitle: 'Namespace without LimitRange', severity: 'LOW', remediation: 'Add a LimitRange with default requests and limits to the namespace.' },
  ingressTls: { id: 'k8s.ingress.tls', title: 'Ingress serves every host over TLS', failTitle: 'Ingress host served without TLS', severity: 'MEDIUM', remediation: 'List every host of spec.rules under a spec.tls entry with a certificate Secret.' },
  netpol: {
    id: 'k8s.namespace.networkpolicy',
    title: 'Namespace has a NetworkPolicy',
    failTitle: 'Namespace without NetworkPolicy',
    severity: 'MEDIUM',
    remediation: 'Add NetworkPolicies to the namespace, starting with a default deny (podSelector: {}) for ingress and egress.',
  },
  podSecurity: {
    id: 'k8s.namespace.pod-security',
    title: 'Namespace has an active pod admission policy',
    failTitle: 'Namespace admits pods without a policy control',
    severity: 'MEDIUM',
    remediation: 'Label the namespace pod-security.kubernetes.io/enforce: baseline (or restricted), or enforce a policy on pods with an admission webhook or ValidatingAdmissionPolicy.',
  },
  defaultSa: {
    id: 'k8s.serviceaccount.default-automount',
    title: 'Default service account does not automount its token',
    failTitle: 'Default service account automounts its token',
    severity: 'MEDIUM',
    remediation: 'Set automountServiceAccountToken: false on the namespace\'s default ServiceAccount; give workloads that call the API a ServiceAccount of their own.',
  },
} as const satisfies Record<string, ClusterCheckDef>;

/** Every check of this engine, for the framework catalog. */
export const CLUSTER_CHECKS: readonly ClusterCheckDef[] = [...Object.values(CHECKS), ...MESH_CHECKS];

/** Kinds that live outside namespaces (their objects do not make a namespace "used"). */
const CLUSTER_SCOPED = new Set([
  'Namespace', 'Node', 'PersistentVolume', 'ClusterRole', 'ClusterRoleBinding', 'StorageClass', 'CustomResourceDefinition', 'PriorityClass',
  'IngressClass', 'RuntimeClass', 'APIService', 'CSIDriver', 'CSINode', 'ValidatingWebhookConfiguration', 'MutatingWebhookConfiguration',
  'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding', 'PodSecurityPolicy', 'CertificateSigningRequest', 'VolumeAttachment',
  'ClusterIssuer', 'FlowSchema', 'PriorityLevelConfiguration',
  // Control-plane files that the manifest loader also reads.
  'EncryptionConfiguration', 'Policy', 'KubeletConfiguration', 'ClusterConfiguration', 'InitConfiguration', 'JoinConfiguration', 'Config',
]);

export interface NamespaceInfo {
  name: string;
  /** The Namespace object, when among the inputs. */
  object?: ManifestObject;
  /** How many namespaced objects of the inputs live in it. */
  objects: number;
}

/** The namespaces the inputs define or use (objects without a namespace are in `default`). */
export function namespacesOf(objects: readonly ManifestObject[]): NamespaceInfo[] {
  const out = new Map<string, NamespaceInfo>();
  const get = (name: string) => {
    let n = out.get(name);
    if (!n) out.set(name, (n = { name, objects: 0 }));
    return n;
  };
  for (const o of objects) {
    if (o.kind === 'Namespace') get(o.name).object = o;
    else if (!CLUSTER_SCOPED.has(o.kind) && o.apiVersion !== 'apiserver.config.k8s.io/v1' && o.apiVersion !== 'audit.k8s.io/v1') get(o.namespace ?? 'default').objects++;
  }
  return [...out.values()].sort((a, b) => a.name.localeCompare(b.name));
}

export interface ClusterCheckOptions {
  /** Istio's root namespace (meshConfig.rootNamespace); default istio-system. */
  meshRootNamespace?: string;
  index?: ObjectIndex;
}

export function runClusterChecks(objects: readonly ManifestObject[], opts: ClusterCheckOptions = {}): CheckResult[] {
  const index = opts.index ?? buildIndex(objects);
  const namespaces = namespacesOf(objects);
  const podControls = podAdmissionControls(objects);
  const out: CheckResult[] = [];
  for (const ns of namespaces) {
    const subject: Subject = { kind: 'Namespace', name: ns.name, object: ns.object };
    const used = ns.object ? '' : ` (no Namespace object among the inputs; ${ns.objects} object(s) use it)`;
    const quotas = index.byKindIn('ResourceQuota', ns.name);
    out.push(result(CHECKS.quota, subject, quotas.length > 0, quotas.length ? quotas.map((q) => `ResourceQuota ${ns.name}/${q.name}${whereIs(q)}${hardOf(q)}`) : [`no ResourceQuota in namespace ${ns.name}${used}`]));
    const limits = index.byKindIn('LimitRange', ns.name);
    out.push(result(CHECKS.limits, subject, limits.length > 0, limits.length ? limits.map((l) => `LimitRange ${ns.name}/${l.name}${whereIs(l)}`) : [`no LimitRange in namespace ${ns.name}${used}`]));
    const netpols = index.byKindIn('NetworkPolicy', ns.name);
    out.push(
      result(
        CHECKS.netpol,
        subject,
        netpols.length > 0,
        netpols.length ? netpols.map((n) => `NetworkPolicy ${ns.name}/${n.name}${whereIs(n)}${isDefaultDeny(n) ? `: default deny (${(n.raw.spec?.policyTypes ?? ['Ingress']).join(', ')})` : ''}`) : [`no NetworkPolicy in namespace ${ns.name}${used}: every pod accepts traffic from anywhere`],
      ),
    );
    const enforce = ns.object?.labels['pod-security.kubernetes.io/enforce'];
    const psaOn = enforce === 'baseline' || enforce === 'restricted';
    const psaText = ns.object ? `Namespace ${ns.name}: pod-security.kubernetes.io/enforce ${enforce ? `= ${enforce}${enforce.startsWith('priv') ? ' (allows everything)' : ''}` : 'not set'}` : `no Namespace object among the inputs: its pod-security labels are unknown`;
    out.push(result(CHECKS.podSecurity, subject, psaOn || podControls.length > 0, [psaText, ...podControls]));
    const sa = index.find('ServiceAccount', ns.name, 'default');
    const saSubject: Subject = { kind: 'ServiceAccount', namespace: ns.name, name: 'default', object: sa };
    if (!sa) out.push(result(CHECKS.defaultSa, saSubject, false, [`no ServiceAccount ${ns.name}/default among the inputs: Kubernetes creates it with automountServiceAccountToken unset, so pods that use it get a token`]));
    else {
      const v = sa.raw.automountServiceAccountToken;
      out.push(result(CHECKS.defaultSa, saSubject, v === false, [`ServiceAccount ${ns.name}/default${whereIs(sa)}: automountServiceAccountToken: ${v === undefined || v === null ? 'unset (mounts)' : String(v)}`]));
    }
  }
  for (const ing of index.byKind('Ingress')) out.push(ingressTls(ing));
  for (const r of meshChecks(objects, index, namespaces, { rootNamespace: opts.meshRootNamespace ?? 'istio-system' })) out.push(r);
  return out;
}

/** Kinds a live cluster is read for beside the posture kinds: admission controls over pods. */
export const ADMISSION_KINDS: readonly { apiVersion: string; kind: string }[] = [
  { apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingWebhookConfiguration' },
  { apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingAdmissionPolicy' },
];

const hasAny = (v: unknown, wanted: readonly string[]) => Array.isArray(v) && v.some((x) => wanted.includes(String(x)));

/** Validating webhooks and ValidatingAdmissionPolicies whose rules cover creating pods (or every resource). */
function podAdmissionControls(objects: readonly ManifestObject[]): string[] {
  const out: string[] = [];
  const coversPods = (rules: unknown) =>
    Array.isArray(rules) && rules.some((r: any) => hasAny(r?.resources, ['pods', '*', '*/*']) && hasAny(r?.operations, ['CREATE', '*']));
  for (const o of objects) {
    if (o.kind === 'ValidatingWebhookConfiguration') {
      const hooks = (Array.isArray(o.raw.webhooks) ? o.raw.webhooks : []).filter((w: any) => coversPods(w?.rules));
      if (hooks.length) out.push(`ValidatingWebhookConfiguration ${o.name}${whereIs(o)}: ${hooks.map((w: any) => `${w.name} (failurePolicy ${w.failurePolicy ?? 'Fail'})`).join(', ')} validate pods`);
    } else if (o.kind === 'ValidatingAdmissionPolicy' && coversPods(o.raw.spec?.matchConstraints?.resourceRules)) {
      out.push(`ValidatingAdmissionPolicy ${o.name}${whereIs(o)} validates pods`);
    }
  }
  return out;
}

function isDefaultDeny(n: ManifestObject): boolean {
  const sel = n.raw.spec?.podSelector;
  const empty = sel && typeof sel === 'object' && !Object.keys(sel.matchLabels ?? {}).length && !(sel.matchExpressions ?? []).length;
  return Boolean(empty) && !(n.raw.spec?.ingress ?? []).length && !(n.raw.spec?.egress ?? []).length;
}

function hardOf(q: ManifestObject): string {
  const hard = q.raw.spec?.hard;
  if (!hard || typeof hard !== 'object') return ': no hard limits';
  const keys = Object.keys(hard);
  return keys.length ? `: hard ${keys.map((k) => `${k}=${String(hard[k])}`).join(', ')}` : ': no hard limits';
}

/** A TLS host pattern covers a host: exact, or `*.example.com` for one more label. */
function hostCovered(host: string, patterns: readonly string[]): boolean {
  return patterns.some((p) => p === host || (p.startsWith('*.') && host.endsWith(p.slice(1)) && !host.slice(0, -p.length + 1).includes('.')));
}

function ingressTls(ing: ManifestObject): CheckResult {
  const spec = ing.raw.spec ?? {};
  const tls: any[] = Array.isArray(spec.tls) ? spec.tls : [];
  const rules: any[] = Array.isArray(spec.rules) ? spec.rules : [];
  const subject: Subject = { kind: 'Ingress', namespace: ing.namespace ?? 'default', name: ing.name, object: ing };
  const where = `${describeObject(ing)}${whereIs(ing)}`;
  if (!tls.length) return result(CHECKS.ingressTls, subject, false, [`${where}: no spec.tls: every host is served over plain HTTP`]);
  const patterns = tls.flatMap((t) => (Array.isArray(t?.hosts) ? t.hosts.map(String) : []));
  const anyHost = tls.some((t) => !Array.isArray(t?.hosts) || t.hosts.length === 0);
  const hosts = [...new Set(rules.map((r) => (typeof r?.host === 'string' ? r.host : '')).filter(Boolean))];
  const uncovered = anyHost ? [] : hosts.filter((h) => !hostCovered(h, patterns));
  const tlsText = tls.map((t) => `secret ${t?.secretName ?? '(none)'} for ${Array.isArray(t?.hosts) && t.hosts.length ? t.hosts.join(', ') : 'any host'}`).join('; ');
  if (uncovered.length) return result(CHECKS.ingressTls, subject, false, [`${where}: TLS ${tlsText}`, `host(s) without TLS: ${uncovered.join(', ')}`]);
  return result(CHECKS.ingressTls, subject, true, [`${where}: TLS ${tlsText}${hosts.length ? `; covers ${hosts.join(', ')}` : ''}`]);
}
