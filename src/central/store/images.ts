/**
 * Images and their findings. A push of a digest Central already knows updates that image
 * (refs merged, findings of the new scan replace the old) and never duplicates it.
 */
import type { Kysely, Transaction } from 'kysely';
import type { Finding } from '../../findings/finding.js';
import { withFingerprint } from '../../findings/fingerprint.js';
import type { ImageReport } from '../client/ingest-types.js';
import { canonicalFindings, findingDocs, readAllImageFindings, writeImageFindingDocs } from './image-findings.js';
import { packagesHashOf, splitSbom, writeImageSbom, type SplitSbom } from './image-sboms.js';
import type { SharedTexts } from './shared-texts.js';
import { fromJson, toJson } from './json.js';
import type { Database, ImagesTable } from './schema.js';

export interface ImageSummary {
  /** Findings by kind, then by severity. */
  counts: Record<string, Record<string, number>>;
  /** Vulnerabilities with a fixed version. */
  fixable: number;
  /** Vulnerabilities the DB marks as known exploited. */
  knownExploited: number;
}

export function summarize(findings: Finding[]): ImageSummary {
  const summary: ImageSummary = { counts: {}, fixable: 0, knownExploited: 0 };
  for (const f of findings) {
    const byKind = (summary.counts[f.kind] ??= {});
    byKind[f.severity] = (byKind[f.severity] ?? 0) + 1;
    if (f.kind === 'vulnerability') {
      const data = f.data as { fixedVersion?: unknown; fixedVersions?: unknown; knownExploited?: unknown; kev?: unknown } | undefined;
      if (data?.fixedVersion || (Array.isArray(data?.fixedVersions) && data.fixedVersions.length)) summary.fixable++;
      if (data?.knownExploited || data?.kev) summary.knownExploited++;
    }
  }
  return summary;
}

/** What was stored, for evaluating the image's policies without reading it back (findings undefined when the report had none). */
export interface UpsertedImage {
  created: boolean;
  row: ImagesTable;
  findings: (Finding & { fingerprint: string })[] | undefined;
}

export async function upsertImageReport(db: Kysely<Database> | Transaction<Database>, report: ImageReport, now: string): Promise<UpsertedImage> {
  const digest = report.image.digest;
  const findings = report.findings?.map((f) => withFingerprint({ ...f, resource: { ...f.resource, image: { ...f.resource.image, digest } } }));
  // As stored: one per fingerprint (the last of each), ordered by fingerprint.
  const canonical = findings && canonicalFindings(findings);
  const prepared: PreparedImage = {
    image: report.image, signature: report.signature, db: report.db,
    sbom: report.sbom ? splitSbom(report.sbom) : undefined,
    packagesHash: report.sbom ? packagesHashOf(report.sbom) : undefined,
    findings: canonical && { ...findingDocs(canonical), summary: toJson(summarize(canonical)) },
  };
  const { created, row } = await upsertPreparedImage(db, prepared, now);
  return { created, row, findings: canonical };
}

/** An image push made ready to store: its texts already serialized (by an image worker, or upsertImageReport). */
export interface PreparedImage {
  image: ImageReport['image'];
  signature?: ImageReport['signature'];
  db?: ImageReport['db'];
  /** The SBOM as stored (its envelope, and its component list's address and text), when the push had one. */
  sbom?: SplitSbom;
  /** The content address of its package list (image-sboms.ts packagesHashOf), when known. */
  packagesHash?: string;
  /** The findings' documents and the shared texts they refer to (store/image-findings.ts findingDocs), when the push had findings. */
  findings?: { vulnerabilities: string; others: string; count: number; summary: string; texts: SharedTexts };
}

/** The image's row, if stored. */
export async function readImageRow(db: Kysely<Database> | Transaction<Database>, digest: string): Promise<ImagesTable | undefined> {
  return db.selectFrom('images').selectAll().where('digest', '=', digest).executeTakeFirst();
}

/** The row a push leaves: refs merged with the stored ones, what the push carries replacing what was stored. */
export function mergeImageRow(existing: ImagesTable | undefined, push: PreparedImage, now: string): ImagesTable {
  const refs = [...new Set([...fromJson<string[]>(existing?.refs, []), ...(push.image.refs ?? [])])].sort();
  return {
    digest: push.image.digest,
    refs: toJson(refs),
    os: push.image.os ? toJson(push.image.os) : existing?.os ?? null,
    created: push.image.created ?? existing?.created ?? null,
    layers: push.image.layers ? toJson(push.image.layers) : existing?.layers ?? '[]',
    has_sbom: push.sbom !== undefined ? 1 : existing?.has_sbom ?? 0,
    signature: push.signature ? toJson({ ...push.signature, checkedAt: push.signature.checkedAt ?? now }) : existing?.signature ?? null,
    summary: push.findings ? push.findings.summary : existing?.summary ?? toJson(summarize([])),
    db_version: push.db?.version ?? existing?.db_version ?? null,
    scanned_at: push.findings ? now : existing?.scanned_at ?? null,
    first_seen: existing?.first_seen ?? now,
    last_seen: now,
    provenance: push.image.labels || push.image.annotations
      ? toJson({ ...(push.image.labels ? { labels: push.image.labels } : {}), ...(push.image.annotations ? { annotations: push.image.annotations } : {}) })
      : existing?.provenance ?? null,
  };
}

/** Writes a push's merged row (mergeImageRow), its SBOM and its findings. */
export async function writePreparedImage(db: Kysely<Database> | Transaction<Database>, push: PreparedImage, row: ImagesTable, exists: boolean): Promise<void> {
  if (exists) await db.updateTable('images').set(row).where('digest', '=', row.digest).execute();
  else await db.insertInto('images').values(row).execute();
  if (push.sbom !== undefined) await writeImageSbom(db, row.digest, push.sbom, push.packagesHash);
  if (push.findings) await writeImageFindingDocs(db, row.digest, push.findings);
}

/** Stores a prepared push: a digest already known is updated, never duplicated. */
export async function upsertPreparedImage(db: Kysely<Database> | Transaction<Database>, push: PreparedImage, now: string): Promise<{ created: boolean; row: ImagesTable }> {
  const existing = await readImageRow(db, push.image.digest);
  const row = mergeImageRow(existing, push, now);
  await writePreparedImage(db, push, row, existing !== undefined);
  return { created: !existing, row };
}

export interface ImageListItem {
  digest: string;
  refs: string[];
  os: { family: string; version?: string } | null;
  created: string | null;
  summary: ImageSummary;
  signature: Record<string, unknown> | null;
  dbVersion: string | null;
  scannedAt: string | null;
  firstSeen: string;
  lastSeen: string;
}

export function imageListItem(row: Omit<ImagesTable, 'layers' | 'has_sbom' | 'provenance'>): ImageListItem {
  return {
    digest: row.digest, refs: fromJson(row.refs, []), os: fromJson(row.os, null), created: row.created,
    summary: fromJson(row.summary, summarize([])), signature: fromJson(row.signature, null), dbVersion: row.db_version,
    scannedAt: row.scanned_at, firstSeen: row.first_seen, lastSeen: row.last_seen,
  };
}

export async function imageFindings(db: Kysely<Database>, digest: string): Promise<Finding[]> {
  // In the order the API always gave: by severity's name, then fingerprint.
  return (await readAllImageFindings(db, digest)).sort((a, b) => (a.severity < b.severity ? -1 : a.severity > b.severity ? 1 : a.fingerprint < b.fingerprint ? -1 : a.fingerprint > b.fingerprint ? 1 : 0));
}
