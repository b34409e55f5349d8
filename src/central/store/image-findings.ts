/**
 * An image's stored findings: one row, two JSON documents (migration 0005). Every reader
 * wants all of an image's findings, so a document per image replaces ~120 rows; the
 * vulnerabilities are apart from the rest because a re-match rewrites only them.
 *
 * Vulnerabilities (migration 0013) are `[fingerprint, finding text address, modified?]`
 * entries: a fleet's images repeat the same findings (same advisory, package, version,
 * path) with only the image digest differing, so the body is stored once in `finding_texts`
 * and its advisory's text (description, references, CVSS…) once in `advisory_texts`
 * (store/shared-texts.ts). What differs per image stays in the entry: the fingerprint (it
 * hashes the digest) and the advisory's `modified` time (feeds without per-record times
 * re-stamp every record at each import; keeping it out of the shared text keeps a daily
 * update from re-addressing every finding). The digest is put back when read.
 *
 * Documents are sorted by fingerprint, so the same findings always encode to the same text
 * and a re-match can tell "unchanged" by comparing text.
 */
import type { Kysely, Transaction } from 'kysely';
import type { Finding } from '../../findings/finding.js';
import type { Database } from './schema.js';
import { joinVulnerability, splitVulnerability, type AdvisoryText, type FindingBody, type SplitVulnerability } from '../vulnerability-split.js';
import { readSharedTexts, writeSharedTexts, type SharedTexts } from './shared-texts.js';

type Db = Kysely<Database> | Transaction<Database>;
export type StoredFinding = Finding & { fingerprint: string };
/** A stored vulnerability: fingerprint, its finding text's address, and the advisory's modified time when it had one. */
export type VulnerabilityEntry = [fingerprint: string, finding: string, modified?: string];

const byFingerprint = (a: StoredFinding, b: StoredFinding) => (a.fingerprint < b.fingerprint ? -1 : a.fingerprint > b.fingerprint ? 1 : 0);

/** One per fingerprint (the last wins, as a scan that reports a problem twice is stored once), sorted. */
export function canonicalFindings(list: readonly StoredFinding[]): StoredFinding[] {
  return [...new Map(list.map((f) => [f.fingerprint, f])).values()].sort(byFingerprint);
}

/** The document text of canonical findings (the other findings' document). */
export function findingsText(canonical: readonly StoredFinding[]): string {
  return JSON.stringify(canonical);
}

export { splitVulnerability, type SplitVulnerability } from '../vulnerability-split.js';

export function vulnerabilityEntry(fingerprint: string, s: SplitVulnerability): VulnerabilityEntry {
  return s.modified === undefined ? [fingerprint, s.bodyHash] : [fingerprint, s.bodyHash, s.modified];
}

/** Adds a split finding's texts to those a write stores. */
export function addTexts(texts: SharedTexts, s: SplitVulnerability): void {
  texts.findings[s.bodyHash] = s.body;
  if (s.advisory) texts.advisories[s.advisory.hash] = s.advisory.text;
}

export const emptyTexts = (): SharedTexts => ({ findings: {}, advisories: {} });

// Pushes repeat the same findings image after image (rebuilds: same package list, same DB),
// differing only in digest and fingerprint, which a split leaves out. The last splits are kept
// by finding identity and reused when the finding is the same JSON but for those two (keys
// in the same order: the split's texts depend on it). Comparing is ~5× cheaper than splitting
// (two serializations and two SHA-256 look-ups of ~1 KB). Bounded.
const splitMemo = new Map<string, { finding: StoredFinding; split: SplitVulnerability }>();
const SPLIT_MEMO_ENTRIES = 5_000;

function memoKey(f: StoredFinding): string {
  const d = f.data as { package?: unknown; installedVersion?: unknown } | undefined;
  const img = f.resource.image;
  return `${f.id}\0${String(d?.package)}\0${String(d?.installedVersion)}\0${img?.path ?? ''}\0${String(img?.layer)}\0${img?.layerDigest ?? ''}`;
}

