/**
 * The one API every engine calls:
 *
 *   const set = compilePolicySet(policies, subjects, { exceptions });   // once per pack load
 *   evaluate({ kind: 'workload', value }, set, { stage, now, exceptions })
 *     → { violations: Finding[], decision: allow | deny | warn, enforcement }
 *
 * A policy set is compiled once (fields resolved, regexes built) and reused for every
 * subject; admission and the engine proxy call it on every request.
 */
import type { Finding } from '../findings/finding.js';
import { fingerprintOf } from '../findings/fingerprint.js';
import { compileCriterion, fieldsOf, withFieldMemo, type CompiledCriterion } from './criteria.js';
import { applyExceptions } from './exceptions.js';
import type { FieldHit } from './fields.js';
import { inScope } from './match.js';
import type { SubjectAdapter, SubjectNode, SubjectRegistry } from './subject.js';
import { STAGE_ENFORCEMENTS, type Enforcement, type Policy, type PolicyException, type Stage, type SubjectKind } from './types.js';

export type Decision = 'allow' | 'deny' | 'warn';

export interface Subject<S = unknown> {
  kind: SubjectKind;
  value: S;
}

export interface EvaluateOptions {
  /** The stage asking; only policies of that stage run (default: the subject's stage). */
  stage?: Stage;
  now?: Date;
  /** Exceptions besides those loaded with the set (a CLI --exceptions file, an ignore file). */
  exceptions?: readonly PolicyException[];
  /**
   * Enforcement overridden to `inform` (audit-only mode: decisions become warnings). Every
   * violation is still reported.
   */
  informOnly?: boolean;
}

export interface Verdict {
  /** Violations still standing after exceptions, one Finding each. */
  violations: Finding[];
  /** allow: no violation; deny: a violated policy enforces at this stage; warn: only inform. */
  decision: Decision;
  /** Actions to take at this stage (union over the standing violations, in ENFORCEMENTS order). */
  enforcement: Enforcement[];
  excepted: { finding: Finding; exception: PolicyException }[];
  expiredExceptions: PolicyException[];
}

interface CompiledPolicy {
  policy: Policy;
  criteria: CompiledCriterion<unknown>;
  /** The element target the policy reads, or undefined for the root. */
  target?: string;
  /** Parts every violation of the policy shares, built once (findings are made per request). */
  ref: NonNullable<Finding['policy']>;
  enforcement: readonly Enforcement[];
}

export class PolicySet {
  private readonly bySubject = new Map<SubjectKind, CompiledPolicy[]>();

  constructor(
    readonly policies: readonly Policy[],
    readonly subjects: SubjectRegistry,
    readonly exceptions: readonly PolicyException[] = [],
  ) {
    for (const policy of policies) {
      if (!policy.enabled) continue;
      const adapter = subjects.get(policy.subject);
      if (!adapter) throw new Error(`policy ${policy.id}: subject ${policy.subject} is not registered`);
      const target = fieldsOf(policy.criteria).map((f) => adapter.fields.get(f)?.target).find((t) => t !== undefined && t !== adapter.rootTarget);
      let list = this.bySubject.get(policy.subject);
      if (!list) this.bySubject.set(policy.subject, (list = []));
      const ref = Object.freeze({ id: policy.id, name: policy.name, enforcement: policy.enforcement.join(',') });
      list.push({ policy, criteria: compileCriterion(policy.criteria, adapter.fields), target, ref, enforcement: policy.enforcement });
    }
  }

  /** Enabled policies about one subject. */
  policiesFor(kind: SubjectKind): Policy[] {
    return (this.bySubject.get(kind) ?? []).map((c) => c.policy);
  }

  compiledFor(kind: SubjectKind): readonly CompiledPolicy[] {
    return this.bySubject.get(kind) ?? [];
  }
}

export function compilePolicySet(policies: readonly Policy[], subjects: SubjectRegistry, opts: { exceptions?: readonly PolicyException[] } = {}): PolicySet {
  return new PolicySet(policies, subjects, opts.exceptions ?? []);
}

const ORDER: readonly Enforcement[] = ['inform', 'fail-build', 'deny-admission', 'block', 'kill', 'pause', 'stop', 'isolate', 'scale-to-zero', 'label'];

/** Raw violations of one subject (no exceptions, no decision): the building block of evaluate(). */
export function findViolations(subject: Subject, set: PolicySet, stage: Stage | undefined): Finding[] {
  return withFieldMemo(() => findViolationsIn(subject, set, stage));
}

