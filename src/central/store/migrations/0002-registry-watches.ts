/** Registry repositories Central audits for hygiene (see ../registry-watches.ts). Portable DDL: SQLite and PostgreSQL. */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.createTable('registry_watches')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('registry', 'text', (c) => c.notNull())
    .addColumn('repository', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('created_by', 'text')
    .addColumn('last_run_at', 'text')
    .addColumn('last_error', 'text')
    .addColumn('tags', 'integer')
    .addUniqueConstraint('registry_watches_target', ['registry', 'repository'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('registry_watches').execute();
}
