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

/**
 * Cheap shape check before any lookup (a malformed header never reaches the store). At
 * least 32 characters: Central's own tokens have 47, and an adopted GATEHOUSE_ADMIN_TOKEN
 * such as `openssl rand -base64 32` (44) or `-hex 16` (32) carries 128 bits or more.
 */
export const MIN_TOKEN_LENGTH = 32;

export function looksLikeToken(value: string): boolean {
  return value.length >= MIN_TOKEN_LENGTH && value.length <= 200 && /^[A-Za-z0-9_\-.~+/=]+$/.test(value);
}

export function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && timingSafeEqual(x, y);
}
