/**
 * cosign's "simple signing" payload (sigstore/pkg/signature/payload.Cosign): the bytes a
 * key signs, naming the image by repository and manifest digest, plus optional annotations.
 */
import { UserError } from '../util/errors.js';
import { goJsonString, goJsonStringMap } from './go-json.js';

export const SIMPLE_SIGNING_TYPE = 'cosign container image signature';
export const SIMPLE_SIGNING_MEDIA_TYPE = 'application/vnd.dev.cosign.simplesigning.v1+json';

export interface SimpleSigningClaims {
  /** registry/repository as cosign writes it (index.docker.io/… for Docker Hub). */
  dockerReference: string;
  /** sha256:… digest of the signed manifest. */
  manifestDigest: string;
  /** The payload's "optional" map; cosign's -a annotations. */
  annotations: Record<string, unknown> | null;
}

/**
 * The payload bytes exactly as cosign marshals them: field set and order
 * critical{identity{docker-reference}, image{docker-manifest-digest}, type}, optional.
 */
export function simpleSigningPayload(dockerReference: string, manifestDigest: string, annotations?: Record<string, string>): Buffer {
  const optional = annotations && Object.keys(annotations).length > 0 ? annotations : null;
  const text =
    `{"critical":{"identity":{"docker-reference":${goJsonString(dockerReference)}},` +
    `"image":{"docker-manifest-digest":${goJsonString(manifestDigest)}},` +
    `"type":${goJsonString(SIMPLE_SIGNING_TYPE)}},"optional":${goJsonStringMap(optional)}}`;
  return Buffer.from(text, 'utf8');
}

/** Parses and shape-checks a payload; throws a UserError describing what is wrong. */
export function parseSimpleSigningPayload(bytes: Buffer): SimpleSigningClaims {
  let doc: any;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new UserError('signature payload is not valid JSON', 'bad-payload');
  }
  const critical = doc?.critical;
  if (typeof critical !== 'object' || critical === null) throw new UserError('signature payload has no "critical" section', 'bad-payload');
  if (critical.type !== SIMPLE_SIGNING_TYPE) {
    throw new UserError(`signature payload type is "${critical.type}", expected "${SIMPLE_SIGNING_TYPE}"`, 'bad-payload');
  }
  const manifestDigest = critical.image?.['docker-manifest-digest'];
  const dockerReference = critical.identity?.['docker-reference'];
  if (typeof manifestDigest !== 'string' || typeof dockerReference !== 'string') {
    throw new UserError('signature payload lacks docker-manifest-digest or docker-reference', 'bad-payload');
  }
  const optional = doc.optional;
  if (optional !== null && optional !== undefined && (typeof optional !== 'object' || Array.isArray(optional))) {
    throw new UserError('signature payload "optional" is not an object', 'bad-payload');
  }
  return { dockerReference, manifestDigest, annotations: optional ?? null };
}

/** cosign names Docker Hub repositories by go-containerregistry's registry string. */
export function cosignDockerReference(registry: string, repository: string): string {
  const host = registry === 'docker.io' ? 'index.docker.io' : registry;
  return `${host}/${repository}`;
}