/** Same JSON, keys in the same order (plain data: parsed JSON). */
function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => sameJson(x, b[i]));
  if (Array.isArray(b)) return false;
  return sameEntries(a as Record<string, unknown>, b as Record<string, unknown>, undefined);
}

/** Same keys in the same order and the same values, `skip` aside. */
function sameEntries(a: Record<string, unknown>, b: Record<string, unknown>, skip: string | undefined, nested?: (k: string, x: unknown, y: unknown) => boolean | undefined): boolean {
  const ka = Object.keys(a).filter((k) => k !== skip);
  const kb = Object.keys(b).filter((k) => k !== skip);
  if (ka.length !== kb.length) return false;
  for (let i = 0; i < ka.length; i++) {
    const k = ka[i]!;
    if (k !== kb[i]) return false;
    const special = nested?.(k, a[k], b[k]);
    if (special === undefined ? !sameJson(a[k], b[k]) : !special) return false;
  }
  return true;
}

/** The same finding but for its fingerprint and image digest (what a split leaves out). */
function sameButImage(a: StoredFinding, b: StoredFinding): boolean {
  return sameEntries(a as unknown as Record<string, unknown>, b as unknown as Record<string, unknown>, 'fingerprint', (k, x, y) => (k !== 'resource' ? undefined
    : sameEntries(x as Record<string, unknown>, y as Record<string, unknown>, undefined, (k2, ix, iy) => (k2 !== 'image' ? undefined
      : typeof ix === 'object' && typeof iy === 'object' && ix !== null && iy !== null && sameEntries(ix as Record<string, unknown>, iy as Record<string, unknown>, 'digest')))));
}

function memoizedSplit(f: StoredFinding): SplitVulnerability {
  const key = memoKey(f);
  const hit = splitMemo.get(key);
  if (hit && sameButImage(hit.finding, f)) return hit.split;
  const split = splitVulnerability(f);
  if (splitMemo.size >= SPLIT_MEMO_ENTRIES) splitMemo.clear();
  splitMemo.set(key, { finding: f, split });
  return split;
}

/**
 * The vulnerabilities' document of canonical findings, and the texts it refers to. `named`:
 * the splits of findings a push named by address (push-work.ts), whose texts Central holds
 * already, so they are neither split again nor written.
 */
export function encodeVulnerabilities(canonical: readonly StoredFinding[], named?: ReadonlyMap<StoredFinding, SplitVulnerability>): { doc: string; texts: SharedTexts } {
  const texts = emptyTexts();
  const entries = canonical.map((f) => {
    const known = named?.get(f);
    const s = known ?? memoizedSplit(f);
    if (!known) addTexts(texts, s);
    return vulnerabilityEntry(f.fingerprint, s);
  });
  return { doc: JSON.stringify(entries), texts };
}

/** What a push stores: both documents of its canonical findings, and the shared texts. */
export function findingDocs(canonical: readonly StoredFinding[], named?: ReadonlyMap<StoredFinding, SplitVulnerability>): { vulnerabilities: string; others: string; count: number; texts: SharedTexts } {
  const { doc, texts } = encodeVulnerabilities(canonical.filter((f) => f.kind === 'vulnerability'), named);
  return { vulnerabilities: doc, others: findingsText(canonical.filter((f) => f.kind !== 'vulnerability')), count: canonical.length, texts };
}

/**
 * A vulnerabilities document with the modified times left out: two documents with the same
 * key hold the same findings but for a re-stamped time, which is not worth a rewrite.
 */
export function vulnerabilityDocKey(doc: string): string {
  return JSON.stringify((JSON.parse(doc) as VulnerabilityEntry[]).map((e) => [e[0], e[1]]));
}

