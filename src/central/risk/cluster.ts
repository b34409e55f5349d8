/**
 * Per-cluster indexes risk needs, built once per cluster (Central scores thousands of
 * deployments against the same objects): the risky rights of every service account
 * (`rbac analyze`'s engine), the Services and Ingresses in front of pods, and NetworkPolicy
 * ingress isolation (`netpol analyze`'s engine), answered per pod-label set and cached.
 */
import type { ManifestObject } from '../../kube/manifests.js';
import { analyzeRbac } from '../../kube/rbac/analyze.js';
import type { RbacRisk } from '../../kube/rbac/risks.js';
import { buildModel, type ClusterModel, type NetpolObject, type ServiceModel, type Workload, NS_NAME_LABEL, workloadId } from '../../kube/netpol/model.js';
import { NetpolEngine } from '../../kube/netpol/analyze.js';
import type { Severity } from '../../findings/finding.js';

type K8sJson = Record<string, any>;

/** The cluster's objects as the API lists them (plain JSON); all empty on a plain host. */
export interface ClusterObjects {
  services?: K8sJson[];
  ingresses?: K8sJson[];
  networkPolicies?: K8sJson[];
  roles?: K8sJson[];
  clusterRoles?: K8sJson[];
  roleBindings?: K8sJson[];
  clusterRoleBindings?: K8sJson[];
  serviceAccounts?: K8sJson[];
  /** Namespaces (their labels matter to AdminNetworkPolicies). */
  namespaces?: K8sJson[];
  adminNetworkPolicies?: K8sJson[];
  baselineAdminNetworkPolicies?: K8sJson[];
}

/** One risky permission a service account holds, as `rbac analyze` reports it. */
export interface ServiceAccountRight {
  riskId: string;
  name: string;
  severity: Severity;
  /** subject → binding → role → rule. */
  path: string;
}

export interface PreparedCluster {
  /** false: no cluster objects were given (a plain host, or unknown), so nothing is said about RBAC or isolation. */
  readonly known: boolean;
  /** Risky rights of a service account, including those granted to its groups; one per risk. */
  serviceAccountRights(namespace: string, name: string): readonly ServiceAccountRight[];
  /** The ServiceAccount's automountServiceAccountToken (undefined: not set, or the account is not listed). */
  serviceAccountAutomount(namespace: string, name: string): boolean | undefined;
  /** Services of the namespace whose selector picks pods with these labels. */
  servicesSelecting(namespace: string, podLabels: Readonly<Record<string, string>>): readonly ServiceModel[];
  /** Ingresses (and Routes) that send traffic to the Service. */
  ingressesTo(namespace: string, service: string): readonly string[];
  /** Whether a NetworkPolicy (or an admin policy with ingress rules) restricts ingress to such pods. */
  ingressIsolated(namespace: string, podLabels: Readonly<Record<string, string>>): boolean;
  /** Notes from the engines (bindings to roles that are not there, …). */
  readonly notes: readonly string[];
}

const NOWHERE = { file: '', line: 0, column: 0 };

/** A listed object as the kube engines' input; live objects have no file, so no positions. */
function asManifestObject(raw: K8sJson, kind: string, apiVersion: string): ManifestObject {
  const meta = raw.metadata ?? {};
  return {
    apiVersion: typeof raw.apiVersion === 'string' ? raw.apiVersion : apiVersion,
    kind: typeof raw.kind === 'string' ? raw.kind : kind,
    name: String(meta.name ?? ''),
    namespace: typeof meta.namespace === 'string' ? meta.namespace : undefined,
    labels: meta.labels ?? {},
    annotations: meta.annotations ?? {},
    raw,
    source: { file: 'cluster', line: 0, column: 0 },
    known: true,
    positionOf: () => NOWHERE,
  };
}

const RBAC_GROUP = 'rbac.authorization.k8s.io/v1';

/** Groups every service account of NAMESPACE belongs to (Kubernetes authentication). */
const saGroups = (namespace: string): string[] => ['Group system:serviceaccounts', `Group system:serviceaccounts:${namespace}`, 'Group system:authenticated'];

function rbacIndex(objects: ClusterObjects, risks: readonly RbacRisk[]): { bySubject: Map<string, ServiceAccountRight[]>; notes: string[] } {
  const rbacObjects = [
    ...(objects.roles ?? []).map((o) => asManifestObject(o, 'Role', RBAC_GROUP)),
    ...(objects.clusterRoles ?? []).map((o) => asManifestObject(o, 'ClusterRole', RBAC_GROUP)),
    ...(objects.roleBindings ?? []).map((o) => asManifestObject(o, 'RoleBinding', RBAC_GROUP)),
    ...(objects.clusterRoleBindings ?? []).map((o) => asManifestObject(o, 'ClusterRoleBinding', RBAC_GROUP)),
  ];
  const bySubject = new Map<string, ServiceAccountRight[]>();
  if (!rbacObjects.length) return { bySubject, notes: [] };
  const { findings, notes } = analyzeRbac(rbacObjects, risks);
  for (const f of findings) {
    const subject = String(f.data?.subject ?? '');
    let rights = bySubject.get(subject);
    if (!rights) bySubject.set(subject, (rights = []));
    if (rights.some((r) => r.riskId === f.id)) continue;
    rights.push({ riskId: f.id, name: f.policy?.name ?? f.id, severity: f.severity, path: String(f.data?.path ?? f.detail) });
  }
  return { bySubject, notes };
}

