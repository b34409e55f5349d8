/**
 * RBAC analysis: for every subject, the risky permissions it holds and the path that
 * grants each one (subject → binding → role → rule), plus `who-can`.
 */
import type { Finding } from '../../findings/finding.js';
import type { FieldPath } from '../manifests.js';
import { buildRbacModel, ruleAllows, subjectLabel, type BindingDef, type PolicyRule, type RbacModel, type RoleDef, type Subject } from './model.js';
import type { RbacRisk } from './risks.js';
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

function riskMatchesRule(risk: RbacRisk, rule: PolicyRule): boolean {
  if (risk.wildcard && (rule.verbs.includes('*') || rule.resources.includes('*') || rule.apiGroups.includes('*'))) return true;
  for (const g of risk.grants ?? []) {
    for (const verb of g.verbs) {
      for (const res of g.resources) {
        const groups = g.apiGroups ?? [undefined];
        if (groups.some((grp) => ruleAllows(rule, verb, res, grp))) return true;
      }
    }
  }
  return false;
}

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

export function analyzeRbac(objects: readonly ManifestObject[], risks: readonly RbacRisk[]): RbacAnalysis {
  const model = buildRbacModel(objects);
  const findings: Finding[] = [];
  const subjects = new Set<string>();
  const seen = new Set<string>();
  const emit = (risk: RbacRisk, p: GrantPath | undefined, binding: BindingDef, subject: Subject, subjectPath: FieldPath) => {
    const path = p ? pathText(p) : `${subjectLabel(subject)} → ${binding.kind} ${binding.namespace ? `${binding.namespace}/` : ''}${binding.name} → ${binding.roleRef.kind} ${binding.roleRef.name}`;
    const key = `${risk.id}|${path}`;
    if (seen.has(key)) return;
    seen.add(key);
    const loc = p && risk.grants ? locate(p) : { ...binding.object.positionOf(risk.subjects ? subjectPath : ['roleRef']), object: binding.object, field: risk.subjects ? subjectPath : ['roleRef'] };
    findings.push({
      id: risk.id,
      kind: 'misconfiguration',
      severity: risk.severity,
      title: `${risk.name}: ${subjectLabel(subject)}`,
      detail: `${path}${p ? ` (in ${p.scope === '*' ? 'all namespaces' : `namespace ${p.scope}`})` : ''}`,
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
  for (const p of grantPaths(model)) {
    for (const risk of risks) {
      if ((risk.grants || risk.wildcard) && riskMatchesRule(risk, p.rule)) emit(risk, p, p.binding, p.subject, []);
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