/** The findings of a vulnerabilities document, rebuilt as they were pushed or matched. */
async function decodeVulnerabilities(db: Db, doc: string, digest: string): Promise<StoredFinding[]> {
  const entries = JSON.parse(doc) as VulnerabilityEntry[];
  if (entries.length === 0) return [];
  const bodies = await readSharedTexts(db, 'finding_texts', entries.map((e) => e[1]));
  const parsed = new Map([...bodies].map(([h, text]) => [h, JSON.parse(text) as FindingBody]));
  const advisoryHashes = [...parsed.values()].flatMap((b) => (b.advisory ? [b.advisory] : []));
  const advisories = await readSharedTexts(db, 'advisory_texts', advisoryHashes);
  return entries.map(([fingerprint, hash, modified]) => {
    // Parsed again per finding: findings that share a text must not share its objects.
    const body = JSON.parse(bodies.get(hash)!) as FindingBody;
    const shared = body.advisory === undefined ? {} : JSON.parse(advisories.get(body.advisory)!) as AdvisoryText;
    return joinVulnerability(body, shared, digest, modified, fingerprint) as StoredFinding;
  });
}

export interface StoredImageFindings {
  vulnerabilities: StoredFinding[];
  others: StoredFinding[];
}

/** The image's findings, or empty lists when it has none stored. */
export async function readImageFindings(db: Db, digest: string): Promise<StoredImageFindings> {
  const row = await db.selectFrom('image_finding_docs').select(['vulnerabilities', 'others']).where('image_digest', '=', digest).executeTakeFirst();
  if (!row) return { vulnerabilities: [], others: [] };
  return { vulnerabilities: await decodeVulnerabilities(db, row.vulnerabilities, digest), others: JSON.parse(row.others) as StoredFinding[] };
}

/** All of the image's findings in one list. */
export async function readAllImageFindings(db: Db, digest: string): Promise<StoredFinding[]> {
  const { vulnerabilities, others } = await readImageFindings(db, digest);
  return [...vulnerabilities, ...others];
}

/** The stored vulnerabilities' document (for re-match's unchanged test) and the other findings, parsed. */
export async function readForRematch(db: Db, digest: string): Promise<{ vulnerabilitiesDoc: string | undefined; others: StoredFinding[] }> {
  const row = await db.selectFrom('image_finding_docs').select(['vulnerabilities', 'others']).where('image_digest', '=', digest).executeTakeFirst();
  if (!row) return { vulnerabilitiesDoc: undefined, others: [] };
  return { vulnerabilitiesDoc: row.vulnerabilities, others: JSON.parse(row.others) as StoredFinding[] };
}

/**
 * Replaces the image's vulnerabilities only (a re-match), keeping its other findings. After
 * the transaction commits, the caller tells shared-texts.ts (markTextsStored).
 */
export async function replaceImageVulnerabilities(db: Db, digest: string, encoded: { doc: string; texts: SharedTexts }, vulnerabilities: number, others: number): Promise<void> {
  await writeSharedTexts(db, encoded.texts);
  const row = { vulnerabilities: encoded.doc, count: vulnerabilities + others };
  const updated = await db.updateTable('image_finding_docs').set(row).where('image_digest', '=', digest).executeTakeFirst();
  if (Number(updated.numUpdatedRows) === 0) await db.insertInto('image_finding_docs').values({ image_digest: digest, ...row, others: '[]' }).execute();
}

/** Replaces all of the image's findings (a push) with their documents (made by findingDocs). */
export async function writeImageFindingDocs(db: Db, digest: string, docs: { vulnerabilities: string; others: string; count: number; texts: SharedTexts }): Promise<void> {
  await writeSharedTexts(db, docs.texts);
  const row = { vulnerabilities: docs.vulnerabilities, others: docs.others, count: docs.count };
  await db.insertInto('image_finding_docs').values({ image_digest: digest, ...row })
    .onConflict((oc) => oc.column('image_digest').doUpdateSet(row)).execute();
}
