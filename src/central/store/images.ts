/**
 * Images and their findings. A push of a digest Central already knows updates that image
 * (refs merged, findings of the new scan replace the old) and never duplicates it.
 */
import type { Kysely, Transaction } from 'kysely';
import type { Finding } from '../../findings/finding.js';
import { withFingerprint } from '../../findings/fingerprint.js';
import type { ImageReport } from '../client/ingest-types.js';
import { readAllImageFindings, replaceImageFindings } from './image-findings.js';
import { writeImageSbom } from './image-sboms.js';
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
  const existing = await db.selectFrom('images').selectAll().where('digest', '=', digest).executeTakeFirst();
  const refs = [...new Set([...fromJson<string[]>(existing?.refs, []), ...(report.image.refs ?? [])])].sort();
  const findings = report.findings?.map((f) => withFingerprint({ ...f, resource: { ...f.resource, image: { ...f.resource.image, digest } } }));
  const row: ImagesTable = {
    digest,
    refs: toJson(refs),
    os: report.image.os ? toJson(report.image.os) : existing?.os ?? null,
    created: report.image.created ?? existing?.created ?? null,
    layers: report.image.layers ? toJson(report.image.layers) : existing?.layers ?? '[]',
    has_sbom: report.sbom ? 1 : existing?.has_sbom ?? 0,
    signature: report.signature ? toJson({ ...report.signature, checkedAt: report.signature.checkedAt ?? now }) : existing?.signature ?? null,
    summary: findings ? toJson(summarize(findings)) : existing?.summary ?? toJson(summarize([])),
    db_version: report.db?.version ?? existing?.db_version ?? null,
    scanned_at: findings ? now : existing?.scanned_at ?? null,
    first_seen: existing?.first_seen ?? now,
    last_seen: now,
  };
  if (existing) await db.updateTable('images').set(row).where('digest', '=', digest).execute();
  else await db.insertInto('images').values(row).execute();
  if (report.sbom) await writeImageSbom(db, digest, toJson(report.sbom));
  // As stored: one per fingerprint (replaceImageFindings keeps the last of each).
  const stored = findings && await replaceImageFindings(db, digest, findings);
  return { created: !existing, row, findings: stored };
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

export function imageListItem(row: Omit<ImagesTable, 'layers' | 'has_sbom'>): ImageListItem {
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
