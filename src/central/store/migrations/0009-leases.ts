/**
 * Leases of Central's periodic work (src/central/leases.ts): one row per job, held by one
 * Central instance until `expires_ms`. Portable DDL (SQLite and PostgreSQL); only
 * PostgreSQL stores use it (several Centrals share one PostgreSQL; an SQLite store has one
 * Central, which runs everything). Times are milliseconds since the epoch of the database's
 * clock, so the instances' own clocks never decide who holds a lease.
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.createTable('leases')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('holder', 'text', (c) => c.notNull())
    .addColumn('expires_ms', 'bigint', (c) => c.notNull())
    .addColumn('acquired_ms', 'bigint', (c) => c.notNull())
    .addColumn('renewed_ms', 'bigint', (c) => c.notNull())
    /** +1 each time the lease changes hands: a fencing token for the holder's writes. */
    .addColumn('epoch', 'bigint', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('leases').execute();
}
