/** A watched repository's tags as its last hygiene audit saw them (JSON), for the console's per-tag view. */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('registry_watches').addColumn('tag_rows', 'text').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('registry_watches').dropColumn('tag_rows').execute();
}
