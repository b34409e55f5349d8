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
 * - the default ServiceAccount of every namespace does not automount its token (CIS 5.1.5).
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
  const out: CheckResult[] = [];
  for (const ns of namespaces) {
    const subject: Subject = { kind: 'Namespace', name: ns.name, object: ns.object };
    const used = ns.object ? '' : ` (no Namespace object among the inputs; ${ns.objects} object(s) use it)`;
    const quotas = index.byKindIn('ResourceQuota', ns.name);
    out.push(result(CHECKS.quota, subject, quotas.length > 0, quotas.length ? quotas.map((q) => `ResourceQuota ${ns.name}/${q.name}${whereIs(q)}${hardOf(q)}`) : [`no ResourceQuota in namespace ${ns.name}${used}`]));
    const limits = index.byKindIn('LimitRange', ns.name);
    out.push(result(CHECKS.limits, subject, limits.length > 0, limits.length ? limits.map((l) => `LimitRange ${ns.name}/${l.name}${whereIs(l)}`) : [`no LimitRange in namespace ${ns.name}${used}`]));
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
