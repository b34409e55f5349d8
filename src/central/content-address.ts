/**
 * The content address of a text, as pushes and the store both write it: a client names a
 * component list Central holds by it (client/ingest-types.ts), Central stores shared texts
 * and lists under it (store/shared-texts.ts, store/image-sboms.ts). One function, so the two
 * sides cannot drift apart.
 */
import { createHash } from 'node:crypto';

/** 192 bits of SHA-256, base64url (32 characters); of a text's UTF-8 bytes when given bytes (the same address). */
export function textAddress(text: string | Uint8Array): string {
  return createHash('sha256').update(text).digest('base64url').slice(0, 32);
}
