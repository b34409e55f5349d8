/**
 * The content address of a text, as pushes and the store both write it: a client names a
 * component list Central holds by it (client/ingest-types.ts), Central stores shared texts
 * and lists under it (store/shared-texts.ts, store/image-sboms.ts). One function, so the two
 * sides cannot drift apart.
 */
import { createHash } from 'node:crypto';

/** 192 bits of SHA-256, base64url (32 characters). */
export function textAddress(text: string): string {
  return createHash('sha256').update(text).digest('base64url').slice(0, 32);
}
