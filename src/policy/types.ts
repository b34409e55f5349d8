/**
 * The one policy model. Policies are data (YAML packs); the same model is meant to drive
 * posture checks now and admission, the engine proxy and runtime later.
 */
import type { Severity } from '../findings/finding.js';

export type Stage = 'build' | 'deploy' | 'runtime';
export const STAGES: readonly Stage[] = ['build', 'deploy', 'runtime'];

export type Enforcement = 'inform' | 'fail-build' | 'deny-admission' | 'block' | 'kill' | 'isolate';
export const ENFORCEMENTS: readonly Enforcement[] = ['inform', 'fail-build', 'deny-admission', 'block', 'kill', 'isolate'];

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'; values?: string[] }[];
}

export interface PolicyScope {
  clusters?: string[];
  /** Namespace globs the policy applies to (default: all). */
  namespaces?: string[];
  excludeNamespaces?: string[];
  /** Object kinds the policy applies to (default: any object its fields understand). */
  kinds?: string[];
  labelSelector?: LabelSelector;
  /** Image globs: container-level policies apply only to matching images. */
  images?: string[];
}

export type Operator =
  | 'exists' | 'absent'
  | 'equals' | 'notEquals'
  | 'in' | 'notIn'
  | 'matches' | 'notMatches'
  | 'gt' | 'gte' | 'lt' | 'lte';
export const OPERATORS: readonly Operator[] = [
  'exists', 'absent', 'equals', 'notEquals', 'in', 'notIn', 'matches', 'notMatches', 'gt', 'gte', 'lt', 'lte',
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

export interface Policy {
  id: string;
  name: string;
  description: string;
  severity: Severity;
  stages: Stage[];
  scope: PolicyScope;
  /** Criteria describe a violation: when they hold, the policy is violated. */
  criteria: Criterion;
  enforcement: Enforcement[];
  remediation?: string;
  mappings: Mappings;
  enabled: boolean;
  /** Free-form grouping ("pss", "least-privilege", "cluster", …) used by --pss and filters. */
  category?: string;
  /** Where the policy was defined (pack file + line), for messages. */
  origin?: { file: string; line: number };
}

export interface PolicyException {
  /** Policy id or '*' for all. */
  policy: string;
  namespace?: string;
  /** Workload as NAME or KIND/NAME (globs allowed). */
  workload?: string;
  image?: string;
  container?: string;
  owner: string;
  reason: string;
  /** ISO date (YYYY-MM-DD or full timestamp); the exception stops applying after it. */
  expires: string;
  origin?: { file: string; line: number };
}
