/**
 * The signature check before a container is recreated from its image: the trust engine's
 * decision, as `image verify` makes it (a trust policy, or a list of trusted keys), with the
 * digest it verified so the new container runs exactly that image.
 */
import { parseReference, type RegistryReference } from '../image/reference.js';
import { evaluateTrustPolicy } from '../trust/evaluate.js';
import { resolveTarget } from '../trust/image-target.js';
import type { TrustPolicy } from '../trust/policy.js';
import { RegistryStore } from '../trust/registry-write.js';
import { failureReason, verifyImageSignatures, type TrustedKey } from '../trust/verify.js';
import { describeError } from '../util/errors.js';

export interface ImageTrustDecision {
  allowed: boolean;
  reason: string;
  /** The registry reference checked (`registry/repo`) and the digest whose signature verified. */
  repository?: string;
  digest?: string;
}

export type ImageTrustCheck = (imageRef: string) => Promise<ImageTrustDecision>;

export interface RegistryAccess {
  insecure?: boolean;
  authFile?: string;
}

/** Same decision as `image verify --policy FILE`. Fails closed: no evidence is no signature. */
export function trustPolicyCheck(policy: TrustPolicy, access: RegistryAccess = {}): ImageTrustCheck {
  return (imageRef) =>
    withStore(imageRef, access, async (ref, store) => {
      const { decision, evidence } = await evaluateTrustPolicy(policy, ref, store);
      return { allowed: decision.allowed, reason: decision.reason, repository: `${ref.registry}/${ref.repository}`, ...(evidence?.digest ? { digest: evidence.digest } : {}) };
    });
}

/** Same decision as `image verify --key PUB…`: one valid signature by any of the keys. */
export function trustedKeysCheck(keys: TrustedKey[], access: RegistryAccess = {}): ImageTrustCheck {
  return (imageRef) =>
    withStore(imageRef, access, async (ref, store) => {
      const target = await resolveTarget(store, ref);
      const evidence = await verifyImageSignatures(store, target, keys);
      const ok = evidence.verified.length > 0;
      return { allowed: ok, reason: ok ? `${evidence.verified.length} valid signature(s)` : failureReason(evidence), repository: `${ref.registry}/${ref.repository}`, digest: evidence.digest };
    });
}

async function withStore(
  imageRef: string,
  access: RegistryAccess,
  fn: (ref: RegistryReference, store: RegistryStore) => Promise<ImageTrustDecision>,
): Promise<ImageTrustDecision> {
  let ref;
  try {
    ref = parseReference(imageRef);
  } catch (e) {
    return { allowed: false, reason: `not a registry reference (${describeError(e)})` };
  }
  if (ref.transport !== 'docker') return { allowed: false, reason: `${imageRef} is not a registry reference: its signature cannot be checked` };
  const store = new RegistryStore(ref.registry, { insecure: access.insecure, authFile: access.authFile });
  try {
    return await fn(ref, store);
  } catch (e) {
    return { allowed: false, reason: describeError(e) };
  } finally {
    await store.close();
  }
}
