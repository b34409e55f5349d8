/**
 * `k8s check` as a library: load manifests, load the policy pack (+ user policies and
 * exceptions), evaluate, apply exceptions. The CLI only parses flags and prints.
 */
import type { Finding } from '../findings/finding.js';
import { applyExceptions } from '../policy/exceptions.js';
import { evaluatePolicies } from '../policy/evaluator.js';
import { loadPolicies } from '../policy/loader.js';
import type { Policy, PolicyException } from '../policy/types.js';
import { registerKubeFields } from './fields/index.js';
import type { LoadNote, ManifestObject } from './manifests.js';
import { PSS_LATEST_MINOR, type PssPolicy } from './pss/evaluate.js';

export interface CheckOptions {
  /** User policy/exception files or directories. */
  policyPaths?: string[];
  /** Run only the Pod Security Standards checks of this level/version (plus user policies). */
  pss?: PssPolicy;
  /** Skip the default pack entirely. */
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
  registerKubeFields();
  const userPaths = opts.policyPaths ?? [];
  const { policies, exceptions, userIds } = await loadPolicies(userPaths, { noDefaults: opts.noDefaults });
  // Without --pss, only the baseline PSS policies run: the restricted ones overlap with the
  // least-privilege policies, which report per container.
  let selected = policies.filter((p) => p.category !== 'pss-restricted');
  if (opts.pss) {
    const wanted = new Set(['pss-baseline', ...(opts.pss.level === 'restricted' ? ['pss-restricted'] : [])]);
    selected = policies.filter((p) => (p.category !== undefined && wanted.has(p.category)) || (userIds.has(p.id) && !p.category?.startsWith('pss-')));
  }
  return { policies: selected, exceptions };
}

export async function checkObjects(objects: readonly ManifestObject[], notes: LoadNote[], opts: CheckOptions = {}): Promise<CheckResult> {
  const { policies, exceptions } = await selectPolicies(opts);
  const pss = opts.pss ?? { level: 'baseline', minor: PSS_LATEST_MINOR };
  const raw = evaluatePolicies(objects, policies, {
    settings: { pss },
    cluster: opts.cluster,
  });
  const outcome = applyExceptions(raw, exceptions, opts.now);
  return {
    findings: outcome.remaining,
    excepted: outcome.excepted,
    expiredExceptions: outcome.expired,
    notes,
    objectsChecked: objects.length,
    policiesRun: policies.filter((p) => p.enabled).length,
  };
}
