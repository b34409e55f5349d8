/** Alerts carry the deployment they were raised in (resolved at ingest), for risk and the deployment view. */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('events').addColumn('deployment_id', 'text').execute();
  await db.schema.createIndex('events_by_deployment').on('events').columns(['deployment_id', 'time']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('events_by_deployment').execute();
  await db.schema.alterTable('events').dropColumn('deployment_id').execute();
}
