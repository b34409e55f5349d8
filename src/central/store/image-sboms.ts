/** An image's SBOM (CycloneDX JSON text), apart from its `images` row (migration 0006). */
import type { Kysely, Transaction } from 'kysely';
import type { Database } from './schema.js';

type Db = Kysely<Database> | Transaction<Database>;

export async function readImageSbom(db: Db, digest: string): Promise<string | undefined> {
  return (await db.selectFrom('image_sboms').select('sbom').where('digest', '=', digest).executeTakeFirst())?.sbom;
}

/** Stores the SBOM and marks the image as having one (its `images` row must exist, or be written in the same transaction). */
export async function writeImageSbom(db: Db, digest: string, sbom: string): Promise<void> {
  await db.insertInto('image_sboms').values({ digest, sbom }).onConflict((oc) => oc.column('digest').doUpdateSet({ sbom })).execute();
}
