/**
 * API token values: 256 random bits, shown once. Only the SHA-256 is stored; a plain hash
 * (not a slow KDF) is right for random 256-bit secrets, which cannot be guessed offline.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

const PREFIX = 'ghc_';

export function newTokenValue(): string {
  return PREFIX + randomBytes(32).toString('base64url');
}

export function hashToken(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex');
}

/** Cheap shape check before any lookup (a malformed header never reaches the store). */
export function looksLikeToken(value: string): boolean {
  return value.length >= PREFIX.length + 43 && value.length <= 200 && /^[A-Za-z0-9_\-.~+/=]+$/.test(value);
}

export function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && timingSafeEqual(x, y);
}
