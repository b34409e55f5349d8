/**
 * The deploy pack's verdicts as CheckResults: every workload policy, once per object it
 * applies to, `pass` or `fail` (with the violation as its Finding). A policy applies to an
 * object when the object is in the policy's scope and a field its criteria read has a value
 * for it (FieldDef.extract is not undefined: an Ingress field on a Deployment does not
 * apply). So a compliance control sees what was checked and found right, not only what
 * is wrong, and a policy that applies to nothing among the inputs is not applicable.
 */
import type { CheckResult } from '../findings/check-result.js';
import type { Finding } from '../findings/finding.js';
import type { ManifestObject } from '../kube/manifests.js';
import { buildIndex } from '../kube/object-index.js';
import { PSS_LATEST_MINOR } from '../kube/pss/evaluate.js';
import { workloadSubject, type WorkloadSubject } from '../kube/subject.js';
import { fieldsOf } from '../policy/criteria.js';
import { compilePolicySet, evaluate } from '../policy/evaluate.js';
import { inScope } from '../policy/match.js';
import { loadPacks, resolvePackInput } from '../policy/pack.js';
import { SubjectRegistry, type SubjectNode } from '../policy/subject.js';
import type { Policy } from '../policy/types.js';
import type { EvalContext } from '../kube/fields/context.js';

export interface PolicyRunOptions {
  /** Extra policy packs or exception files (as `k8s check --policy`). */
  policyPaths?: string[];
  cluster?: string;
  now?: Date;
}

export interface PolicyRun {
  results: CheckResult[];
  /** Every violation (after exceptions), as `k8s check` reports them. */
  findings: Finding[];
  policies: Policy[];
}

const keyOf = (kind: string, namespace: string | undefined, name: string) => `${kind}\u0000${namespace ?? ''}\u0000${name}`;

export async function runDeployPolicies(objects: readonly ManifestObject[], opts: PolicyRunOptions = {}): Promise<PolicyRun> {
  const adapter = workloadSubject();
  const subjects = new SubjectRegistry([adapter]);
  const sources = [resolvePackInput('deploy'), ...(opts.policyPaths ?? []).map(resolvePackInput)];
  const { policies: all, exceptions } = await loadPacks(sources, subjects);
  // Both Pod Security levels: a compliance report asks about every control.
  const policies = all.filter((p) => p.subject === 'workload' && p.enabled);
  const set = compilePolicySet(policies, subjects, { exceptions });
  const index = buildIndex(objects);
  const subject: WorkloadSubject = { objects, index, settings: { pss: { level: 'restricted', minor: PSS_LATEST_MINOR } }, cluster: opts.cluster };
  const verdict = evaluate({ kind: 'workload', value: subject }, set, { stage: 'deploy', now: opts.now });

  const violations = new Map<string, Finding[]>();
  for (const f of verdict.violations) {
    const k = f.resource.k8s;
    if (!k) continue;
    const key = `${f.policy?.id ?? f.id}\u0000${keyOf(k.kind, k.namespace, k.name)}`;
    violations.set(key, [...(violations.get(key) ?? []), f]);
  }
  const excepted = new Map<string, string>();
  for (const x of verdict.excepted) {
    const k = x.finding.resource.k8s;
    if (k) excepted.set(`${x.finding.policy?.id ?? x.finding.id}\u0000${keyOf(k.kind, k.namespace, k.name)}`, `excepted (owner ${x.exception.owner}: ${x.exception.reason})`);
  }

  const results: CheckResult[] = [];
  for (const root of adapter.roots(subject) as Iterable<SubjectNode<EvalContext>>) {
    const o = root.ctx.object;
    const objKey = keyOf(o.kind, o.namespace, o.name);
    let elements: readonly SubjectNode<EvalContext>[] | undefined;
    for (const p of policies) {
      if (!p.stages.includes('deploy')) continue;
      const fields = fieldsOf(p.criteria).map((f) => adapter.fields.get(f)).filter((f) => f !== undefined);
      const elementLevel = fields.some((f) => f.target !== adapter.rootTarget);
      let nodes: readonly SubjectNode<EvalContext>[] = [root];
      if (elementLevel) nodes = elements ??= adapter.elements.container!(root);
      const applies = nodes.some((n) => inScope(p.scope, n.scope) && fields.some((f) => f.extract(n.ctx) !== undefined));
      if (!applies) continue;
      const key = `${p.id}\u0000${objKey}`;
      const found = violations.get(key) ?? [];
      const label = root.label;
      const where = o.source.line > 0 ? ` (${o.source.file}:${o.source.line})` : '';
      if (found.length) {
        results.push(
          ...found.map((f): CheckResult => ({
            id: p.id,
            title: `${p.name}: ${label}`,
            status: 'fail',
            severity: p.severity,
            evidence: [`${f.detail ?? `${label}: ${f.title}`}${where}`],
            remediation: p.remediation,
            finding: f,
          })),
        );
      } else {
        const why = excepted.get(key);
        results.push({ id: p.id, title: `${p.name}: ${label}`, status: 'pass', severity: p.severity, evidence: [`${label}${where}: ${why ?? 'no violation'}`], remediation: p.remediation });
      }
    }
  }
  return { results, findings: verdict.violations, policies };
}
