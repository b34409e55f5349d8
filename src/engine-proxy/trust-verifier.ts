/**
 * The proxy's ImageVerifier backed by a Gatehouse trust policy (src/trust/): an image is
 * "signed" when the policy allows it (required signatures verified, or exempt). Images
 * that are not registry references (local ids, unnamed) are judged by the policy's default.
 */
import { parseReference } from '../image/reference.js';
import { evaluateTrustPolicy } from '../trust/evaluate.js';
import type { TrustPolicy } from '../trust/policy.js';
import { RegistryStore } from '../trust/registry-write.js';
import { describeError } from '../util/errors.js';
import type { ImageVerifier } from './proxy.js';

export function trustPolicyVerifier(policy: TrustPolicy, opts: { insecure?: boolean; authFile?: string } = {}): ImageVerifier {
  return {
    async verify(imageRef) {
      let ref;
      try {
        ref = parseReference(imageRef);
      } catch (e) {
        return { signed: policy.default === 'exempt', detail: `not a registry reference (${describeError(e)})` };
      }
      if (ref.transport !== 'docker') return { signed: policy.default === 'exempt', detail: 'not a registry reference' };
      const store = new RegistryStore(ref.registry, { insecure: opts.insecure, authFile: opts.authFile });
      try {
        const { decision } = await evaluateTrustPolicy(policy, ref, store);
        return { signed: decision.allowed, detail: decision.reason };
      } catch (e) {
        // Fail closed: no evidence (registry down, image missing) is not a signature.
        return { signed: false, detail: describeError(e) };
      } finally {
        await store.close();
      }
    },
  };
}
