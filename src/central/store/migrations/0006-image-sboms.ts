/**
 * An image's SBOM moves out of its `images` row into `image_sboms`. SQLite rewrites a whole
 * record on every UPDATE, overflow pages included, so each re-match's db_version/summary
 * update and each push's last_seen rewrote the ~250 KB SBOM with it, and every list query
 * over `images` walked past it (docs/notes/central-bench.md). `images.has_sbom` keeps the
 * "has an SBOM" filters of re-match and the in-use scan on the one table.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createTable('image_sboms')
    .addColumn('digest', 'text', (c) => c.primaryKey())
    .addColumn('sbom', 'text', (c) => c.notNull())
    .execute();
  await db.schema.alterTable('images').addColumn('has_sbom', 'integer', (c) => c.notNull().defaultTo(0)).execute();
  await sql`insert into image_sboms (digest, sbom) select digest, sbom from images where sbom is not null`.execute(db);
  await sql`update images set has_sbom = 1 where sbom is not null`.execute(db);
  await db.schema.alterTable('images').dropColumn('sbom').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('images').addColumn('sbom', 'text').execute();
  await sql`update images set sbom = (select s.sbom from image_sboms s where s.digest = images.digest)`.execute(db);
  await db.schema.alterTable('images').dropColumn('has_sbom').execute();
  await db.schema.dropTable('image_sboms').execute();
}
