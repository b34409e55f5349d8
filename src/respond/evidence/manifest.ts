/**
 * The bundle's manifest and its signature. The manifest lists every part (a relative path
 * inside the bundle, its sha256 and size); the signature is a sigstore bundle made by the
 * trust engine (`buildBundle`, DSSE over an in-toto statement as `cosign sign` writes it)
 * whose subject is the sha256 of the manifest's exact bytes, annotated as evidence of this
 * container. Verifying it is `checkBundle` with the same digest.
 */
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { buildBundle, checkBundle } from '../../trust/bundle.js';
import { publicKeyPem } from '../../trust/keys.js';
import { keyId } from '../../trust/sign.js';

export const EVIDENCE_SCHEMA = 'gatehouse.dev/evidence/v1';
export const MANIFEST_FILE = 'manifest.json';
export const SIGNATURE_FILE = 'manifest.sig.json';
export const SIGNER_KEY_FILE = 'signer.pub';
/** Annotation on the signed statement's subject: what the digest is. */
export const EVIDENCE_ANNOTATION = 'dev.gatehouse.evidence/container';

export interface ManifestPart {
  /** Relative path inside the bundle (`inspect.json`, `files/<sha256>`). */
  path: string;
  sha256: string;
  size: number;
  /** What the part holds. */
  kind: 'inspect' | 'processes' | 'events' | 'logs' | 'network' | 'changes' | 'file' | 'notes';
  /** For `file` parts: the path inside the container it was copied from. */
  source?: string;
}

export interface EvidenceManifest {
  schema: typeof EVIDENCE_SCHEMA;
  createdAt: string;
  collector: { name: 'gatehouse'; version: string; host: string };
  engine: string;
  container: { id: string; name?: string; image?: string; imageId?: string; pid?: number; status?: string };
  /** A Kubernetes pod's bundle (collect-pod.ts): `container.id` is then the pod's uid, which the signature binds. */
  pod?: { cluster: string; namespace: string; name: string; uid: string; node?: string };
  incident?: EvidenceIncident;
  limits: EvidenceLimits;
  /** Parts that could not be captured, and why. */
  unavailable: Array<{ part: string; reason: string }>;
  parts: ManifestPart[];
}

export interface EvidenceIncident {
  id?: string;
  /** What triggered the capture (a rule, a policy id, `manual`). */
  trigger?: string;
  policy?: string;
  reason?: string;
}

export interface EvidenceLimits {
  /** Changed files up to this size are copied into the bundle; bigger ones are only hashed. */
  copyFileBytes: number;
  /** All copied files together stay under this; past it files are only hashed. */
  totalCopyBytes: number;
  /** Files bigger than this are neither copied nor hashed. */
  hashFileBytes: number;
  /** At most this many changed files are read through the archive endpoint. */
  maxFiles: number;
  /** Log lines asked of the engine (tail). */
  logTailLines: number;
  /** Log bytes kept. */
  logBytes: number;
}

export const DEFAULT_LIMITS: EvidenceLimits = {
  copyFileBytes: 1 << 20,
  totalCopyBytes: 64 << 20,
  hashFileBytes: 512 << 20,
  maxFiles: 1000,
  logTailLines: 1000,
  logBytes: 1 << 20,
};

export function sha256Hex(bytes: Buffer | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export function signManifest(manifestBytes: Buffer, privateKey: KeyObject, containerId: string): { signature: Buffer; publicPem: string; keyId: string } {
  const publicKey = createPublicKey(privateKey);
  const signature = buildBundle(privateKey, publicKey, `sha256:${sha256Hex(manifestBytes)}`, { [EVIDENCE_ANNOTATION]: containerId });
  return { signature, publicPem: publicKeyPem(publicKey), keyId: keyId(publicKey) };
}

export function checkManifestSignature(manifestBytes: Buffer, signature: Buffer, publicKey: KeyObject, containerId: string): { ok: true } | { ok: false; reason: string } {
  const r = checkBundle(signature, [{ name: keyId(publicKey), key: publicKey }], {
    digest: `sha256:${sha256Hex(manifestBytes)}`,
    annotations: { [EVIDENCE_ANNOTATION]: containerId },
  });
  return r.ok ? { ok: true } : { ok: false, reason: r.reason };
}
