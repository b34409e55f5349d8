/**
 * Behavioural baselines kept by Central (issue 19 item 1; src/central/store/baselines.ts): one
 * merged baseline per workload identity, and per host that pushes to it the last push applied
 * (a retry is not counted twice) and its deviations. Portable DDL: SQLite and PostgreSQL.
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.createTable('baselines')
    /** src/runtime/baseline/identity.ts's id: k8s:CLUSTER/NS/KIND/NAME/CONTAINER or host:HOST/IMAGE/CONTAINER. */
    .addColumn('workload', 'text', (c) => c.primaryKey())
    .addColumn('cluster', 'text')
    .addColumn('namespace', 'text')
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('container', 'text', (c) => c.notNull())
    .addColumn('host', 'text')
    .addColumn('state', 'text', (c) => c.notNull())
    /** Incremented by every unlock: pushes of an older window add counts but not their window bounds. */
    .addColumn('epoch', 'integer', (c) => c.notNull())
    /** What lists show without reading the body (observations, items per channel, threshold, …) as JSON. */
    .addColumn('summary', 'text', (c) => c.notNull())
    /** Merged deviations (distinct items over every host). */
    .addColumn('deviations', 'integer', (c) => c.notNull())
    /** The merged baseline (src/runtime/baseline/baseline.ts's file form, without deviations) as JSON. */
    .addColumn('body', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('baselines_state').on('baselines').columns(['state', 'workload']).execute();
  await db.schema.createIndex('baselines_owner').on('baselines').columns(['cluster', 'namespace', 'kind', 'name']).execute();

  await db.schema.createTable('baseline_hosts')
    .addColumn('workload', 'text', (c) => c.notNull())
    .addColumn('host', 'text', (c) => c.notNull())
    /** The id of the last push applied from this host: the same id again is a retry. */
    .addColumn('push_id', 'text', (c) => c.notNull())
    /** This host's deviations (JSON array of HostDeviation). */
    .addColumn('deviations', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('baseline_hosts_pk', ['workload', 'host'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('baseline_hosts').execute();
  await db.schema.dropTable('baselines').execute();
}
