/**
 * Signing an image digest the way `cosign sign --key` does: legacy `.sig` tag storage, and
 * with `bundle` also the sigstore bundle as an OCI referrer (cosign v3's default).
 */
import { createHash, createPublicKey, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { buildBundle } from './bundle.js';
import { pushBundleReferrer, type StoredReferrer } from './referrers.js';
import { appendSignature } from './signature-tag.js';
import { cosignDockerReference, simpleSigningPayload } from './simple-signing.js';
import type { RegistryStore } from './registry-write.js';
import type { SignTarget } from './image-target.js';

export interface SignResult {
  digest: string;
  dockerReference: string;
  signatureTag: string;
  signatureManifestDigest: string;
  /** Signatures now stored for this digest, the new one included. */
  signatureCount: number;
  /** With `bundle`: the sigstore bundle stored as an OCI referrer of the image. */
  bundle?: StoredReferrer;
}

/** ECDSA P-256 over SHA-256, ASN.1 DER, base64: the encoding cosign stores and verifies. */
export function signPayload(key: KeyObject, payload: Buffer): string {
  return cryptoSign('sha256', payload, key).toString('base64');
}

/** A short stable name for a public key: hex SHA-256 of its PKIX DER, first 16 chars. */
export function keyId(key: KeyObject): string {
  return createHash('sha256').update(key.export({ format: 'der', type: 'spki' })).digest('hex').slice(0, 16);
}

export async function signImage(
  store: RegistryStore,
  target: SignTarget,
  key: KeyObject,
  annotations?: Record<string, string>,
  opts: { bundle?: boolean } = {},
): Promise<SignResult> {
  const dockerReference = cosignDockerReference(target.ref.registry, target.ref.repository);
  const payload = simpleSigningPayload(dockerReference, target.digest, annotations);
  const signature = signPayload(key, payload);
  const stored = await appendSignature(store, target.ref.repository, target.digest, payload, signature);
  const result: SignResult = {
    digest: target.digest,
    dockerReference,
    signatureTag: stored.tag,
    signatureManifestDigest: stored.manifestDigest,
    signatureCount: stored.count,
  };
  if (opts.bundle) {
    const bundle = buildBundle(key, createPublicKey(key), target.digest, annotations);
    result.bundle = await pushBundleReferrer(store, target.ref.repository, target.digest, bundle);
  }
  return result;
}
