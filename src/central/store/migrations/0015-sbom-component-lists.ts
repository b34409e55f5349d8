/**
 * An SBOM's component list stored once by content address (issue 16's ingest): a fleet pushes
 * the same ~250 KB list again and again (rebuilds, tags of one build), and a client that knows
 * Central holds it sends its address instead (api/ingest-images.ts). `sbom_component_lists`
 * holds each list's JSON text once; an `image_sboms` row with `components_hash` set holds the
 * SBOM's envelope, whose `components` value is the placeholder `"gatehouse:components:<hash>"`
 * (store/image-sboms.ts puts the list back in its place when read). Rows stored before stay
 * whole (components_hash null); down puts every list back into its SBOM.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createTable('sbom_component_lists')
    .addColumn('hash', 'text', (c) => c.primaryKey())
    .addColumn('body', 'text', (c) => c.notNull())
    .execute();
  await db.schema.alterTable('image_sboms').addColumn('components_hash', 'text').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`update image_sboms set sbom = replace(sbom, '"gatehouse:components:' || components_hash || '"',
    (select l.body from sbom_component_lists l where l.hash = image_sboms.components_hash))
    where components_hash is not null`.execute(db);
  await db.schema.alterTable('image_sboms').dropColumn('components_hash').execute();
  await db.schema.dropTable('sbom_component_lists').execute();
}
