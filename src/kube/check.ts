/**
 * `k8s check` as a library: load the deploy pack (+ user policies and exceptions), evaluate
 * the objects through the one policy engine, apply exceptions. The CLI only parses flags
 * and prints.
 */
import type { Finding } from '../findings/finding.js';
import { evaluate } from '../policy/evaluate.js';
import { compilePolicySet } from '../policy/evaluate.js';
import { loadPacks, resolvePackInput, type PackSource } from '../policy/pack.js';
import type { SubjectRegistry } from '../policy/subject.js';
import type { Policy, PolicyException } from '../policy/types.js';
import type { LoadNote, ManifestObject } from './manifests.js';
import { PSS_LATEST_MINOR, type PssPolicy } from './pss/evaluate.js';

export interface CheckOptions {
  /** Subjects known to the process (src/subjects). */
  subjects: SubjectRegistry;
  /** User policy/exception files, directories or built-in pack names. */
  policyPaths?: string[];
  /** Run only the Pod Security Standards checks of this level/version (plus user policies). */
  pss?: PssPolicy;
  /** Skip the built-in deploy pack. */
  noDefaults?: boolean;
  /** Cluster name for policy scopes (live mode). */
  cluster?: string;
  now?: Date;
}

export interface CheckResult {
  findings: Finding[];
  excepted: { finding: Finding; exception: PolicyException }[];
  expiredExceptions: PolicyException[];
  notes: LoadNote[];
  objectsChecked: number;
  policiesRun: number;
}

export async function selectPolicies(opts: CheckOptions): Promise<{ policies: Policy[]; exceptions: PolicyException[] }> {
  const sources: PackSource[] = (opts.policyPaths ?? []).map(resolvePackInput);
  if (!opts.noDefaults) sources.unshift(resolvePackInput('deploy'));
  const { policies: all, exceptions, userIds } = await loadPacks(sources, opts.subjects);
  const policies = all.filter((p) => p.subject === 'workload');
  // Without --pss, only the baseline PSS policies run: the restricted ones overlap with the
  // least-privilege policies, which report per container.
  let selected = policies.filter((p) => p.category !== 'pss-restricted');
  if (opts.pss) {
    const wanted = new Set(['pss-baseline', ...(opts.pss.level === 'restricted' ? ['pss-restricted'] : [])]);
    selected = policies.filter((p) => (p.category !== undefined && wanted.has(p.category)) || (userIds.has(p.id) && !p.category?.startsWith('pss-')));
  }
  return { policies: selected, exceptions };
}

export async function checkObjects(objects: readonly ManifestObject[], notes: LoadNote[], opts: CheckOptions): Promise<CheckResult> {
  const { policies, exceptions } = await selectPolicies(opts);
  const pss = opts.pss ?? { level: 'baseline', minor: PSS_LATEST_MINOR };
  const set = compilePolicySet(policies, opts.subjects, { exceptions });
  const verdict = evaluate({ kind: 'workload', value: { objects, settings: { pss }, cluster: opts.cluster } }, set, { stage: 'deploy', now: opts.now });
  return {
    findings: verdict.violations,
    excepted: verdict.excepted,
    expiredExceptions: verdict.expiredExceptions,
    notes,
    objectsChecked: objects.length,
    policiesRun: policies.filter((p) => p.enabled).length,
  };
}
