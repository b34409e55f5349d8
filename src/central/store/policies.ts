/**
 * Central's current policies: the built-in packs, synced at every start (a release's new
 * policies appear; an admin's enabled/disabled choice is kept), plus packs uploaded through
 * the API.
 */
import type { Kysely, Transaction } from 'kysely';
import type { Policy } from '../../policy/types.js';
import { fromJson, toJson } from './json.js';
import type { Database, PoliciesTable } from './schema.js';

/** Call inside a transaction. */
export async function upsertPolicies(trx: Transaction<Database>, pack: string, policies: readonly Policy[], now: string, options: { keepEnabled: boolean }): Promise<void> {
  {
    const existing = new Map((await trx.selectFrom('policies').select(['id', 'enabled', 'pack']).execute()).map((r) => [r.id, r]));
    for (const policy of policies) {
      const old = existing.get(policy.id);
      const enabled = options.keepEnabled && old ? old.enabled : policy.enabled ? 1 : 0;
      const row: PoliciesTable = { id: policy.id, pack, subject: policy.subject, body: toJson(policy), enabled, updated_at: now };
      if (old) await trx.updateTable('policies').set(row).where('id', '=', policy.id).execute();
      else await trx.insertInto('policies').values(row).execute();
    }
  }
}

/** Every stored policy, with its stored enabled flag applied. */
export async function loadPolicies(db: Kysely<Database>): Promise<{ pack: string; policy: Policy }[]> {
  const rows = await db.selectFrom('policies').selectAll().orderBy('id').execute();
  return rows.map((r) => ({ pack: r.pack, policy: { ...fromJson<Policy>(r.body, null as unknown as Policy), enabled: r.enabled === 1 } }));
}

export async function setPolicyEnabled(db: Kysely<Database>, id: string, enabled: boolean, now: string): Promise<boolean> {
  const r = await db.updateTable('policies').set({ enabled: enabled ? 1 : 0, updated_at: now }).where('id', '=', id).executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

export async function deletePack(db: Kysely<Database> | Transaction<Database>, pack: string): Promise<number> {
  const r = await db.deleteFrom('policies').where('pack', '=', pack).executeTakeFirst();
  return Number(r.numDeletedRows);
}
