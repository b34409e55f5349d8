/** Response actions Central carried out, refused or dry-ran (src/central/respond). Portable DDL: SQLite and PostgreSQL. */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.createTable('response_actions')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('time', 'text', (c) => c.notNull())
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('outcome', 'text', (c) => c.notNull())
    .addColumn('dry_run', 'integer', (c) => c.notNull())
    .addColumn('cluster', 'text')
    .addColumn('target', 'text', (c) => c.notNull())
    .addColumn('event_id', 'text')
    .addColumn('incident_id', 'text')
    .addColumn('body', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('response_actions_by_time').on('response_actions').columns(['time', 'id']).execute();
  await db.schema.createIndex('response_actions_by_event').on('response_actions').column('event_id').execute();
}
