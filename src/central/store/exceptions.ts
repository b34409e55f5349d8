/** Policy exceptions agreed in Central (the one suppression model, with owner, reason and expiry). */
import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { PolicyException } from '../../policy/types.js';
import { expiryTime } from '../../policy/exceptions.js';
import { fromJson, toJson } from './json.js';
import type { Database } from './schema.js';

export type StoredException = PolicyException & { id: string; createdAt: string; createdBy: string | null };

export async function createException(db: Kysely<Database>, e: PolicyException, by: string | null, now: string): Promise<StoredException> {
  const id = `exc-${randomBytes(6).toString('hex')}`;
  const expires = e.expires === undefined ? null : new Date(expiryTime(e)).toISOString();
  await db.insertInto('exceptions').values({ id, body: toJson({ ...e, source: 'policy' }), owner: e.owner, reason: e.reason, expires_at: expires, created_at: now, created_by: by }).execute();
  return { ...e, source: 'policy', id, createdAt: now, createdBy: by };
}

export async function loadExceptions(db: Kysely<Database>): Promise<StoredException[]> {
  const rows = await db.selectFrom('exceptions').selectAll().orderBy('created_at').orderBy('id').execute();
  return rows.map((r) => ({ ...fromJson<PolicyException>(r.body, null as unknown as PolicyException), id: r.id, createdAt: r.created_at, createdBy: r.created_by }));
}

export async function deleteException(db: Kysely<Database>, id: string): Promise<boolean> {
  const r = await db.deleteFrom('exceptions').where('id', '=', id).executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}
