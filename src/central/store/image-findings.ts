/**
 * An image's stored findings: one row, two JSON documents (migration 0005). Every
 * reader wants all of an image's findings, so a document per image replaces ~120 rows; the
 * vulnerabilities are apart from the rest because a re-match rewrites only them. Documents
 * are sorted by fingerprint, so the same findings always encode to the same text and a
 * re-match can tell "unchanged" by comparing text.
 */
import type { Kysely, Transaction } from 'kysely';
import type { Finding } from '../../findings/finding.js';
import type { Database } from './schema.js';

type Db = Kysely<Database> | Transaction<Database>;
export type StoredFinding = Finding & { fingerprint: string };

const byFingerprint = (a: StoredFinding, b: StoredFinding) => (a.fingerprint < b.fingerprint ? -1 : a.fingerprint > b.fingerprint ? 1 : 0);

/** One per fingerprint (the last wins, as a scan that reports a problem twice is stored once), sorted. */
export function canonicalFindings(list: readonly StoredFinding[]): StoredFinding[] {
  return [...new Map(list.map((f) => [f.fingerprint, f])).values()].sort(byFingerprint);
}

/** The document text of canonical findings. */
export function findingsText(canonical: readonly StoredFinding[]): string {
  return JSON.stringify(canonical);
}

export interface StoredImageFindings {
  vulnerabilities: StoredFinding[];
  others: StoredFinding[];
}

/** The image's findings, or empty lists when it has none stored. */
export async function readImageFindings(db: Db, digest: string): Promise<StoredImageFindings> {
  const row = await db.selectFrom('image_finding_docs').select(['vulnerabilities', 'others']).where('image_digest', '=', digest).executeTakeFirst();
  if (!row) return { vulnerabilities: [], others: [] };
  return { vulnerabilities: JSON.parse(row.vulnerabilities) as StoredFinding[], others: JSON.parse(row.others) as StoredFinding[] };
}

/** All of the image's findings in one list. */
export async function readAllImageFindings(db: Db, digest: string): Promise<StoredFinding[]> {
  const { vulnerabilities, others } = await readImageFindings(db, digest);
  return [...vulnerabilities, ...others];
}

/** The stored vulnerabilities' document text (for re-match's unchanged test) and the other findings, parsed. */
export async function readForRematch(db: Db, digest: string): Promise<{ vulnerabilitiesText: string | undefined; others: StoredFinding[] }> {
  const row = await db.selectFrom('image_finding_docs').select(['vulnerabilities', 'others']).where('image_digest', '=', digest).executeTakeFirst();
  if (!row) return { vulnerabilitiesText: undefined, others: [] };
  return { vulnerabilitiesText: row.vulnerabilities, others: JSON.parse(row.others) as StoredFinding[] };
}


/** Replaces the image's vulnerabilities only (a re-match), keeping its other findings. */
export async function replaceImageVulnerabilities(db: Db, digest: string, text: string, vulnerabilities: number, others: number): Promise<void> {
  const row = { vulnerabilities: text, count: vulnerabilities + others };
  const updated = await db.updateTable('image_finding_docs').set(row).where('image_digest', '=', digest).executeTakeFirst();
  if (Number(updated.numUpdatedRows) === 0) await db.insertInto('image_finding_docs').values({ image_digest: digest, ...row, others: '[]' }).execute();
}

/** Replaces all of the image's findings (a push) with their documents (made by findingsText from canonicalFindings). */
export async function writeImageFindingDocs(db: Db, digest: string, docs: { vulnerabilities: string; others: string; count: number }): Promise<void> {
  const row = { vulnerabilities: docs.vulnerabilities, others: docs.others, count: docs.count };
  await db.insertInto('image_finding_docs').values({ image_digest: digest, ...row })
    .onConflict((oc) => oc.column('image_digest').doUpdateSet(row)).execute();
}
