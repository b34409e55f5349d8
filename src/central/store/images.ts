/**
 * Images and their findings. A push of a digest Central already knows updates that image
 * (refs merged, findings of the new scan replace the old) and never duplicates it.
 */
import type { Kysely, Transaction } from 'kysely';
import type { Finding } from '../../findings/finding.js';
import { withFingerprint } from '../../findings/fingerprint.js';
import type { ImageReport } from '../client/ingest-types.js';
import { chunks, fromJson, toJson } from './json.js';
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
    sbom: report.sbom ? toJson(report.sbom) : existing?.sbom ?? null,
    signature: report.signature ? toJson({ ...report.signature, checkedAt: report.signature.checkedAt ?? now }) : existing?.signature ?? null,
    summary: findings ? toJson(summarize(findings)) : existing?.summary ?? toJson(summarize([])),
    db_version: report.db?.version ?? existing?.db_version ?? null,
    scanned_at: findings ? now : existing?.scanned_at ?? null,
    first_seen: existing?.first_seen ?? now,
    last_seen: now,
  };
  if (existing) await db.updateTable('images').set(row).where('digest', '=', digest).execute();
  else await db.insertInto('images').values(row).execute();
  if (findings) await replaceImageFindings(db, digest, findings);
  // As stored: one per fingerprint (replaceImageFindings keeps the last of each).
  return { created: !existing, row, findings: findings && [...new Map(findings.map((f) => [f.fingerprint, f])).values()] };
}

/** The findings of a scan or a re-match replace the image's previous ones. */
export async function replaceImageFindings(db: Kysely<Database> | Transaction<Database>, digest: string, findings: (Finding & { fingerprint: string })[]): Promise<void> {
  await db.deleteFrom('image_findings').where('image_digest', '=', digest).execute();
  // One row per fingerprint: a scan that reports the same problem twice stores it once.
  const unique = new Map(findings.map((f) => [f.fingerprint, f]));
  for (const part of chunks([...unique.values()])) {
    await db.insertInto('image_findings').values(part.map((f) => ({
      image_digest: digest, fingerprint: f.fingerprint, finding_id: f.id, kind: f.kind, severity: f.severity, body: toJson(f),
    }))).execute();
  }
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

export function imageListItem(row: Omit<ImagesTable, 'sbom' | 'layers'>): ImageListItem {
  return {
    digest: row.digest, refs: fromJson(row.refs, []), os: fromJson(row.os, null), created: row.created,
    summary: fromJson(row.summary, summarize([])), signature: fromJson(row.signature, null), dbVersion: row.db_version,
    scannedAt: row.scanned_at, firstSeen: row.first_seen, lastSeen: row.last_seen,
  };
}

export async function imageFindings(db: Kysely<Database>, digest: string): Promise<Finding[]> {
  const rows = await db.selectFrom('image_findings').select('body').where('image_digest', '=', digest).orderBy('severity').orderBy('fingerprint').execute();
  return rows.map((r) => fromJson<Finding>(r.body, null as unknown as Finding));
}
