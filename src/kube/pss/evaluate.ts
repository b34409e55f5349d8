/** Runs the Pod Security Standards checks that apply at a level and policy version. */
import { UserError } from '../../util/errors.js';
import { PSS_CHECKS, type PssCheck, type PssLevel, type PssPod, type PssViolation, type VersionedCheck } from './checks.js';

/** Newest policy version this implementation knows (1.x minor). */
export const PSS_LATEST_MINOR = 37;

export interface PssPolicy {
  level: PssLevel;
  /** Minor version of 1.x; 'latest' resolves to PSS_LATEST_MINOR. */
  minor: number;
}

export interface PssResult extends PssViolation {
  checkId: string;
  level: PssLevel;
}

/** Parses `baseline`, `restricted`, `restricted:v1.30`, `baseline:latest`. */
export function parsePssPolicy(text: string): PssPolicy {
  const m = /^(baseline|restricted|privileged)(?::(latest|v?1\.(\d+)))?$/.exec(text.trim());
  if (!m) throw new UserError(`invalid --pss value "${text}" (expected baseline|restricted[:v1.NN|:latest])`, 'bad-option');
  if (m[1] === 'privileged') throw new UserError('--pss privileged admits everything; use baseline or restricted', 'bad-option');
  const minor = m[3] === undefined ? PSS_LATEST_MINOR : Number(m[3]);
  // Versions newer than this implementation evaluate as latest, as Kubernetes does.
  return { level: m[1] as PssLevel, minor: Math.min(minor, PSS_LATEST_MINOR) };
}

function variantAt(check: PssCheck, minor: number): VersionedCheck | undefined {
  let chosen: VersionedCheck | undefined;
  for (const v of check.versions) if (v.minVersion <= minor && (!chosen || v.minVersion >= chosen.minVersion)) chosen = v;
  return chosen;
}

type Plan = { check: PssCheck; variant: VersionedCheck }[] & { byId: Map<string, { check: PssCheck; variant: VersionedCheck }> };
const planCache = new Map<string, Plan>();

/** The checks (with their version variant) that make up a level at a version. */
export function checksFor(policy: PssPolicy): Plan {
  const key = `${policy.level}:${policy.minor}`;
  const cached = planCache.get(key);
  if (cached) return cached;
  const applicable = PSS_CHECKS.filter((c) => c.level === 'baseline' || policy.level === 'restricted')
    .map((check) => ({ check, variant: variantAt(check, policy.minor) }))
    .filter((x): x is { check: PssCheck; variant: VersionedCheck } => x.variant !== undefined);
  const overridden = new Set(applicable.flatMap((x) => x.variant.overrides ?? []));
  const plan = applicable.filter((x) => !overridden.has(x.check.id)) as Plan;
  plan.byId = new Map(plan.map((x) => [x.check.id, x]));
  planCache.set(key, plan);
  return plan;
}

export function evaluatePss(pod: PssPod, policy: PssPolicy): PssResult[] {
  const out: PssResult[] = [];
  for (const { check, variant } of checksFor(policy)) {
    const v = variant.check(pod);
    if (v) out.push({ ...v, checkId: check.id, level: check.level });
  }
  return out;
}
