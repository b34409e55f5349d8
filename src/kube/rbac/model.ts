/**
 * RBAC graph from manifests: roles, bindings, subjects, with aggregated ClusterRoles
 * resolved and cluster-admin known even when the manifests do not define it.
 */
import type { FieldPath, ManifestObject } from '../manifests.js';
import { matchesSelector } from '../../policy/match.js';

export interface PolicyRule {
  verbs: string[];
  apiGroups: string[];
  resources: string[];
  resourceNames: string[];
  nonResourceURLs: string[];
}

export interface RoleDef {
  kind: 'Role' | 'ClusterRole';
  name: string;
  namespace?: string;
  rules: { rule: PolicyRule; path: FieldPath; object?: ManifestObject }[];
  object?: ManifestObject;
  labels: Record<string, string>;
}

export interface Subject {
  kind: 'User' | 'Group' | 'ServiceAccount';
  name: string;
  namespace?: string;
}

export interface BindingDef {
  kind: 'RoleBinding' | 'ClusterRoleBinding';
  name: string;
  namespace?: string;
  roleRef: { kind: 'Role' | 'ClusterRole'; name: string };
  subjects: { subject: Subject; path: FieldPath }[];
  object: ManifestObject;
}

export interface RbacModel {
  roles: RoleDef[];
  bindings: BindingDef[];
  resolveRole(binding: BindingDef): RoleDef | undefined;
  notes: string[];
}

const strList = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : []);

function toRule(r: any): PolicyRule {
  return {
    verbs: strList(r?.verbs),
    apiGroups: strList(r?.apiGroups),
    resources: strList(r?.resources),
    resourceNames: strList(r?.resourceNames),
    nonResourceURLs: strList(r?.nonResourceURLs),
  };
}

/** Built-in roles a cluster always has, for bindings whose role is not in the manifests. */
const BUILTIN_CLUSTER_ROLES: RoleDef[] = [
  {
    kind: 'ClusterRole',
    name: 'cluster-admin',
    labels: {},
    rules: [
      { rule: { verbs: ['*'], apiGroups: ['*'], resources: ['*'], resourceNames: [], nonResourceURLs: [] }, path: ['rules', 0] },
      { rule: { verbs: ['*'], apiGroups: [], resources: [], resourceNames: [], nonResourceURLs: ['*'] }, path: ['rules', 1] },
    ],
  },
];

export interface RbacModelOptions {
  /** Namespace for namespaced objects without metadata.namespace (`kubectl apply -n NS`). */
  namespace?: string;
}

const isRbac = (o: ManifestObject) => o.apiVersion.startsWith('rbac.authorization.k8s.io/');

/**
 * The namespace that Roles and RoleBindings without metadata.namespace land in. The API server
 * puts such an object in the namespace of the request, i.e. kubectl's `-n` or the context's
 * namespace, `default` when neither is set. A manifest alone does not say which; but when
 * its own bindings name the ServiceAccounts of its unplaced RoleBindings with one explicit
 * namespace (Argo CD's install.yaml: ClusterRoleBindings to `argocd/argocd-server`, applied
 * with `kubectl apply -n argocd`), that is the namespace it is meant for, and it is said so.
 */
function applyNamespace(objects: readonly ManifestObject[], notes: string[]): string {
  const unplaced = objects.filter((o) => isRbac(o) && (o.kind === 'Role' || o.kind === 'RoleBinding') && !o.namespace);
  if (!unplaced.length) return 'default';
  const names = new Set<string>();
  for (const o of unplaced) {
    if (o.kind !== 'RoleBinding' || !Array.isArray(o.raw.subjects)) continue;
    for (const s of o.raw.subjects) if (s?.kind === 'ServiceAccount' && !s.namespace && typeof s.name === 'string') names.add(s.name);
  }
  const placed = new Set<string>();
  for (const o of objects) {
    if (!isRbac(o) || (o.kind !== 'RoleBinding' && o.kind !== 'ClusterRoleBinding') || !Array.isArray(o.raw.subjects)) continue;
    for (const s of o.raw.subjects) if (s?.kind === 'ServiceAccount' && typeof s.namespace === 'string' && s.namespace && names.has(s.name)) placed.add(s.namespace);
  }
  const what = `${unplaced.length} Role/RoleBinding object(s) without metadata.namespace`;
  if (placed.size === 1) {
    const [ns] = [...placed] as [string];
    notes.push(`${what}: read in namespace ${ns}, where the input's own bindings place their ServiceAccounts (as after \`kubectl apply -n ${ns}\`)`);
    return ns;
  }
  notes.push(`${what}: read in namespace default, where kubectl applies them without -n`);
  return 'default';
}

