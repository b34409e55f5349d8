/**
 * The sigstore bundle cosign v3 writes by default for `cosign sign --key` (and cosign v2
 * with --new-bundle-format): a DSSE envelope whose payload is an in-toto statement about
 * the image digest (predicate type https://sigstore.dev/cosign/sign/v1, `-a` annotations on
 * the subject), signed with ECDSA over DSSE's pre-authentication encoding; the verification
 * material is only a hint naming the public key. No transparency-log entry is written or
 * required here (as `cosign verify --insecure-ignore-tlog`): there is no Rekor to ask.
 * Unlike the simple-signing payload the statement names no repository, so a bundle binds
 * the image content (digest) only.
 */
import { createHash, type KeyObject } from 'node:crypto';
import { describeError } from '../util/errors.js';
import { strictBase64 } from './cosign-key-format.js';
import { signPayload } from './sign.js';
import { signatureVerifies, type TrustedKey } from './verify.js';

export const BUNDLE_MEDIA_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
/** Older bundle versions carry the same DSSE shape; verification accepts them too. */
const BUNDLE_MEDIA_TYPES = new Set([BUNDLE_MEDIA_TYPE, 'application/vnd.dev.sigstore.bundle+json;version=0.3', 'application/vnd.dev.sigstore.bundle+json;version=0.2', 'application/vnd.dev.sigstore.bundle+json;version=0.1']);
export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';
export const STATEMENT_TYPE = 'https://in-toto.io/Statement/v1';
export const COSIGN_SIGN_PREDICATE = 'https://sigstore.dev/cosign/sign/v1';

/** DSSE v1 pre-authentication encoding: what the signature is actually over. */
export function pae(payloadType: string, payload: Buffer): Buffer {
  const type = Buffer.from(payloadType, 'utf8');
  return Buffer.concat([Buffer.from(`DSSEv1 ${type.length} `), type, Buffer.from(` ${payload.length} `), payload]);
}

/** base64 SHA-256 of the PKIX DER public key: the hint cosign puts in the bundle. */
export function publicKeyHint(key: KeyObject): string {
  return createHash('sha256').update(key.export({ format: 'der', type: 'spki' })).digest('base64');
}

/** A signed bundle for `digest` (sha256:…), as cosign writes it. */
export function buildBundle(privateKey: KeyObject, publicKey: KeyObject, digest: string, annotations: Record<string, string> = {}): Buffer {
  const [algorithm, hex] = digest.split(':') as [string, string];
  const statement = {
    _type: STATEMENT_TYPE,
    subject: [{ digest: { [algorithm]: hex }, annotations }],
    predicateType: COSIGN_SIGN_PREDICATE,
    predicate: {},
  };
  const payload = Buffer.from(JSON.stringify(statement), 'utf8');
  const sig = signPayload(privateKey, pae(IN_TOTO_PAYLOAD_TYPE, payload));
  const bundle = {
    mediaType: BUNDLE_MEDIA_TYPE,
    verificationMaterial: { publicKey: { hint: publicKeyHint(publicKey) } },
    dsseEnvelope: { payload: payload.toString('base64'), payloadType: IN_TOTO_PAYLOAD_TYPE, signatures: [{ sig }] },
  };
  return Buffer.from(JSON.stringify(bundle), 'utf8');
}

export type BundleCheck = { ok: true; keys: string[]; annotations: Record<string, unknown> } | { ok: false; reason: string };

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Checks a bundle: DSSE signature(s) by trusted keys over the exact payload, an in-toto
 * statement with cosign's predicate whose subject names this digest, and the required
 * annotations on that subject. Returns the reason on the first failed check.
 */
export function checkBundle(bytes: Buffer, keys: TrustedKey[], expect: { digest: string; annotations?: Record<string, string> }): BundleCheck {
  let bundle: unknown;
  try {
    bundle = JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    return { ok: false, reason: `bundle is not valid JSON: ${describeError(e)}` };
  }
  if (!isObject(bundle)) return { ok: false, reason: 'bundle is not a JSON object' };
  if (typeof bundle.mediaType !== 'string' || !BUNDLE_MEDIA_TYPES.has(bundle.mediaType)) return { ok: false, reason: `unsupported bundle media type "${String(bundle.mediaType)}"` };
  const env = bundle.dsseEnvelope;
  if (!isObject(env)) return { ok: false, reason: 'bundle has no DSSE envelope (message-signature bundles are not image signatures)' };
  if (env.payloadType !== IN_TOTO_PAYLOAD_TYPE) return { ok: false, reason: `DSSE payload type "${String(env.payloadType)}" is not ${IN_TOTO_PAYLOAD_TYPE}` };
  let payload: Buffer;
  try {
    if (typeof env.payload !== 'string') throw new Error('missing');
    payload = strictBase64(env.payload, 'DSSE payload');
  } catch (e) {
    return { ok: false, reason: `DSSE payload: ${describeError(e)}` };
  }
  const sigs = Array.isArray(env.signatures) ? env.signatures : [];
  if (sigs.length === 0) return { ok: false, reason: 'DSSE envelope has no signatures' };
  const signed = pae(IN_TOTO_PAYLOAD_TYPE, payload);
  const matching = new Set<string>();
  for (const s of sigs) {
    if (!isObject(s) || typeof s.sig !== 'string') continue;
    let raw: Buffer;
    try {
      raw = strictBase64(s.sig, 'DSSE signature');
    } catch {
      continue;
    }
    for (const k of keys) if (signatureVerifies(k.key, signed, raw)) matching.add(k.name);
  }
  if (matching.size === 0) return { ok: false, reason: 'bundle signature does not verify with the trusted key(s) (wrong key or tampered statement)' };
  let statement: unknown;
  try {
    statement = JSON.parse(payload.toString('utf8'));
  } catch {
    return { ok: false, reason: 'signed statement is not valid JSON' };
  }
  if (!isObject(statement) || statement._type !== STATEMENT_TYPE) return { ok: false, reason: 'signed payload is not an in-toto v1 statement' };
  if (statement.predicateType !== COSIGN_SIGN_PREDICATE) return { ok: false, reason: `statement predicate "${String(statement.predicateType)}" is not an image signature (${COSIGN_SIGN_PREDICATE})` };
  const [algorithm, hex] = expect.digest.split(':') as [string, string];
  const subjects = Array.isArray(statement.subject) ? statement.subject.filter(isObject) : [];
  const subject = subjects.find((s) => isObject(s.digest) && s.digest[algorithm] === hex);
  if (!subject) {
    const named = subjects.map((s) => (isObject(s.digest) ? Object.entries(s.digest).map(([a, h]) => `${a}:${String(h)}`).join(',') : '?')).join(' ');
    return { ok: false, reason: `statement names ${named || 'no subject'}, not the image's ${expect.digest}` };
  }
  const annotations = isObject(subject.annotations) ? subject.annotations : {};
  for (const [k, v] of Object.entries(expect.annotations ?? {})) {
    const got = annotations[k];
    if (got !== v) return { ok: false, reason: got === undefined ? `annotation ${k} missing` : `annotation ${k}=${String(got)}, required ${v}` };
  }
  return { ok: true, keys: [...matching], annotations };
}
