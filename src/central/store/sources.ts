/** Clusters and plain hosts Central watches; their connection settings are sealed (SecretBox). */
import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database, SourcesTable } from './schema.js';

export type SourceKind = SourcesTable['kind'];

export interface SourceInfo {
  id: string;
  kind: SourceKind;
  name: string;
  state: string;
  message: string | null;
  firstSeen: string;
  lastSeen: string;
}

export const sourceInfo = (r: SourcesTable): SourceInfo => ({ id: r.id, kind: r.kind, name: r.name, state: r.state, message: r.message, firstSeen: r.first_seen, lastSeen: r.last_seen });

export async function createSource(db: Kysely<Database>, spec: { kind: SourceKind; name: string; sealedConfig: string }, now: string): Promise<SourceInfo | undefined> {
  const taken = await db.selectFrom('sources').select('id').where('kind', '=', spec.kind).where('name', '=', spec.name).executeTakeFirst();
  if (taken) return undefined;
  const row: SourcesTable = { id: `${spec.kind}-${randomBytes(6).toString('hex')}`, kind: spec.kind, name: spec.name, config: spec.sealedConfig, state: 'pending', message: null, first_seen: now, last_seen: now };
  await db.insertInto('sources').values(row).execute();
  return sourceInfo(row);
}

export async function listSources(db: Kysely<Database>, kind?: SourceKind): Promise<SourcesTable[]> {
  let q = db.selectFrom('sources').selectAll();
  if (kind) q = q.where('kind', '=', kind);
  return q.orderBy('name').execute();
}

/** Removes a source with everything seen on it; its deployments' violations resolve. */
export async function deleteSource(db: Kysely<Database>, kind: SourceKind, id: string, now: string): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    const r = await trx.deleteFrom('sources').where('id', '=', id).where('kind', '=', kind).executeTakeFirst();
    if (Number(r.numDeletedRows) === 0) return false;
    await trx.updateTable('violations').set({ state: 'resolved', resolved_at: now, exception_id: null })
      .where('subject_kind', '=', 'deployment').where('state', '!=', 'resolved')
      .where('subject_key', 'in', (eb) => eb.selectFrom('deployments').select('id').where('source_id', '=', id)).execute();
    await trx.deleteFrom('deployments').where('source_id', '=', id).execute();
    await trx.deleteFrom('objects').where('source_id', '=', id).execute();
    return true;
  });
}
