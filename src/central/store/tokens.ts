/** API tokens in the store: only hashes, with role, expiry and revocation. */
import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { hashToken, newTokenValue } from '../auth/token-secret.js';
import type { Role } from '../auth/roles.js';
import type { Database, TokensTable } from './schema.js';

export interface TokenInfo {
  id: string;
  name: string;
  role: string;
  createdAt: string;
  createdBy: string | null;
  expiresAt: string | null;
  revokedAt: string | null;
  lastUsedAt: string | null;
}

export function tokenInfo(row: TokensTable): TokenInfo {
  return {
    id: row.id, name: row.name, role: row.role, createdAt: row.created_at, createdBy: row.created_by,
    expiresAt: row.expires_at, revokedAt: row.revoked_at, lastUsedAt: row.last_used_at,
  };
}

/** Creates a token and returns its value (the only time it exists outside the caller). */
export async function createToken(
  db: Kysely<Database>,
  spec: { name: string; role: Role; expiresAt?: string | null; createdBy?: string | null; value?: string },
): Promise<{ token: string; info: TokenInfo }> {
  const value = spec.value ?? newTokenValue();
  const row: TokensTable = {
    id: randomBytes(8).toString('hex'),
    name: spec.name,
    role: spec.role,
    hash: hashToken(value),
    created_at: new Date().toISOString(),
    created_by: spec.createdBy ?? null,
    expires_at: spec.expiresAt ?? null,
    revoked_at: null,
    last_used_at: null,
  };
  await db.insertInto('tokens').values(row).execute();
  return { token: value, info: tokenInfo(row) };
}

export async function findTokenByValue(db: Kysely<Database>, value: string): Promise<TokensTable | undefined> {
  return db.selectFrom('tokens').selectAll().where('hash', '=', hashToken(value)).executeTakeFirst();
}

export async function listTokens(db: Kysely<Database>): Promise<TokenInfo[]> {
  const rows = await db.selectFrom('tokens').selectAll().orderBy('created_at').orderBy('id').execute();
  return rows.map(tokenInfo);
}

/** Revokes by id; false when no such token. Idempotent. */
export async function revokeToken(db: Kysely<Database>, id: string): Promise<boolean> {
  const row = await db.selectFrom('tokens').select(['id', 'revoked_at']).where('id', '=', id).executeTakeFirst();
  if (!row) return false;
  if (!row.revoked_at) await db.updateTable('tokens').set({ revoked_at: new Date().toISOString() }).where('id', '=', id).execute();
  return true;
}

export async function touchToken(db: Kysely<Database>, id: string, at: string): Promise<void> {
  await db.updateTable('tokens').set({ last_used_at: at }).where('id', '=', id).execute();
}

export async function countAdminTokens(db: Kysely<Database>): Promise<number> {
  const r = await db.selectFrom('tokens').select((eb) => eb.fn.countAll<number>().as('n')).where('role', '=', 'admin').where('revoked_at', 'is', null).executeTakeFirst();
  return Number(r?.n ?? 0);
}
