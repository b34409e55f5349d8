/**
 * What an image says about its own build: the manifest's annotations and the config's
 * labels, read through the image engine (any transport it knows: a registry, an OCI
 * layout, a docker archive, a daemon). Nothing is pulled but the manifest and the config.
 */
import { openImage, type OpenImageOptions } from '../image/open.js';
import { readBuildSource } from './provenance.js';
import type { BuildSource } from './types.js';

export interface ImageProvenance {
  /** The manifest digest (a daemon or archive image: its config digest). */
  digest: string;
  annotations: Record<string, string>;
  labels: Record<string, string>;
  build: BuildSource;
}

export async function readImageProvenance(ref: string, opts: OpenImageOptions = {}): Promise<ImageProvenance> {
  const image = await openImage(ref, opts);
  try {
    const annotations = { ...(image.manifest.annotations ?? {}) };
    const labels = { ...(image.config.config?.Labels ?? {}) };
    return { digest: image.digest, annotations, labels, build: readBuildSource({ 'image-annotation': annotations, 'image-label': labels }) };
  } finally {
    await image.close();
  }
}
