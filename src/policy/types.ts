/**
 * The one policy model. Policies are data (YAML packs, `apiVersion: gatehouse.dev/v1`,
 * `kind: PolicyPack`); one engine evaluates them over every subject (image, workload,
 * admission, engine-request, runtime) through registered field sets.
 */
import type { Severity } from '../findings/finding.js';

export type Stage = 'build' | 'deploy' | 'runtime';
export const STAGES: readonly Stage[] = ['build', 'deploy', 'runtime'];

/** The subjects a policy can be about; each engine registers the adapter of its own. */
export type SubjectKind = 'image' | 'workload' | 'admission' | 'engine-request' | 'runtime' | 'connection';
export const SUBJECT_KINDS: readonly SubjectKind[] = ['image', 'workload', 'admission', 'engine-request', 'runtime', 'connection'];

/**
 * One set of enforcement names across stages. `inform` only reports; `fail-build` fails a
 * CI gate; `deny-admission` rejects an AdmissionReview; `block` refuses an engine request;
 * the rest are runtime responses carried out by the response engine.
 */
export type Enforcement =
  | 'inform' | 'fail-build' | 'deny-admission' | 'block'
  | 'kill' | 'pause' | 'stop' | 'isolate' | 'scale-to-zero' | 'label';
export const ENFORCEMENTS: readonly Enforcement[] = [
  'inform', 'fail-build', 'deny-admission', 'block', 'kill', 'pause', 'stop', 'isolate', 'scale-to-zero', 'label',
];

/** Which enforcement actions take effect at each stage (the others are reported only). */
export const STAGE_ENFORCEMENTS: Record<Stage, readonly Enforcement[]> = {
  build: ['fail-build'],
  deploy: ['deny-admission'],
  runtime: ['block', 'kill', 'pause', 'stop', 'isolate', 'scale-to-zero', 'label'],
};

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'; values?: string[] }[];
}

/** Where a policy applies. Each subject declares which of these keys it understands. */
export interface PolicyScope {
  clusters?: string[];
  /** Namespace globs the policy applies to (default: all). */
  namespaces?: string[];
  excludeNamespaces?: string[];
  /** Object kinds the policy applies to (default: any object its fields understand). */
  kinds?: string[];
  labelSelector?: LabelSelector;
  /** Image globs (`*` stays within a path segment, `**` crosses them). */
  images?: string[];
  /** Engine-request actions (`container.create`, `container.*`, `*`). */
  actions?: string[];
}
export type ScopeKey = keyof PolicyScope;
export const SCOPE_KEYS: readonly ScopeKey[] = ['clusters', 'namespaces', 'excludeNamespaces', 'kinds', 'labelSelector', 'images', 'actions'];

export type Operator =
  | 'exists' | 'absent'
  | 'equals' | 'notEquals'
  | 'in' | 'notIn'
  | 'matches' | 'notMatches'
  | 'gt' | 'gte' | 'lt' | 'lte'
  | 'under';
export const OPERATORS: readonly Operator[] = [
  'exists', 'absent', 'equals', 'notEquals', 'in', 'notIn', 'matches', 'notMatches', 'gt', 'gte', 'lt', 'lte', 'under',
];

/** A condition over one registered field, or a combination of conditions. */
export type Criterion =
  | { field: string; op: Operator; value?: unknown }
  | { all: Criterion[] }
  | { any: Criterion[] }
  | { not: Criterion };

export interface Mappings {
  cis?: string[];
  nist?: string[];
  mitre?: string[];
}

export interface Origin {
  file: string;
  line: number;
}

export interface Policy {
  id: string;
  name: string;
  description: string;
  severity: Severity;
  subject: SubjectKind;
  stages: Stage[];
  scope: PolicyScope;
  /** Criteria describe a violation: when they hold, the policy is violated. */
  criteria: Criterion;
  enforcement: Enforcement[];
  remediation?: string;
  mappings: Mappings;
  enabled: boolean;
  /** Free-form grouping ("pss-baseline", "least-privilege", …) used by --pss and filters. */
  category?: string;
  /** Where the policy was defined (pack file + line), for messages. */
  origin?: Origin;
}

/**
 * The one suppression model: a policy exception, a .trivyignore line and a VEX statement
 * all load into this. It covers findings whose id (policy id, CVE, rule) matches `policy`
 * and whose resource matches every other key given.
 */
export interface PolicyException {
  /** Policy or finding id glob ('*' for all). */
  policy: string;
  namespace?: string;
  /** Workload as NAME or KIND/NAME (globs allowed). */
  workload?: string;
  image?: string;
  container?: string;
  /** Package name (or purl) of a vulnerability finding. */
  package?: string;
  /**
   * Package URLs (version and qualifiers optional: `pkg:deb/debian/openssl` covers every
   * version); the finding's purl must match one. Ignore-file `purls` and VEX products.
   */
  purls?: string[];
  /** File path glob of a secret or file finding. */
  path?: string;
  owner: string;
  reason: string;
  /** ISO date or timestamp after which the exception no longer applies; none = no expiry (VEX only). */
  expires?: string;
  /** Where it came from: a pack, an ignore file, a VEX document. */
  source?: 'policy' | 'ignorefile' | 'vex';
  origin?: Origin;
}
