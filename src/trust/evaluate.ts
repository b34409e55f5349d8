/** Applies a trust policy to one registry image: the decision `image verify --policy`, the engine proxy and admission share. */
import type { RegistryReference } from '../image/reference.js';
import { resolveTarget } from './image-target.js';
import { decide, findRule, ruleKeys, type TrustDecision, type TrustPolicy } from './policy.js';
import type { RegistryStore } from './registry-write.js';
import { verifyImageSignatures, type SignatureEvidence } from './verify.js';

export interface TrustEvaluation {
  decision: TrustDecision;
  /** Signature evidence, gathered only when the matching rule requires signatures. */
  evidence?: SignatureEvidence;
}

export async function evaluateTrustPolicy(
  policy: TrustPolicy,
  ref: RegistryReference,
  store: RegistryStore,
  extraAnnotations: Record<string, string> = {},
): Promise<TrustEvaluation> {
  const rule = findRule(policy, `${ref.registry}/${ref.repository}`);
  let evidence: SignatureEvidence | undefined;
  if (rule?.action === 'require') {
    const target = await resolveTarget(store, ref);
    evidence = await verifyImageSignatures(store, target, ruleKeys(policy, rule), {
      annotations: { ...rule.annotations, ...extraAnnotations },
    });
  }
  return { decision: decide(policy, rule, evidence), evidence };
}
