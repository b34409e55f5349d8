/**
 * Builds the `image` policy subject (ImageFacts) the way `image scan` does: one walk of the
 * image gives the inventory, secrets and hygiene; the vulnerability DB gives the matches
 * (after the ignore file and VEX); an optional trust policy gives the signature facts
 * (through src/trust, as `image verify --policy` checks them). `fs scan` builds the same
 * subject for a directory (no config, layers, hygiene or signature).
 *
 *   loadImageSubject(ref, opts) → ImageFacts      (`policy eval --subject image REF`)
 *   scanImageSubject(ref, opts) → { facts, report, extra, inventory }   (`image scan`)
 */
import type { Finding } from '../findings/finding.js';
import { hygieneFacts, hygieneVisitors, imageHygiene } from '../hygiene/index.js';
import { openImage, parseReference, type ImageWalk, type OpenImageOptions, type OpenedImage, type ProgressReporter } from '../image/index.js';
import { inventoryDirectory, inventoryImage, type Inventory } from '../inventory/index.js';
import type { PolicyException } from '../policy/types.js';
import { evaluateTrustPolicy } from '../trust/evaluate.js';
import { registryReference } from '../trust/image-target.js';
import { loadTrustPolicy, type TrustPolicy } from '../trust/policy.js';
import { RegistryStore } from '../trust/registry-write.js';
import { UserError } from '../util/errors.js';
import { VulnDb, defaultDbPath } from '../vuln/db.js';
import { componentFacts, secretAndCheckFacts, vulnerabilityFacts, type ImageFacts, type ImageSignature } from '../vuln/image-facts.js';
import { scanInventoryDetailed, type ScanOptions, type ScanReport } from '../vuln/scan.js';

export type { ImageFacts } from '../vuln/image-facts.js';

export const SCANNERS = ['vuln', 'secret', 'hygiene'] as const;
export type Scanner = (typeof SCANNERS)[number];

export interface ImageSubjectOptions {
  /** The vulnerability DB: an open one, or a path (default ~/.cache/gatehouse/db/vuln.db). */
  db?: VulnDb | string;
  /** What to look for (default all three; secret and hygiene apply to images only). */
  scanners?: readonly Scanner[];
  /** Ignore-file entries and VEX statements (src/vuln/suppress.ts). */
  ignore?: PolicyException[];
  vex?: PolicyException[];
  /** Display filters of the report (the facts keep everything the suppressions leave). */
  severities?: ScanOptions['severities'];
  ignoreUnfixed?: boolean;
  maxDbAgeDays?: number;
  /** Hygiene: report images older than this (GH-HYG-AGE; default 180). */
  maxImageAgeDays?: number;
  /** A trust policy file (as `image verify --policy`): fills the signature facts. */
  trustPolicy?: string;
  /** How to open the image (platform, insecure, authFile, limits). */
  open?: OpenImageOptions;
  /** Layer progress while the image is read. */
  progress?: (image: OpenedImage) => { reporter?: ProgressReporter; stop(): void };
  /** The facts' clock (default: now). */
  now?: Date;
}

export interface ImageSubjectScan {
  facts: ImageFacts;
  /** The vulnerability report with the display filters applied. */
  report: ScanReport;
  /** Secret and hygiene findings of the same walk. */
  extra: Finding[];
  inventory: Inventory;
  /** The config's labels and the manifest's annotations (build provenance, for Central's service identities). */
  provenance: { labels?: Record<string, string>; annotations?: Record<string, string> };
}

/** The DB to match against, opened before anything slow (a missing DB fails first); `close` only closes what it opened. */
function openDb(db: VulnDb | string | undefined): { db: VulnDb; close(): void } {
  if (db instanceof VulnDb) return { db, close() {} };
  const opened = VulnDb.open(db ?? defaultDbPath(), { readonly: true });
  return { db: opened, close: () => opened.close() };
}

/** The registry reference signatures are looked up at (a one-line error for other transports). */
function signedReference(ref: string) {
  try {
    return registryReference(ref);
  } catch {
    throw new UserError(`--trust-policy: "${ref}" is not in a registry, where signatures live; verify the pushed image (registry/repo:tag or @sha256:…)`, 'usage');
  }
}

/** The signature facts from a trust policy, through src/trust (registry references only). */
export async function signatureFacts(ref: string, policy: TrustPolicy, open: OpenImageOptions = {}): Promise<ImageSignature> {
  const target = signedReference(ref);
  const store = new RegistryStore(target.registry, { insecure: open.insecure, authFile: open.authFile });
  try {
    const { decision, evidence } = await evaluateTrustPolicy(policy, target, store);
    const signers = [...new Set((evidence?.verified ?? []).flatMap((v) => v.keys))];
    return { signed: signers.length > 0, trusted: decision.allowed, signers, ...(decision.rule ? { rule: decision.rule } : {}), reason: decision.reason };
  } finally {
    await store.close();
  }
}