function netpolObjects(objects: ClusterObjects): NetpolObject[] {
  const as = (list: K8sJson[] | undefined, kind: string, apiVersion: string) => (list ?? []).map((o) => asManifestObject(o, kind, apiVersion));
  return [
    ...as(objects.namespaces, 'Namespace', 'v1'),
    ...as(objects.services, 'Service', 'v1'),
    ...as(objects.ingresses, 'Ingress', 'networking.k8s.io/v1'),
    ...as(objects.networkPolicies, 'NetworkPolicy', 'networking.k8s.io/v1'),
    ...as(objects.adminNetworkPolicies, 'AdminNetworkPolicy', 'policy.networking.k8s.io/v1alpha1'),
    ...as(objects.baselineAdminNetworkPolicies, 'BaselineAdminNetworkPolicy', 'policy.networking.k8s.io/v1alpha1'),
  ];
}

const labelsKey = (namespace: string, labels: Readonly<Record<string, string>>): string =>
  `${namespace}\0${Object.keys(labels)
    .sort()
    .map((k) => `${k}=${labels[k]}`)
    .join('\0')}`;

function isolationOf(model: ClusterModel): (namespace: string, labels: Readonly<Record<string, string>>) => boolean {
  const engine = new NetpolEngine(model);
  const admins = [...model.anps, ...(model.banp ? [model.banp] : [])].filter((a) => a.ingress.length > 0);
  // The engine caches by Workload object: one per distinct label set keeps that cache bounded.
  const cache = new Map<string, boolean>();
  return (namespace, labels) => {
    const key = labelsKey(namespace, labels);
    let isolated = cache.get(key);
    if (isolated !== undefined) return isolated;
    if (!model.namespaces.has(namespace)) model.namespaces.set(namespace, { name: namespace, labels: { [NS_NAME_LABEL]: namespace } });
    const w: Workload = { namespace, name: key, kind: 'Pod', labels: { ...labels }, ports: [], id: workloadId(namespace, key, 'Pod') };
    const nsLabels = engine.nsLabelsOf(namespace);
    isolated = engine.isolated(w, true) || admins.some((a) => a.subjectNs(nsLabels) && a.subjectPod(w.labels));
    cache.set(key, isolated);
    return isolated;
  };
}

export interface PrepareOptions {
  /** The RBAC risk catalog (loadRbacRisks(); `rbac analyze` uses the same). */
  rbacRisks: readonly RbacRisk[];
}

/** Builds the cluster's indexes once; every deployment of the cluster is then scored against them. */
export function prepareCluster(objects: ClusterObjects, opts: PrepareOptions): PreparedCluster {
  const { bySubject, notes } = rbacIndex(objects, opts.rbacRisks);
  const automount = new Map<string, boolean>();
  for (const sa of objects.serviceAccounts ?? []) {
    if (typeof sa?.automountServiceAccountToken === 'boolean') automount.set(`${sa.metadata?.namespace ?? 'default'}/${sa.metadata?.name ?? ''}`, sa.automountServiceAccountToken);
  }
  const model = buildModel(netpolObjects(objects));
  const servicesByNs = new Map<string, ServiceModel[]>();
  for (const s of model.services) {
    if (!s.selector || !Object.keys(s.selector).length) continue;
    const l = servicesByNs.get(s.namespace) ?? [];
    l.push(s);
    servicesByNs.set(s.namespace, l);
  }
  const ingressByService = new Map<string, string[]>();
  for (const r of model.ingressRoutes) {
    for (const b of r.backends) {
      const key = `${r.namespace}/${b.service}`;
      const l = ingressByService.get(key) ?? [];
      const label = `${r.kind} ${r.name}`;
      if (!l.includes(label)) l.push(label);
      ingressByService.set(key, l);
    }
  }
  const rightsCache = new Map<string, ServiceAccountRight[]>();
  const known = Object.values(objects).some((v) => Array.isArray(v) && v.length > 0);
  return {
    known,
    notes: [...notes, ...model.notes],
    serviceAccountRights(namespace, name) {
      const key = `${namespace}/${name}`;
      let rights = rightsCache.get(key);
      if (rights) return rights;
      rights = [];
      for (const subject of [`ServiceAccount ${key}`, ...saGroups(namespace)]) {
        for (const r of bySubject.get(subject) ?? []) if (!rights.some((x) => x.riskId === r.riskId)) rights.push(r);
      }
      rightsCache.set(key, rights);
      return rights;
    },
    serviceAccountAutomount: (namespace, name) => automount.get(`${namespace}/${name}`),
    servicesSelecting: (namespace, labels) => (servicesByNs.get(namespace) ?? []).filter((s) => Object.entries(s.selector!).every(([k, v]) => labels[k] === v)),
    ingressesTo: (namespace, service) => ingressByService.get(`${namespace}/${service}`) ?? [],
    ingressIsolated: isolationOf(model),
  };
}

/** What a deployment without cluster objects is scored against (plain hosts). */
export const NO_CLUSTER: PreparedCluster = prepareCluster({}, { rbacRisks: [] });
