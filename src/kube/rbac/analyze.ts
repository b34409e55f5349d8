/**
 * RBAC analysis: for every subject, the risky permissions it holds and the path that
 * grants each one (subject → binding → role → rule), plus `who-can`.
 */
import type { Finding } from '../../findings/finding.js';
import type { FieldPath } from '../manifests.js';
import { buildRbacModel, ruleAllows, subjectLabel, type BindingDef, type PolicyRule, type RbacModel, type RbacModelOptions, type RoleDef, type Subject } from './model.js';
import type { GrantPattern, RbacRisk } from './risks.js';
import type { ManifestObject } from '../manifests.js';

export interface GrantPath {
  subject: Subject;
  binding: BindingDef;
  role: RoleDef;
  ruleIndex: number;
  rule: PolicyRule;
  /** Namespace the grant applies in ('*' for cluster-wide). */
  scope: string;
}

export function pathText(p: GrantPath): string {
  const b = `${p.binding.kind} ${p.binding.namespace ? `${p.binding.namespace}/` : ''}${p.binding.name}`;
  const r = `${p.role.kind} ${p.role.namespace ? `${p.role.namespace}/` : ''}${p.role.name}`;
  const rule = `rules[${p.ruleIndex}] ${p.rule.verbs.join(',')} ${p.rule.resources.length ? p.rule.resources.join(',') : p.rule.nonResourceURLs.join(',')}${p.rule.resourceNames.length ? ` (names: ${p.rule.resourceNames.join(',')})` : ''}`;
  return `${subjectLabel(p.subject)} → ${b} → ${r} → ${rule}`;
}

function* grantPaths(model: RbacModel): Generator<GrantPath> {
  for (const binding of model.bindings) {
    const role = model.resolveRole(binding);
    if (!role) continue;
    for (const { subject } of binding.subjects) {
      for (let i = 0; i < role.rules.length; i++) {
        yield { subject, binding, role, ruleIndex: i, rule: role.rules[i]!.rule, scope: binding.kind === 'ClusterRoleBinding' ? '*' : binding.namespace! };
      }
    }
  }
}

/**
 * Cluster-scoped resources of the risk catalog: a RoleBinding grants a role's rules only
 * inside its namespace, so rules on these take effect only through a ClusterRoleBinding.
 */
const CLUSTER_SCOPED = new Set([
  'nodes', 'namespaces', 'persistentvolumes', 'clusterroles', 'clusterrolebindings', 'certificatesigningrequests', 'signers',
  'mutatingwebhookconfigurations', 'validatingwebhookconfigurations', 'users', 'groups', 'uids', 'userextras',
]);

/** Does the path's rule grant one of the pattern's verbs on one of its resources, where the binding gives it effect? */
function grantMatches(g: GrantPattern, p: GrantPath): boolean {
  for (const res of g.resources) {
    if (p.scope !== '*' && CLUSTER_SCOPED.has(res.split('/')[0]!)) continue;
    for (const verb of g.verbs) {
      if ((g.apiGroups ?? [undefined]).some((grp) => ruleAllows(p.rule, verb, res, grp))) return true;
    }
  }
  return false;
}

const hasWildcard = (rule: PolicyRule) => rule.verbs.includes('*') || rule.resources.includes('*') || rule.apiGroups.includes('*');

/**
 * The risk's match on path P of a subject whose paths are ALL: undefined when none; else the
 * other paths that complete it (a grant's `with`, each held in P's namespace or cluster-wide).
 */
function riskMatch(risk: RbacRisk, p: GrantPath, all: readonly GrantPath[]): GrantPath[] | undefined {
  if (risk.wildcard && hasWildcard(p.rule)) return [];
  for (const g of risk.grants ?? []) {
    if (!grantMatches(g, p)) continue;
    const others: GrantPath[] = [];
    for (const w of g.with ?? []) {
      const q = all.find((x) => (x.scope === '*' || x.scope === p.scope) && grantMatches(w, x));
      if (!q) break;
      others.push(q);
    }
    if (others.length === (g.with ?? []).length) return others.filter((q) => q !== p);
  }
  return undefined;
}

const roleText = (r: RoleDef) => `${r.kind} ${r.namespace ? `${r.namespace}/` : ''}${r.name}`;

/** Location of a path's rule (or the binding when the role is built in). */
function locate(p: GrantPath): { file: string; line: number; column: number; object: ManifestObject; field: FieldPath } {
  const entry = p.role.rules[p.ruleIndex]!;
  if (entry.object) return { ...entry.object.positionOf(entry.path), object: entry.object, field: entry.path };
  return { ...p.binding.object.positionOf(['roleRef']), object: p.binding.object, field: ['roleRef'] };
}

export interface RbacAnalysis {
  findings: Finding[];
  notes: string[];
  subjects: number;
}

