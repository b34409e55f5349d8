/**
 * Observed network flows (issue 23): aggregated edges (all time and per hour) and the flow ids already
 * stored (dedup of at-least-once delivery), plus an index that lets the endpoint index
 * follow inventory changes incrementally. Portable DDL: SQLite and PostgreSQL.
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  // One row per observed edge (both resolved ends, protocol, server port), all time.
  await db.schema.createTable('flow_edges')
    /** hash128 of the reporting source, both resolved ends, protocol and port. */
    .addColumn('edge_key', 'text', (c) => c.primaryKey())
    .addColumn('source_id', 'text')
    .addColumn('cluster', 'text')
    .addColumn('host', 'text')
    .addColumn('src_id', 'text', (c) => c.notNull())
    .addColumn('src_kind', 'text', (c) => c.notNull())
    .addColumn('src_label', 'text', (c) => c.notNull())
    .addColumn('src_namespace', 'text')
    .addColumn('src_name', 'text')
    .addColumn('src_workload_kind', 'text')
    .addColumn('dst_id', 'text', (c) => c.notNull())
    .addColumn('dst_kind', 'text', (c) => c.notNull())
    .addColumn('dst_label', 'text', (c) => c.notNull())
    .addColumn('dst_namespace', 'text')
    .addColumn('dst_name', 'text')
    .addColumn('dst_workload_kind', 'text')
    .addColumn('dst_dns', 'text')
    .addColumn('protocol', 'text', (c) => c.notNull())
    .addColumn('port', 'integer', (c) => c.notNull())
    .addColumn('first_seen', 'text', (c) => c.notNull())
    .addColumn('last_seen', 'text', (c) => c.notNull())
    .addColumn('connections', 'bigint', (c) => c.notNull())
    .addColumn('bytes', 'bigint')
    /** Flows of this edge seen through a mesh proxy (sidecar ports or the proxy process): mTLS evidence. */
    .addColumn('mesh_flows', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('flow_edges_by_last_seen').on('flow_edges').columns(['last_seen']).execute();
  await db.schema.createIndex('flow_edges_by_src').on('flow_edges').columns(['src_id', 'first_seen']).execute();
  await db.schema.createIndex('flow_edges_by_dst').on('flow_edges').columns(['dst_id', 'first_seen']).execute();

  // The same counts per edge and UTC hour (of the flows' first-seen time), for windows that start before an edge did.
  await db.schema.createTable('flow_edge_hours')
    .addColumn('edge_key', 'text', (c) => c.notNull())
    /** `YYYY-MM-DDTHH` */
    .addColumn('bucket', 'text', (c) => c.notNull())
    .addColumn('first_seen', 'text', (c) => c.notNull())
    .addColumn('last_seen', 'text', (c) => c.notNull())
    .addColumn('connections', 'bigint', (c) => c.notNull())
    .addColumn('bytes', 'bigint')
    .addColumn('mesh_flows', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('flow_edge_hours_pk', ['edge_key', 'bucket'])
    .execute();
  await db.schema.createIndex('flow_edge_hours_by_bucket').on('flow_edge_hours').columns(['bucket']).execute();

  await db.schema.createTable('flow_ids')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('received_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('flow_ids_by_received').on('flow_ids').columns(['received_at']).execute();

  // The endpoint index reads what changed since its last look (deletions set last_seen too).
  await db.schema.createIndex('objects_by_source_seen').on('objects').columns(['source_id', 'last_seen']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('objects_by_source_seen').execute();
  await db.schema.dropTable('flow_ids').execute();
  await db.schema.dropTable('flow_edge_hours').execute();
  await db.schema.dropTable('flow_edges').execute();
}
