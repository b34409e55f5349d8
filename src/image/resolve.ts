/**
 * Shared resolution for manifest-based transports (registry, OCI layout): index →
 * platform manifest → config → layers with history, all digest-verified.
 */
import { UserError, describeError } from '../util/errors.js';
import { formatPlatform, hostPlatform, selectPlatform } from './platform.js';
import type { ImageReference } from './reference.js';
import type { BlobStore, LayerInfo, OpenedImage } from './source.js';
import {
  INDEX_MEDIA_TYPES,
  MANIFEST_MEDIA_TYPES,
  MediaTypes,
  type Descriptor,
  type ImageConfig,
  type ImageIndex,
  type ImageManifest,
  type Platform,
} from './types.js';

export interface FetchedDocument {
  bytes: Buffer;
  digest: string;
  /** Content-Type from the registry, or the descriptor's mediaType. */
  mediaType?: string;
}

export function parseJsonDocument<T>(bytes: Buffer, what: string, shape: 'object' | 'array' = 'object'): T {
  try {
    const value: unknown = JSON.parse(bytes.toString('utf8'));
    if (shape === 'array' && !Array.isArray(value)) throw new Error('not a JSON array');
    if (shape === 'object' && (!value || typeof value !== 'object' || Array.isArray(value))) throw new Error('not a JSON object');
    return value as T;
  } catch (e) {
    throw new UserError(`${what} is not valid JSON: ${describeError(e)}`, 'bad-manifest');
  }
}

function documentKind(doc: Record<string, unknown>, headerType?: string): 'index' | 'manifest' | 'unknown' {
  const mt = (typeof doc.mediaType === 'string' ? doc.mediaType : undefined) ?? headerType ?? '';
  if (INDEX_MEDIA_TYPES.includes(mt)) return 'index';
  if (MANIFEST_MEDIA_TYPES.includes(mt)) return 'manifest';
  // OCI documents may omit mediaType: tell them apart by shape.
  if (Array.isArray(doc.manifests)) return 'index';
  if (doc.config && Array.isArray(doc.layers)) return 'manifest';
  return 'unknown';
}

export interface ResolveOptions {
  platform?: Platform;
  maxDepth?: number;
}

/** Walks from a top document (index or manifest) to the manifest for the wanted platform. */
export async function resolveManifest(
  top: FetchedDocument,
  fetchManifest: (desc: Descriptor) => Promise<FetchedDocument>,
  what: string,
  opts: ResolveOptions = {},
): Promise<{ manifest: ImageManifest; manifestDigest: string; indexDigest?: string; platformFromIndex?: Platform }> {
  const wanted = opts.platform ?? hostPlatform();
  let doc = top;
  let indexDigest: string | undefined;
  let platformFromIndex: Platform | undefined;
  for (let depth = 0; depth < (opts.maxDepth ?? 4); depth++) {
    const parsed = parseJsonDocument<Record<string, unknown>>(doc.bytes, `${what}: manifest ${doc.digest}`);
    const kind = documentKind(parsed, doc.mediaType);
    if (kind === 'manifest') {
      const manifest = parsed as unknown as ImageManifest;
      validateManifest(manifest, `${what}: manifest ${doc.digest}`);
      return { manifest, manifestDigest: doc.digest, indexDigest, platformFromIndex };
    }
    if (kind !== 'index') {
      throw new UserError(`${what}: ${doc.digest} is neither an image manifest nor an index (mediaType ${String(parsed.mediaType ?? doc.mediaType ?? 'none')})`, 'bad-manifest');
    }
    const index = parsed as unknown as ImageIndex;
    if (!Array.isArray(index.manifests)) throw new UserError(`${what}: index ${doc.digest} has no manifests`, 'bad-manifest');
    indexDigest ??= doc.digest;
    const images = index.manifests.filter((d) => !isAttestation(d));
    const chosen =
      selectPlatform(images, wanted) ??
      // A single-entry index without platform data (common in OCI layouts) is unambiguous.
      (images.length === 1 && !images[0]!.platform ? images[0] : undefined);
    if (!chosen) {
      const offered = images.map((d) => (d.platform ? formatPlatform(d.platform) : '?')).join(', ');
      throw new UserError(`${what}: no image for platform ${formatPlatform(wanted)} (available: ${offered || 'none'})`, 'no-platform');
    }
    platformFromIndex = chosen.platform;
    doc = await fetchManifest(chosen);
  }
  throw new UserError(`${what}: nested indexes deeper than allowed`, 'bad-manifest');
}

/** Buildkit stores provenance as "unknown/unknown" platform entries; they are not images. */
function isAttestation(d: Descriptor): boolean {
  return d.platform?.os === 'unknown' || d.annotations?.['vnd.docker.reference.type'] === 'attestation-manifest';
}

function validateManifest(m: ImageManifest, what: string): void {
  if (!m.config || typeof m.config.digest !== 'string') throw new UserError(`${what} has no config descriptor`, 'bad-manifest');
  if (!Array.isArray(m.layers)) throw new UserError(`${what} has no layer list`, 'bad-manifest');
  for (const l of m.layers) {
    if (!l || typeof l.digest !== 'string') throw new UserError(`${what} has a layer without digest`, 'bad-manifest');
  }
}

export function parseConfig(bytes: Buffer, what: string): ImageConfig {
  const config = parseJsonDocument<ImageConfig>(bytes, what);
  if (!config.rootfs || !Array.isArray(config.rootfs.diff_ids)) {
    throw new UserError(`${what} is not an image config (no rootfs.diff_ids)`, 'bad-config');
  }
  return config;
}

/** Pairs each layer with the non-empty history entry that created it. */
export function layerInfos(layers: Descriptor[], config: ImageConfig, what: string): LayerInfo[] {
  if (layers.length !== config.rootfs.diff_ids.length) {
    throw new UserError(`${what}: manifest lists ${layers.length} layers but config has ${config.rootfs.diff_ids.length} diff_ids`, 'bad-manifest');
  }
  const creators = (config.history ?? []).filter((h) => !h.empty_layer);
  return layers.map((d, index) => ({
    index,
    digest: d.digest,
    diffId: config.rootfs.diff_ids[index]!,
    mediaType: d.mediaType ?? MediaTypes.ociLayerGzip,
    size: d.size,
    createdBy: creators[index]?.created_by,
    created: creators[index]?.created,
  }));
}

/** Builds an OpenedImage for manifest-based transports once the manifest is known. */
export async function openFromManifest(args: {
  reference: ImageReference;
  name: string;
  store: BlobStore;
  manifest: ImageManifest;
  manifestDigest: string;
  indexDigest?: string;
  platformFromIndex?: Platform;
  close?: () => Promise<void>;
}): Promise<OpenedImage> {
  const { store, manifest, name } = args;
  const configBytes = await store.readDocument(manifest.config);
  const config = parseConfig(configBytes, `${name}: config ${manifest.config.digest}`);
  const layers = layerInfos(manifest.layers, config, name);
  return {
    reference: args.reference,
    name,
    digest: args.manifestDigest,
    indexDigest: args.indexDigest,
    manifest,
    manifestDigest: args.manifestDigest,
    config,
    configDigest: manifest.config.digest,
    platform: args.platformFromIndex ?? { os: config.os, architecture: config.architecture, ...(config.variant ? { variant: config.variant } : {}) },
    layers,
    openLayer: async (i) => {
      const d = manifest.layers[i];
      if (!d) throw new UserError(`${name}: no layer ${i}`, 'bad-layer');
      return store.openBlob(d);
    },
    close: args.close ?? (async () => {}),
  };
}