function findViolationsIn(subject: Subject, set: PolicySet, stage: Stage | undefined): Finding[] {
  const adapter = set.subjects.get(subject.kind);
  if (!adapter) throw new Error(`subject ${subject.kind} is not registered`);
  const compiled = set.compiledFor(subject.kind);
  const st = stage ?? adapter.defaultStage;
  const findings: Finding[] = [];
  if (compiled.length === 0) return findings;
  for (const root of adapter.roots(subject.value)) {
    let elementCache: Map<string, readonly SubjectNode<unknown>[]> | undefined;
    for (const cp of compiled) {
      const { policy } = cp;
      if (!policy.stages.includes(st)) continue;
      if (cp.target === undefined) {
        if (!inScope(policy.scope, root.scope)) continue;
        const m = cp.criteria(root.ctx);
        if (m.holds) findings.push(toFinding(adapter, cp, root, m.hits));
        continue;
      }
      elementCache ??= new Map();
      let nodes = elementCache.get(cp.target);
      if (!nodes) {
        const expand = adapter.elements[cp.target];
        nodes = expand ? expand(root) : [];
        elementCache.set(cp.target, nodes);
      }
      for (const node of nodes) {
        if (!inScope(policy.scope, node.scope)) continue;
        const m = cp.criteria(node.ctx);
        if (m.holds) findings.push(toFinding(adapter, cp, node, m.hits));
      }
    }
  }
  return findings;
}

export function evaluate(subject: Subject, set: PolicySet, opts: EvaluateOptions = {}): Verdict {
  const adapter = set.subjects.get(subject.kind);
  const stage = opts.stage ?? adapter?.defaultStage ?? 'deploy';
  const raw = findViolations(subject, set, stage);
  const exceptions = opts.exceptions?.length ? [...set.exceptions, ...opts.exceptions] : set.exceptions;
  const outcome = applyExceptions(raw, exceptions, opts.now);
  return decide(outcome.remaining, stage, opts, outcome);
}

/** The decision over standing violations (exported for engines that batch subjects). */
export function decide(
  violations: Finding[],
  stage: Stage,
  opts: Pick<EvaluateOptions, 'informOnly'> = {},
  outcome: { excepted: Verdict['excepted']; expired: PolicyException[] } = { excepted: [], expired: [] },
): Verdict {
  // Nothing violated (the usual answer, per request at admission): nothing to collect.
  if (violations.length === 0) return { violations, decision: 'allow', enforcement: [], excepted: outcome.excepted, expiredExceptions: outcome.expired };
  const effective = STAGE_ENFORCEMENTS[stage];
  const actions = new Set<Enforcement>();
  if (!opts.informOnly) {
    for (const v of violations) {
      const list = v.policy?.enforcement;
      if (!list || list === 'inform') continue;
      for (const e of enforcementOf(v)) if (effective.includes(e)) actions.add(e);
    }
  }
  const enforcement = ORDER.filter((e) => actions.has(e));
  const decision: Decision = violations.length === 0 ? 'allow' : enforcement.length ? 'deny' : 'warn';
  return { violations, decision, enforcement, excepted: outcome.excepted, expiredExceptions: outcome.expired };
}

/** Enforcement names a finding carries (policy.enforcement is a comma list). */
export function enforcementOf(f: Finding): Enforcement[] {
  return (f.policy?.enforcement ?? '').split(',').filter(Boolean) as Enforcement[];
}

function toFinding(adapter: SubjectAdapter<unknown, unknown>, cp: CompiledPolicy, node: SubjectNode<unknown>, hits: FieldHit[]): Finding {
  const { policy } = cp;
  let path: FieldHit['path'];
  let notes = '';
  for (const h of hits) {
    if (!path && h.path) path = h.path;
    // Notes in order, each once (hits are few: a loop beats a Set here).
    if (h.note && !notes.split('; ').includes(h.note)) notes = notes ? `${notes}; ${h.note}` : h.note;
  }
  const data: Record<string, unknown> = {
    subject: adapter.kind,
    subjectKey: node.identity ?? node.label,
    stages: policy.stages,
    category: policy.category,
    mappings: policy.mappings,
  };
  if (path) data.field = path.join('.');
  if (node.data) for (const k in node.data) data[k] = node.data[k];
  const finding: Finding = {
    id: policy.id,
    kind: adapter.findingKind,
    severity: policy.severity,
    title: policy.name,
    detail: `${node.label}: ${notes || policy.description}`,
    resource: node.resource(path),
    policy: cp.ref,
    remediation: policy.remediation,
    references: [],
    data,
  };
  finding.fingerprint = fingerprintOf(finding);
  return finding;
}
