/**
 * Verifying an image's signatures against trusted public keys. A signature counts only
 * when every check passes: the signature verifies over the exact payload bytes with a
 * trusted key, the payload is a simple-signing claim naming this image's digest and this
 * repository, and it carries the required annotations. Anything else is recorded as
 * rejected with its reason, so a failure can say why.
 */
import { verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { isUserError, describeError, UserError } from '../util/errors.js';
import { strictBase64 } from './cosign-key-format.js';
import type { SignTarget } from './image-target.js';
import type { RegistryStore } from './registry-write.js';
import { readSignatureManifest, SIGNATURE_ANNOTATION, signatureTag } from './signature-tag.js';
import { cosignDockerReference, parseSimpleSigningPayload, SIMPLE_SIGNING_MEDIA_TYPE } from './simple-signing.js';
import { checkBundle } from './bundle.js';
import { findBundles } from './referrers.js';

export interface TrustedKey {
  /** Name shown in reports (file path or the policy's key name). */
  name: string;
  key: KeyObject;
}

export interface VerifiedSignature {
  /** Names of the trusted keys this signature verifies with. */
  keys: string[];
  /** Where it was found, e.g. `sha256-….sig` layer sha256:…. */
  source: string;
  /** cosign's legacy simple-signing payload, or a sigstore bundle (DSSE in-toto statement). */
  format: 'simple-signing' | 'sigstore-bundle';
  dockerReference: string;
  digest: string;
  annotations: Record<string, unknown> | null;
}

export interface RejectedSignature {
  source: string;
  reason: string;
}

export interface SignatureEvidence {
  reference: string;
  digest: string;
  verified: VerifiedSignature[];
  rejected: RejectedSignature[];
}

export interface VerifyOptions {
  /** Payload annotations every accepted signature must carry, with these exact values. */
  annotations?: Record<string, string>;
}

/** Checks one DER/base64 ECDSA signature over `payload`; false (never a throw) for garbage. */
export function signatureVerifies(key: KeyObject, payload: Buffer, signature: Buffer): boolean {
  try {
    return cryptoVerify('sha256', payload, key, signature);
  } catch {
    return false;
  }
}

/** Checks one signature candidate; returns the verified claim or the reason it is rejected. */
export function checkSignature(
  payload: Buffer,
  signatureB64: unknown,
  keys: TrustedKey[],
  expect: { digest: string; dockerReference: string; annotations?: Record<string, string> },
): { ok: true; keys: string[]; claims: ReturnType<typeof parseSimpleSigningPayload> } | { ok: false; reason: string } {
  let signature: Buffer;
  try {
    if (typeof signatureB64 !== 'string' || signatureB64 === '') return { ok: false, reason: 'no signature annotation' };
    signature = strictBase64(signatureB64, 'signature');
  } catch (e) {
    return { ok: false, reason: describeError(e) };
  }
  const matching = keys.filter((k) => signatureVerifies(k.key, payload, signature)).map((k) => k.name);
  if (matching.length === 0) return { ok: false, reason: 'signature does not verify with the trusted key(s) (wrong key or tampered payload)' };
  let claims;
  try {
    claims = parseSimpleSigningPayload(payload);
  } catch (e) {
    return { ok: false, reason: describeError(e) };
  }
  if (claims.manifestDigest !== expect.digest) {
    return { ok: false, reason: `payload names digest ${claims.manifestDigest}, not the image's ${expect.digest}` };
  }
  if (claims.dockerReference !== expect.dockerReference) {
    return { ok: false, reason: `payload signs repository ${claims.dockerReference}, not ${expect.dockerReference}` };
  }
  for (const [k, v] of Object.entries(expect.annotations ?? {})) {
    const got = claims.annotations?.[k];
    if (got !== v) {
      return { ok: false, reason: got === undefined ? `annotation ${k} missing` : `annotation ${k}=${String(got)}, required ${v}` };
    }
  }
  return { ok: true, keys: matching, claims };
}

/** Collects and checks every signature of the target: legacy `.sig` tag and sigstore bundles. */
export async function verifyImageSignatures(
  store: RegistryStore,
  target: SignTarget,
  keys: TrustedKey[],
  opts: VerifyOptions = {},
): Promise<SignatureEvidence> {
  if (keys.length === 0) throw new UserError('no trusted keys given', 'no-keys');
  const { ref, digest } = target;
  const dockerReference = cosignDockerReference(ref.registry, ref.repository);
  const evidence: SignatureEvidence = { reference: `${dockerReference}@${digest}`, digest, verified: [], rejected: [] };
  const tag = signatureTag(digest);
  const manifest = await readSignatureManifest(store, ref.repository, digest);
  for (const layer of manifest?.layers ?? []) {
    const source = `${tag} layer ${layer.digest}`;
    if (layer.mediaType !== SIMPLE_SIGNING_MEDIA_TYPE) {
      evidence.rejected.push({ source, reason: `foreign layer media type "${layer.mediaType}" (expected ${SIMPLE_SIGNING_MEDIA_TYPE})` });
      continue;
    }
    let payload: Buffer;
    try {
      payload = await store.readBlob(ref.repository, layer, 1024 * 1024);
    } catch (e) {
      // A payload the registry cannot serve intact is no evidence; say why and go on.
      if (!isUserError(e)) throw e;
      evidence.rejected.push({ source, reason: `payload unavailable: ${e.message}` });
      continue;
    }
    const result = checkSignature(payload, layer.annotations?.[SIGNATURE_ANNOTATION], keys, { digest, dockerReference, annotations: opts.annotations });
    if (result.ok) {
      evidence.verified.push({ keys: result.keys, source, format: 'simple-signing', dockerReference, digest, annotations: result.claims.annotations });
    } else {
      evidence.rejected.push({ source, reason: result.reason });
    }
  }
  for (const candidate of await findBundles(store, ref.repository, digest)) {
    if ('reason' in candidate) {
      evidence.rejected.push(candidate);
      continue;
    }
    const result = checkBundle(candidate.bytes, keys, { digest, annotations: opts.annotations });
    // A bundle names no repository: the referrer's place (this repository) stands for it.
    if (result.ok) evidence.verified.push({ keys: result.keys, source: candidate.source, format: 'sigstore-bundle', dockerReference, digest, annotations: result.annotations });
    else evidence.rejected.push({ source: candidate.source, reason: result.reason });
  }
  return evidence;
}

/** One line explaining why no signature was accepted. */
export function failureReason(evidence: SignatureEvidence): string {
  if (evidence.verified.length > 0) return '';
  if (evidence.rejected.length === 0) return `no signatures found for ${evidence.reference}`;
  const reasons = [...new Set(evidence.rejected.map((r) => r.reason))];
  return `no valid signature for ${evidence.reference}: ${reasons.join('; ')}`;
}