function baseFacts(ref: string, now: Date, report: ScanReport, vulns: Finding[], inventory: Inventory, extra: Finding[]): ImageFacts {
  const { secrets, checks } = secretAndCheckFacts(extra);
  const facts: ImageFacts = {
    now: now.toISOString(),
    ref,
    vulnerabilities: vulnerabilityFacts(vulns),
    components: componentFacts(inventory),
    secrets,
    checks,
  };
  if (report.os) facts.os = { id: report.os.id, ...(report.os.versionId ? { versionId: report.os.versionId } : {}), ...(report.os.prettyName ? { prettyName: report.os.prettyName } : {}) };
  return facts;
}

/** Scans an image reference like `image scan` and returns the facts with the report. */
export async function scanImageSubject(ref: string, opts: ImageSubjectOptions = {}): Promise<ImageSubjectScan> {
  const now = opts.now ?? new Date();
  const scanners = opts.scanners ?? SCANNERS;
  const hygieneOpts = { scanners: scanners.filter((s): s is 'secret' | 'hygiene' => s !== 'vuln'), maxAgeDays: opts.maxImageAgeDays ?? 180, now };
  // A trust policy that cannot be read, or a reference it cannot apply to, fails before the image is read.
  const trust = opts.trustPolicy ? await loadTrustPolicy(opts.trustPolicy) : undefined;
  if (trust) signedReference(ref);
  const vulnDb = openDb(opts.db);
  let img: OpenedImage;
  try {
    img = await openImage(ref, opts.open ?? {});
  } catch (e) {
    vulnDb.close();
    throw e;
  }
  const progress = opts.progress?.(img) ?? { stop() {} };
  let inventory: Inventory;
  let extra: Finding[] = [];
  let hygiene: ImageFacts['hygiene'];
  let facts: ImageFacts;
  let report: ScanReport;
  const provenance: ImageSubjectScan['provenance'] = {
    ...(img.config.config?.Labels ? { labels: img.config.config.Labels } : {}),
    ...(img.manifest.annotations ? { annotations: img.manifest.annotations } : {}),
  };
  try {
    let walk: ImageWalk | undefined;
    inventory = await inventoryImage(img, { progress: progress.reporter, extraVisitors: hygieneVisitors(hygieneOpts), onWalk: (w) => (walk = w) });
    if (walk) {
      extra = imageHygiene(img, walk, hygieneOpts);
      if (scanners.includes('hygiene')) hygiene = hygieneFacts(img, walk, hygieneOpts);
    }
    const scanned = scanInventoryDetailed(vulnDb.db, scanners.includes('vuln') ? inventory : { ...inventory, packages: [] }, ref, {
      severities: opts.severities, ignoreUnfixed: opts.ignoreUnfixed, maxDbAgeDays: opts.maxDbAgeDays, ignore: opts.ignore, vex: opts.vex, now,
    });
    report = scanned.report;
    facts = baseFacts(ref, now, report, scanned.vulnerabilities, inventory, extra);
    facts.digest = img.digest;
    if (img.config.created) facts.created = img.config.created;
    facts.layers = img.layers.map((l) => ({ index: l.index, digest: l.digest, ...(l.createdBy ? { createdBy: l.createdBy } : {}) }));
    if (hygiene) facts.hygiene = hygiene;
    const parsed = parseReference(ref);
    if (parsed.transport === 'docker') {
      facts.registry = parsed.registry;
      facts.repository = parsed.repository;
      if (parsed.tag) facts.tag = parsed.tag;
    } else if (parsed.transport !== 'docker-daemon' && parsed.tag) {
      facts.tag = parsed.tag;
    }
  } finally {
    progress.stop();
    vulnDb.close();
    await img.close();
  }
  if (trust) facts.signature = await signatureFacts(ref, trust, opts.open);
  return { facts, report, extra, inventory, provenance };
}

/** The image subject of REF, scanned like `image scan` does (`policy eval --subject image REF`). */
export async function loadImageSubject(ref: string, opts: ImageSubjectOptions = {}): Promise<ImageFacts> {
  return (await scanImageSubject(ref, opts)).facts;
}

/** The same subject for a directory (`fs scan DIR`): packages and vulnerabilities only. */
export async function scanDirectorySubject(dir: string, opts: ImageSubjectOptions = {}): Promise<ImageSubjectScan> {
  const now = opts.now ?? new Date();
  const scanners = opts.scanners ?? SCANNERS;
  const vulnDb = openDb(opts.db);
  let scanned: ReturnType<typeof scanInventoryDetailed>;
  let inventory: Inventory;
  try {
    inventory = await inventoryDirectory(dir);
    scanned = scanInventoryDetailed(vulnDb.db, scanners.includes('vuln') ? inventory : { ...inventory, packages: [] }, dir, {
      severities: opts.severities, ignoreUnfixed: opts.ignoreUnfixed, maxDbAgeDays: opts.maxDbAgeDays, ignore: opts.ignore, vex: opts.vex, now,
    });
  } finally {
    vulnDb.close();
  }
  const facts = baseFacts(dir, now, scanned.report, scanned.vulnerabilities, inventory, []);
  delete facts.checks;
  return { facts, report: scanned.report, extra: [], inventory, provenance: {} };
}
