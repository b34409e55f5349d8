/** docker://REGISTRY/REPO[:TAG|@DIGEST] — images in a Distribution (v2) registry. */
import type { Readable } from 'node:stream';
import type { WalkLimits } from '../limits.js';
import { formatReference, type RegistryReference } from '../reference.js';
import { RegistryClient, type RegistryClientOptions } from '../registry/client.js';
import { openFromManifest, resolveManifest } from '../resolve.js';
import type { BlobStore, OpenedImage } from '../source.js';
import type { Descriptor, Platform } from '../types.js';

export async function openRegistryImage(
  ref: RegistryReference,
  opts: { platform?: Platform; limits: WalkLimits; registry?: RegistryClientOptions },
): Promise<OpenedImage> {
  const client = new RegistryClient(ref.registry, { ...opts.registry, limits: opts.limits });
  const name = formatReference(ref);
  try {
    const repo = ref.repository;
    const store: BlobStore = {
      openBlob: (d: Descriptor): Promise<Readable> => client.openBlob(repo, d),
      readDocument: (d: Descriptor) => client.readBlob(repo, d),
    };
    const top = await client.getManifest(repo, ref.digest ?? ref.tag ?? 'latest');
    const resolved = await resolveManifest(top, (d) => client.getManifest(repo, d.digest), name, { platform: opts.platform });
    return await openFromManifest({ reference: ref, name, store, ...resolved, close: () => client.close() });
  } catch (e) {
    await client.close();
    throw e;
  }
}
