/**
 * An image's SBOM (CycloneDX JSON text), apart from its `images` row (migration 0006), with
 * the content address of the package list the matcher reads from it (migration 0013):
 * images whose SBOMs differ only in serial number, timestamps or names — rebuilds, tags
 * of one build, a fleet on one base — have one package list, which re-match then matches
 * once.
 */
import type { Kysely, Transaction } from 'kysely';
import { packagesFromCycloneDx, type SbomPackages } from '../images/sbom-packages.js';
import type { Database } from './schema.js';
import { textAddress } from './shared-texts.js';

type Db = Kysely<Database> | Transaction<Database>;

export async function readImageSbom(db: Db, digest: string): Promise<string | undefined> {
  return (await db.selectFrom('image_sboms').select('sbom').where('digest', '=', digest).executeTakeFirst())?.sbom;
}

/** The content address of a package list (what matching an SBOM depends on). */
export function packagesAddress(p: SbomPackages): string {
  return textAddress(JSON.stringify({ os: p.os ?? null, packages: p.packages }));
}

/** The content address of a parsed SBOM's package list. */
export function packagesHashOf(sbom: unknown): string {
  return packagesAddress(packagesFromCycloneDx(sbom));
}

/**
 * Stores the SBOM and its package list's address (its `images` row must exist, or be written
 * in the same transaction). Without an address the row gets '' and re-match computes it.
 */
export async function writeImageSbom(db: Db, digest: string, sbom: string, packagesHash = ''): Promise<void> {
  await db.insertInto('image_sboms').values({ digest, sbom, packages_hash: packagesHash })
    .onConflict((oc) => oc.column('digest').doUpdateSet({ sbom, packages_hash: packagesHash })).execute();
}

/** Records the address re-match computed for an SBOM stored without one. */
export async function setPackagesHash(db: Db, digest: string, packagesHash: string): Promise<void> {
  await db.updateTable('image_sboms').set({ packages_hash: packagesHash }).where('digest', '=', digest).execute();
}
