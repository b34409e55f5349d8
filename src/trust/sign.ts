/** Signing an image digest the way `cosign sign --key` does (legacy `.sig` tag storage). */
import { createHash, sign as cryptoSign, type KeyObject } from 'node:crypto';
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
): Promise<SignResult> {
  const dockerReference = cosignDockerReference(target.ref.registry, target.ref.repository);
  const payload = simpleSigningPayload(dockerReference, target.digest, annotations);
  const signature = signPayload(key, payload);
  const stored = await appendSignature(store, target.ref.repository, target.digest, payload, signature);
  return {
    digest: target.digest,
    dockerReference,
    signatureTag: stored.tag,
    signatureManifestDigest: stored.manifestDigest,
    signatureCount: stored.count,
  };
}
