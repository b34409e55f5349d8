/**
 * Central scanning an image itself, with the engines `image scan` uses (src/image,
 * src/inventory, src/hygiene, src/vuln): one walk gives the inventory, secrets and hygiene
 * findings; the vulnerability DB gives the matches; the result is the same ImageReport a
 * CLI push sends, so it is stored by the same upsertImageReport.
 */
import { hygieneVisitors, imageHygiene } from '../../hygiene/index.js';
import { openImage, type ImageWalk, type OpenImageOptions } from '../../image/index.js';
import { inventoryImage, sbomFormats } from '../../inventory/index.js';
import { GATEHOUSE_VERSION } from '../../version.js';
import type { VulnDb } from '../../vuln/db.js';
import { matchPackages } from '../../vuln/match.js';
import type { ImageReport } from '../client/ingest-types.js';

export interface ScanForCentralOptions {
  /** How to reach the image (registry credentials, insecure, engine socket). */
  open?: OpenImageOptions;
  /** The DB to match against and its version (stored as images.db_version). */
  db?: { db: VulnDb; version: string };
  /** References to record the image under (default: the one scanned). */
  refs?: string[];
  now?: Date;
}

export async function scanImageForCentral(ref: string, opts: ScanForCentralOptions = {}): Promise<ImageReport> {
  const now = opts.now ?? new Date();
  const hygieneOpts = { now };
  const img = await openImage(ref, opts.open ?? {});
  try {
    let walk: ImageWalk | undefined;
    const inventory = await inventoryImage(img, { extraVisitors: hygieneVisitors(hygieneOpts), onWalk: (w) => (walk = w) });
    const extra = walk ? imageHygiene(img, walk, hygieneOpts) : [];
    const vulns = opts.db ? matchPackages(opts.db.db, inventory.packages, inventory.os) : [];
    const sbom = JSON.parse(sbomFormats.cyclonedx!({ target: { kind: 'image', name: ref, digest: img.digest }, inventory, toolVersion: GATEHOUSE_VERSION, now })) as Record<string, unknown>;
    const report: ImageReport = {
      image: {
        digest: img.digest,
        refs: opts.refs ?? [ref],
        ...(inventory.os ? { os: { family: inventory.os.id, ...(inventory.os.versionId ? { version: inventory.os.versionId } : {}) } } : {}),
        ...(img.config.created ? { created: img.config.created } : {}),
        layers: img.layers.map((l) => ({ digest: l.digest, size: l.size, ...(l.createdBy ? { createdBy: l.createdBy } : {}) })),
        ...(img.config.config?.Labels && Object.keys(img.config.config.Labels).length ? { labels: img.config.config.Labels } : {}),
        ...(img.manifest.annotations && Object.keys(img.manifest.annotations).length ? { annotations: img.manifest.annotations } : {}),
      },
      sbom,
      findings: [...vulns, ...extra],
    };
    if (opts.db) report.db = { version: opts.db.version, ...(opts.db.db.updatedAt() ? { updatedAt: opts.db.db.updatedAt() } : {}) };
    return report;
  } finally {
    await img.close();
  }
}
