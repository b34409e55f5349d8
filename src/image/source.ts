/**
 * What every transport (registry, OCI layout, docker-archive, docker-daemon) provides:
 * documents by digest and blobs as verified streams. Resolution of indexes, platforms and
 * configs is shared on top of this (see resolve.ts).
 */
import type { Readable } from 'node:stream';
import type { ImageReference } from './reference.js';
import type { Descriptor, ImageConfig, ImageManifest, Platform } from './types.js';

export interface LayerInfo {
  index: number;
  /** Digest of the blob as stored (compressed for registry/OCI). */
  digest: string;
  /** Digest of the uncompressed tar (config rootfs.diff_ids). */
  diffId: string;
  mediaType: string;
  /** Stored (usually compressed) size in bytes. */
  size: number;
  /** The history entry that created this layer, if the config has one. */
  createdBy?: string;
  created?: string;
}

/** A resolved single-platform image, ready to walk. */
export interface OpenedImage {
  reference: ImageReference;
  /** Human-readable name of what was opened. */
  name: string;
  /**
   * The image's identity: the manifest digest where a manifest exists (registry, OCI),
   * else the config digest (image id) for docker archives and daemons.
   */
  digest: string;
  /** Digest of the index/manifest list the platform was selected from, if any. */
  indexDigest?: string;
  manifest: ImageManifest;
  manifestDigest?: string;
  config: ImageConfig;
  configDigest: string;
  platform: Platform;
  layers: LayerInfo[];
  /** Caps the walk applies unless told otherwise (set by openImage from its options). */
  limits?: Partial<import('./limits.js').WalkLimits>;
  /** The layer blob as stored, digest-verified as it streams (fails at the end on mismatch). */
  openLayer(index: number): Promise<Readable>;
  close(): Promise<void>;
}

/** Progress callbacks for long reads (the CLI renders them on a TTY). */
export interface ProgressReporter {
  layerStart?(layer: LayerInfo): void;
  bytes?(layer: LayerInfo, n: number): void;
  layerDone?(layer: LayerInfo): void;
}

export interface BlobStore {
  /** A blob as a stream, verified against desc.digest (and size when known). */
  openBlob(desc: Descriptor): Promise<Readable>;
  /** A small document (manifest, index, config) as bytes, verified against its digest. */
  readDocument(desc: Descriptor): Promise<Buffer>;
}
