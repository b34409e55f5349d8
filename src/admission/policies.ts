/**
 * The policies `gatehouse admission serve` enforces.
 *
 *  - With --policy: the packs given, as written (deny-admission denies, inform warns).
 *  - Without: the built-in `deploy` pack under the webhook's overlay, plus the built-in
 *    admission pack (policies/admission.yaml: exec into protected namespaces, sensitive
 *    workload placement, break-glass). The overlay is applied here, not in the shared pack
 *    file, so `k8s check` reads the deploy pack unchanged: Pod Security Standards baseline
 *    policies (category `pss-baseline`) keep deny-admission; every other deploy policy is
 *    inform (a warning); the restricted PSS policies are left out, as `k8s check` does
 *    without --pss (they repeat the least-privilege ones); and policies that judge an object
 *    against other objects (NetworkPolicies, ServiceAccounts, Services…) are left out,
 *    because a review carries one object and they would fire on every request.
 */
import { join } from 'node:path';
import { defaultPackDir } from '../policy/builtin.js';
import { fieldsOf } from '../policy/criteria.js';
import { loadPacks, resolvePackInput, type PackSource } from '../policy/pack.js';
import type { SubjectRegistry } from '../policy/subject.js';
import type { Criterion, Policy, PolicyException } from '../policy/types.js';

/** Workload fields that read other objects of the cluster (the object index), not the one reviewed. */
const CROSS_OBJECT_FIELDS = new Set([
  'pod.networkPolicyCount', 'pod.serviceAccount.missing', 'pod.automountServiceAccountToken',
  'service.danglingSelector', 'service.invalidTargetPort', 'networkpolicy.dangling', 'networkpolicy.danglingPeer',
  'ingress.danglingBackend', 'hpa.danglingTarget', 'pdb.minAvailableBlocksEviction',
  'namespace.resourceQuotas', 'namespace.limitRanges',
]);

/** The category whose violations the webhook denies by default. */
export const DEFAULT_DENY_CATEGORY = 'pss-baseline';
/** The category of policies whose match lets a request through (break-glass). */
export const BREAK_GLASS_CATEGORY = 'break-glass';

export interface AdmissionPolicies {
  policies: Policy[];
  exceptions: PolicyException[];
  /** What was loaded, for the start-up log line. */
  sources: string[];
}

/** The built-in admission pack's file. */
export function admissionPackPath(): string {
  return join(defaultPackDir(), 'admission.yaml');
}

/** The deploy pack as the webhook enforces it by default (see the file comment). */
export function webhookOverlay(policy: Policy): Policy | undefined {
  if (policy.subject !== 'workload') return policy;
  if (policy.category === 'pss-restricted') return undefined;
  if (fieldsOf(policy.criteria).some((f) => CROSS_OBJECT_FIELDS.has(f))) return undefined;
  if (policy.category === DEFAULT_DENY_CATEGORY) return { ...policy, enforcement: policy.enforcement.includes('deny-admission') ? policy.enforcement : [...policy.enforcement, 'deny-admission'] };
  return { ...policy, enforcement: ['inform'] };
}

/** Policies for the webhook: the packs of --policy, or the defaults under the overlay. */
export async function loadAdmissionPolicies(packs: readonly string[], subjects: SubjectRegistry): Promise<AdmissionPolicies> {
  if (packs.length) {
    const sources: PackSource[] = packs.map(resolvePackInput);
    const { policies, exceptions } = await loadPacks(sources, subjects);
    return { policies: policies.filter(forWebhook), exceptions, sources: [...packs] };
  }
  const { policies, exceptions } = await loadPacks([resolvePackInput('deploy'), { input: admissionPackPath(), builtin: true }], subjects);
  const overlaid = policies.map(webhookOverlay).filter((p): p is Policy => p !== undefined);
  return { policies: overlaid.filter(forWebhook), exceptions, sources: ['deploy (PSS baseline denies, the rest warns)', 'admission'] };
}

/** Only deploy-stage policies about a request or its object mean anything at admission. */
const forWebhook = (p: Policy): boolean => (p.subject === 'admission' || p.subject === 'workload') && p.stages.includes('deploy');

/**
 * The annotation keys break-glass policies name: the values of their `object.annotations`
 * conditions. The webhook reads the ticket from the annotation's value.
 */
export function breakGlassAnnotations(policies: readonly Policy[]): string[] {
  const keys = new Set<string>();
  const walk = (c: Criterion): void => {
    if ('all' in c) c.all.forEach(walk);
    else if ('any' in c) c.any.forEach(walk);
    else if ('not' in c) walk(c.not);
    else if (c.field === 'object.annotations') for (const v of Array.isArray(c.value) ? c.value : [c.value]) if (typeof v === 'string') keys.add(v);
  };
  for (const p of policies) if (p.enabled && p.category === BREAK_GLASS_CATEGORY) walk(p.criteria);
  return [...keys];
}
