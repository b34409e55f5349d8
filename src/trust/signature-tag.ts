/**
 * cosign's "legacy" signature storage: an OCI manifest tagged `sha256-<hex>.sig` in the
 * image's repository, one layer per signature (the simple-signing payload), the signature
 * itself base64 in the layer annotation `dev.cosignproject.cosign/signature`.
 */
import { MediaTypes, type Descriptor, type ImageManifest } from '../image/types.js';
import { UserError } from '../util/errors.js';
import type { RegistryStore } from './registry-write.js';
import { SIMPLE_SIGNING_MEDIA_TYPE } from './simple-signing.js';

export const SIGNATURE_ANNOTATION = 'dev.cosignproject.cosign/signature';

/** sha256:abc… → sha256-abc….sig (the tag cosign derives from the signed digest). */
export function signatureTag(digest: string, suffix = 'sig'): string {
  const m = /^(sha256|sha512):([a-f0-9]+)$/.exec(digest);
  if (!m) throw new UserError(`cannot derive a signature tag from digest "${digest}"`, 'bad-digest');
  return `${m[1]}-${m[2]}.${suffix}`;
}

/** The signature manifest, or null when the image has no legacy signatures yet. */
export async function readSignatureManifest(store: RegistryStore, repository: string, digest: string): Promise<ImageManifest | null> {
  const tag = signatureTag(digest);
  const doc = await store.findManifest(repository, tag, MediaTypes.ociManifest);
  if (!doc) return null;
  let manifest: ImageManifest;
  try {
    manifest = JSON.parse(doc.bytes.toString('utf8')) as ImageManifest;
  } catch {
    throw new UserError(`${repository}:${tag}: signature manifest is not valid JSON`, 'bad-signature-manifest');
  }
  if (!manifest || !Array.isArray(manifest.layers)) {
    throw new UserError(`${repository}:${tag}: not an image manifest (media type ${doc.mediaType ?? 'unknown'})`, 'bad-signature-manifest');
  }
  return manifest;
}

/**
 * The config blob go-containerregistry writes for cosign's signature image: an empty image
 * whose rootfs lists the payload layers. cosign never reads it, but registries and other
 * tools expect a well-formed config.
 */
function signatureConfig(layers: Descriptor[]): Buffer {
  const config = {
    architecture: '',
    created: '0001-01-01T00:00:00Z',
    history: layers.map(() => ({ created: '0001-01-01T00:00:00Z' })),
    os: '',
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) },
    config: {},
  };
  return Buffer.from(JSON.stringify(config), 'utf8');
}

/** Appends one signature layer to the image's `.sig` manifest, creating it if needed. */
export async function appendSignature(
  store: RegistryStore,
  repository: string,
  digest: string,
  payload: Buffer,
  signatureB64: string,
): Promise<{ tag: string; manifestDigest: string; count: number }> {
  const existing = await readSignatureManifest(store, repository, digest);
  const layers: Descriptor[] = existing ? [...existing.layers] : [];
  const payloadDigest = await store.putBlob(repository, payload);
  const duplicate = layers.some((l) => l.digest === payloadDigest && l.annotations?.[SIGNATURE_ANNOTATION] === signatureB64);
  if (!duplicate) {
    layers.push({
      mediaType: SIMPLE_SIGNING_MEDIA_TYPE,
      size: payload.length,
      digest: payloadDigest,
      annotations: { [SIGNATURE_ANNOTATION]: signatureB64 },
    });
  }
  const config = signatureConfig(layers);
  const configDigest = await store.putBlob(repository, config);
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MediaTypes.ociManifest,
    config: { mediaType: MediaTypes.ociConfig, size: config.length, digest: configDigest },
    layers,
  };
  const tag = signatureTag(digest);
  const bytes = Buffer.from(JSON.stringify(manifest), 'utf8');
  const manifestDigest = await store.putManifest(repository, tag, bytes, MediaTypes.ociManifest);
  return { tag, manifestDigest, count: layers.length };
}
