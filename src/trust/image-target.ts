/** Turns a user's image reference into the registry, repository and manifest digest signatures are about. */
import { parseReference, formatReference, type RegistryReference } from '../image/reference.js';
import { UserError } from '../util/errors.js';
import type { RegistryStore } from './registry-write.js';

export interface SignTarget {
  ref: RegistryReference;
  /** Digest of the document the reference resolves to (the index for multi-platform images). */
  digest: string;
}

export function registryReference(text: string): RegistryReference {
  const ref = parseReference(text);
  if (ref.transport !== 'docker') {
    throw new UserError(`"${text}": signatures live in a registry; use a registry reference (registry/repo:tag or @sha256:…)`, 'bad-reference');
  }
  return ref;
}

/** Resolves a tag to the digest the registry serves now (a digest reference is checked to exist). */
export async function resolveTarget(store: RegistryStore, ref: RegistryReference): Promise<SignTarget> {
  const doc = await store.findManifest(ref.repository, ref.digest ?? ref.tag ?? 'latest');
  if (!doc) throw new UserError(`image ${formatReference(ref)} not found in the registry`, 'not-found');
  return { ref, digest: doc.digest };
}