export function buildRbacModel(objects: readonly ManifestObject[], opts: RbacModelOptions = {}): RbacModel {
  const roles: RoleDef[] = [];
  const bindings: BindingDef[] = [];
  const notes: string[] = [];
  const applyNs = opts.namespace ?? applyNamespace(objects, notes);
  for (const o of objects) {
    if (!isRbac(o)) continue;
    if (o.kind === 'Role' || o.kind === 'ClusterRole') {
      const rules = (Array.isArray(o.raw.rules) ? o.raw.rules : []).map((r: unknown, i: number) => ({ rule: toRule(r), path: ['rules', i] as FieldPath, object: o }));
      roles.push({ kind: o.kind, name: o.name, namespace: o.kind === 'Role' ? o.namespace ?? applyNs : undefined, rules, object: o, labels: o.labels });
    } else if (o.kind === 'RoleBinding' || o.kind === 'ClusterRoleBinding') {
      const ref = o.raw.roleRef ?? {};
      const ns = o.kind === 'RoleBinding' ? o.namespace ?? applyNs : undefined;
      const subjects = (Array.isArray(o.raw.subjects) ? o.raw.subjects : []).flatMap((s: any, i: number) => {
        if (!s || !['User', 'Group', 'ServiceAccount'].includes(s.kind)) return [];
        const subject: Subject = { kind: s.kind, name: String(s.name ?? ''), namespace: s.kind === 'ServiceAccount' ? String(s.namespace ?? ns ?? applyNs) : undefined };
        return [{ subject, path: ['subjects', i] as FieldPath }];
      });
      bindings.push({ kind: o.kind, name: o.name, namespace: ns, roleRef: { kind: ref.kind === 'Role' ? 'Role' : 'ClusterRole', name: String(ref.name ?? '') }, subjects, object: o });
    }
  }
  // Aggregated ClusterRoles take the rules of every ClusterRole their selectors match.
  for (const r of roles) {
    const selectors = r.object?.raw.aggregationRule?.clusterRoleSelectors;
    if (r.kind !== 'ClusterRole' || !Array.isArray(selectors)) continue;
    for (const other of roles) {
      if (other === r || other.kind !== 'ClusterRole') continue;
      if (selectors.some((s: any) => matchesSelector(other.labels, s))) r.rules.push(...other.rules);
    }
  }
  const resolveRole = (b: BindingDef): RoleDef | undefined => {
    if (b.roleRef.kind === 'Role') return roles.find((r) => r.kind === 'Role' && r.name === b.roleRef.name && r.namespace === b.namespace);
    return roles.find((r) => r.kind === 'ClusterRole' && r.name === b.roleRef.name) ?? BUILTIN_CLUSTER_ROLES.find((r) => r.name === b.roleRef.name);
  };
  for (const b of bindings) {
    if (!resolveRole(b)) notes.push(`${b.kind} ${b.namespace ? `${b.namespace}/` : ''}${b.name}: ${b.roleRef.kind} ${b.roleRef.name} is not defined in the input`);
  }
  return { roles, bindings, resolveRole, notes };
}

export function subjectLabel(s: Subject): string {
  return s.kind === 'ServiceAccount' ? `ServiceAccount ${s.namespace}/${s.name}` : `${s.kind} ${s.name}`;
}

/** Does a rule grant VERB on RESOURCE(/SUBRESOURCE) in API group GROUP (Kubernetes RBAC matching)? */
export function ruleAllows(rule: PolicyRule, verb: string, resource: string, group: string | undefined): boolean {
  if (!rule.verbs.some((v) => v === '*' || v === verb)) return false;
  if (group !== undefined && !rule.apiGroups.some((g) => g === '*' || g === group)) return false;
  const [res, sub] = resource.split('/', 2) as [string, string | undefined];
  return rule.resources.some((r) => r === '*' || r === resource || (sub !== undefined && r === `*/${sub}`) || (sub === undefined && r === res));
}