export function analyzeRbac(objects: readonly ManifestObject[], risks: readonly RbacRisk[], opts: RbacModelOptions = {}): RbacAnalysis {
  const model = buildRbacModel(objects, opts);
  const findings: Finding[] = [];
  const subjects = new Set<string>();
  const seen = new Set<string>();
  const emit = (risk: RbacRisk, p: GrantPath | undefined, binding: BindingDef, subject: Subject, subjectPath: FieldPath, also: GrantPath[] = []) => {
    const path = p ? pathText(p) : `${subjectLabel(subject)} → ${binding.kind} ${binding.namespace ? `${binding.namespace}/` : ''}${binding.name} → ${binding.roleRef.kind} ${binding.roleRef.name}`;
    const key = `${risk.id}|${path}`;
    if (seen.has(key)) return;
    seen.add(key);
    const loc = p ? locate(p) : { ...binding.object.positionOf(risk.subjects ? subjectPath : ['roleRef']), object: binding.object, field: risk.subjects ? subjectPath : ['roleRef'] };
    const withText = also.map((q) => pathText(q).slice(subjectLabel(subject).length + ' → '.length));
    findings.push({
      id: risk.id,
      kind: 'misconfiguration',
      severity: risk.severity,
      // The role and rule tell apart rows of one risk for one subject.
      title: `${risk.name}: ${subjectLabel(subject)}${p ? ` (${roleText(p.role)} rules[${p.ruleIndex}])` : ''}`,
      detail: `${path}${p ? ` (in ${p.scope === '*' ? 'all namespaces' : `namespace ${p.scope}`})` : ''}${withText.length ? `, with ${withText.join('; ')}` : ''}`,
      // Objects read from a live cluster have no file: the finding names the object only.
      resource: loc.file
        ? {
            k8s: { kind: loc.object.kind, namespace: loc.object.namespace, name: loc.object.name, file: loc.file, line: loc.line },
            file: { path: loc.file, line: loc.line, column: loc.column },
          }
        : { k8s: { kind: loc.object.kind, namespace: loc.object.namespace, name: loc.object.name } },
      policy: { id: risk.id, name: risk.name },
      remediation: risk.remediation,
      references: [],
      data: {
        subject: subjectLabel(subject),
        path,
        binding: `${binding.kind}/${binding.namespace ? `${binding.namespace}/` : ''}${binding.name}`,
        role: `${binding.roleRef.kind}/${binding.roleRef.name}`,
        scope: binding.kind === 'ClusterRoleBinding' ? '*' : binding.namespace,
        mappings: risk.mappings,
        field: loc.field.join('.'),
        ...(withText.length ? { with: withText } : {}),
      },
    });
  };
  for (const binding of model.bindings) {
    for (const { subject, path } of binding.subjects) {
      subjects.add(subjectLabel(subject));
      for (const risk of risks) {
        if (risk.subjects?.includes(subject.name)) emit(risk, undefined, binding, subject, path);
        if (risk.roleRefs?.includes(binding.roleRef.name) && binding.roleRef.kind === 'ClusterRole') emit(risk, undefined, binding, subject, path);
      }
    }
  }
  const bySubject = new Map<string, GrantPath[]>();
  for (const p of grantPaths(model)) {
    const k = subjectLabel(p.subject);
    bySubject.set(k, [...(bySubject.get(k) ?? []), p]);
  }
  for (const paths of bySubject.values()) {
    for (const p of paths) {
      for (const risk of risks) {
        if (!risk.grants && !risk.wildcard) continue;
        const also = riskMatch(risk, p, paths);
        if (also) emit(risk, p, p.binding, p.subject, [], also);
      }
    }
  }
  return { findings, notes: model.notes, subjects: subjects.size };
}

/** Common resources' API groups, so `who-can create deployments` needs no `.apps`. */
const KNOWN_GROUPS: Record<string, string> = {
  pods: '', services: '', secrets: '', configmaps: '', serviceaccounts: '', nodes: '', namespaces: '', persistentvolumes: '',
  persistentvolumeclaims: '', endpoints: '', events: '', replicationcontrollers: '',
  deployments: 'apps', daemonsets: 'apps', statefulsets: 'apps', replicasets: 'apps',
  jobs: 'batch', cronjobs: 'batch',
  roles: 'rbac.authorization.k8s.io', clusterroles: 'rbac.authorization.k8s.io', rolebindings: 'rbac.authorization.k8s.io', clusterrolebindings: 'rbac.authorization.k8s.io',
  networkpolicies: 'networking.k8s.io', ingresses: 'networking.k8s.io',
  certificatesigningrequests: 'certificates.k8s.io',
  mutatingwebhookconfigurations: 'admissionregistration.k8s.io', validatingwebhookconfigurations: 'admissionregistration.k8s.io',
};

export interface WhoCanAnswer {
  subject: string;
  scope: string;
  path: string;
  file: string;
  line: number;
}

/** `RESOURCE` may be `pods`, `pods/exec` or `deployments.apps`. */
export function whoCan(objects: readonly ManifestObject[], verb: string, resourceSpec: string, opts: { namespace?: string; name?: string } = {}): WhoCanAnswer[] {
  const [resWithGroup, sub] = resourceSpec.split('/', 2) as [string, string | undefined];
  const dot = resWithGroup.indexOf('.');
  const res = dot >= 0 ? resWithGroup.slice(0, dot) : resWithGroup;
  const group = dot >= 0 ? resWithGroup.slice(dot + 1) : KNOWN_GROUPS[res];
  const resource = sub ? `${res}/${sub}` : res;
  const out: WhoCanAnswer[] = [];
  const seen = new Set<string>();
  for (const p of grantPaths(buildRbacModel(objects))) {
    if (opts.namespace && p.scope !== '*' && p.scope !== opts.namespace) continue;
    if (!ruleAllows(p.rule, verb, resource, group)) continue;
    if (p.rule.resourceNames.length && opts.name && !p.rule.resourceNames.includes(opts.name)) continue;
    const text = pathText(p);
    if (seen.has(text)) continue;
    seen.add(text);
    const loc = locate(p);
    out.push({ subject: subjectLabel(p.subject), scope: p.scope === '*' ? 'cluster-wide' : p.scope, path: text, file: loc.file, line: loc.line });
  }
  return out.sort((a, b) => a.subject.localeCompare(b.subject) || a.path.localeCompare(b.path));
}
