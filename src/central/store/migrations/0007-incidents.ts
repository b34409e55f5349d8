/** Correlated incidents (src/runtime/incidents, fed by src/central/incidents). Portable DDL: SQLite and PostgreSQL. */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.createTable('incidents')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('severity', 'text', (c) => c.notNull())
    .addColumn('stage', 'text', (c) => c.notNull())
    .addColumn('title', 'text', (c) => c.notNull())
    .addColumn('first_seen', 'text', (c) => c.notNull())
    .addColumn('last_seen', 'text', (c) => c.notNull())
    .addColumn('closed_at', 'text')
    .addColumn('signals', 'integer', (c) => c.notNull())
    /** The whole incident (tactics, techniques, hosts, workloads, timeline) as JSON. */
    .addColumn('body', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('incidents_last_seen').on('incidents').columns(['last_seen', 'id']).execute();
  await db.schema.createIndex('incidents_state_last_seen').on('incidents').columns(['state', 'last_seen', 'id']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('incidents').execute();
}
