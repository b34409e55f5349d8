/** An image's build provenance as pushed: its config labels and manifest annotations (JSON), for service identities. */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('images').addColumn('provenance', 'text').execute();
}
