/**
 * Vulnerability counts by severity for one image: the same inventory and matching as
 * `gatehouse image scan` (vulnerabilities only, no suppressions), for callers that need
 * totals rather than findings, such as `registry audit`.
 */
import { SEVERITIES, type Severity } from '../findings/finding.js';
import { openImage, type OpenImageOptions } from '../image/index.js';
import { inventoryImage } from '../inventory/index.js';
import type { VulnDb } from './db.js';
import { scanInventory } from './scan.js';

export type SeverityCounts = Record<Severity, number>;

export async function countImageVulnerabilities(db: VulnDb, ref: string, opts: OpenImageOptions = {}): Promise<SeverityCounts> {
  const img = await openImage(ref, opts);
  try {
    const inventory = await inventoryImage(img);
    const report = scanInventory(db, inventory, ref, { maxDbAgeDays: Number.POSITIVE_INFINITY });
    const counts = Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as SeverityCounts;
    for (const f of report.findings) counts[f.severity]++;
    return counts;
  } finally {
    await img.close();
  }
}
