/**
 * The image side of bench:central, built once per run from real parts: the debootstrap-built
 * Debian test image read by the real image reader and inventory, grown to 500 packages with
 * PyPI packages named after real PyPA advisories (as an application image's pip layer would
 * be), a vulnerability DB made by the real feed importer (those PyPA advisories plus a Debian
 * tracker over the image's own source packages), and the real CycloneDX writer and matcher.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openImage } from '../../src/image/index.js';
import { inventoryImage, sbomFormats, type Inventory } from '../../src/inventory/index.js';
import type { Package } from '../../src/inventory/package.js';
import type { Finding } from '../../src/findings/finding.js';
import { VulnDb } from '../../src/vuln/db.js';
import { importPath } from '../../src/vuln/feeds/index.js';
import { scanInventoryDetailed } from '../../src/vuln/scan.js';
import { vulnDbVersion } from '../../src/central/images/db-version.js';
import type { ImageReport } from '../../src/central/client/ingest-types.js';
import { imageRef } from './inventory.js';

export const PACKAGES_PER_IMAGE = 500;

export interface ImageFixture {
  sbom: Record<string, unknown>;
  findings: Finding[];
  dbPath: string;
  dbVersion: string;
  /**
   * The next day's DB: the same plus new advisories for five source packages every image
   * has, so re-matching against it changes every image's findings a little (a daily update).
   */
  laterDbPath: string;
  laterDbVersion: string;
  packages: number;
}

export async function buildImageFixture(ociDir: string, pypaDir: string, work: string): Promise<ImageFixture> {
  const img = await openImage(`oci:${ociDir}:debian`);
  let base: Inventory;
  try {
    base = await inventoryImage(img);
  } finally {
    await img.close();
  }
  // Application packages: real PyPI names with advisories, at versions past most of them.
  const names = readdirSync(pypaDir).filter((n) => !n.startsWith('.')).sort();
  const extra: Package[] = [];
  for (let k = 0; base.packages.length + extra.length < PACKAGES_PER_IMAGE; k++) {
    const name = names[k % names.length]!;
    const version = k % 40 === 0 ? '1.0.0' : `${20 + (k % 5)}.${k % 10}.0`;
    extra.push({ ecosystem: 'PyPI', name, version, purl: `pkg:pypi/${name}@${version}`, location: { path: `/usr/lib/python3/dist-packages/${name}-${version}.dist-info/METADATA` }, analyzer: 'python-dist' } as Package);
  }
  const inventory: Inventory = { ...base, packages: [...base.packages, ...extra] };

  // A Debian tracker over the image's source packages: some fixed after the installed
  // version (fixable), some open, some fixed long ago (never a finding).
  const codename = inventory.os?.codename ?? 'bookworm';
  const sources = new Map<string, string>();
  for (const p of base.packages) if (p.ecosystem === 'Debian') sources.set(p.source?.name ?? p.name, p.source?.version ?? p.version);
  const tracker: Record<string, Record<string, unknown>> = {};
  const urgency = ['low', 'medium', 'high', 'unimportant'];
  [...sources.keys()].sort().forEach((src, i) => {
    const installed = sources.get(src)!;
    const rel = (r: Record<string, unknown>) => ({ releases: { [codename]: r } });
    const entries: Record<string, unknown> = { [`CVE-2020-${10000 + i}`]: rel({ status: 'resolved', fixed_version: '0.0.1-1', urgency: 'high' }) };
    if (i % 2 === 0) entries[`CVE-2024-${20000 + i}`] = rel({ status: 'resolved', fixed_version: `${installed}+deb12u1`, urgency: urgency[i % 4] });
    if (i % 3 === 0) entries[`CVE-2025-${30000 + i}`] = rel({ status: 'open', urgency: urgency[(i + 1) % 4] });
    tracker[src] = entries;
  });
  const trackerFile = join(work, 'debian-tracker.json');
  writeFileSync(trackerFile, JSON.stringify(tracker));
  const dbPath = join(work, 'vuln.db');
  const db = VulnDb.open(dbPath, { create: true });
  let closed = false;
  try {
    // A third of the application packages have advisories in the DB (about 100 findings per image, as the issue sizes them).
    for (const name of [...new Set(extra.map((p) => p.name))].filter((_, k) => k % 3 === 0)) await importPath(db, join(pypaDir, name));
    await importPath(db, trackerFile);
    const findings = scanInventoryDetailed(db, inventory, 'bench').vulnerabilities;
    const sbom = JSON.parse(sbomFormats.cyclonedx!({ target: { kind: 'image', name: 'registry.example/bench/app:1.0', digest: 'sha256:0' }, inventory, toolVersion: 'bench' })) as Record<string, unknown>;
    const dbVersion = vulnDbVersion(db);
    db.close();
    closed = true;
    const laterDbPath = join(work, 'vuln-later.db');
    copyFileSync(dbPath, laterDbPath);
    const later = VulnDb.open(laterDbPath);
    try {
      const update: Record<string, Record<string, unknown>> = {};
      [...sources.keys()].sort().slice(0, 5).forEach((src, i) => {
        update[src] = { [`CVE-2026-${40000 + i}`]: { releases: { [codename]: { status: 'open', urgency: 'medium' } } } };
      });
      const updateFile = join(work, 'debian-tracker-update.json');
      writeFileSync(updateFile, JSON.stringify(update));
      await importPath(later, updateFile);
      return { sbom, findings, dbPath, dbVersion, laterDbPath, laterDbVersion: vulnDbVersion(later), packages: inventory.packages.length };
    } finally {
      later.close();
    }
  } finally {
    if (!closed) db.close();
  }
}

/**
 * Scan `k` of an ingest run named `key` (bench:central's rows, bench/central/push-cpu.ts): a new
 * build of the tag of one of `deployments` deployed images. `newList`: its component list
 * differs from every other push's (one package's version is this build's own).
 */
export function ingestReport(fx: ImageFixture, deployments: number, key: string, k: number, newList = false): ImageReport {
  const digest = `sha256:${createHash('sha256').update(`bench-central-ingest-${key}-${k}`).digest('hex')}`;
  const components = fx.sbom.components as Record<string, unknown>[];
  const own = newList ? components.map((c, i) => (i === 1 + (k % (components.length - 1)) ? { ...c, version: `${String(c.version)}+b${k}`, purl: `${String(c.purl)}-b${k}` } : c)) : components;
  return {
    // A new build of a deployed image's tag (inventory.ts imageRef without its pin): the live evaluator re-scores the deployments running it.
    image: { digest, refs: [imageRef(k * 7 % deployments).replace(/@.*$/, '')], os: { family: 'debian', version: '12' }, created: '2026-11-20T08:00:00Z', layers: [{ digest: `sha256:${'1'.repeat(64)}`, size: 30_000_000, createdBy: 'debootstrap' }] },
    sbom: { ...fx.sbom, serialNumber: `urn:uuid:00000000-0000-4000-8000-${k.toString(16).padStart(12, '0')}`, components: own },
    findings: fx.findings.map((f) => ({ ...f, resource: { ...f.resource, image: { ...(f.resource as { image?: object }).image, digest } } })) as ImageReport['findings'],
    db: { version: fx.dbVersion },
  };
}
