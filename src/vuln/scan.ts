/**
 * A vulnerability scan of an inventory: match, then apply the user's filters
 * (severities, unfixed), and say whether the DB is older than allowed and which ecosystems
 * of the scanned packages it covers (a DB without the image's OS must not read as "0
 * vulnerabilities": an ecosystem with no advisories at all is warned about).
 */
import { SEVERITIES, severityRank, type Finding, type Severity } from '../findings/finding.js';
import type { Inventory } from '../inventory/inventory.js';
import type { VulnDb } from './db.js';
import { distroCoverageLabel, osDistroOf } from './feeds/distros/index.js';
import { ecosystemKeys, matchPackages } from './match.js';
import { baseEcosystem } from './versions/index.js';
import type { PolicyException } from '../policy/types.js';
import { applySuppressions } from './suppress.js';

export interface ScanOptions {
  /** Keep only these severities (default: all). */
  severities?: Severity[];
  /** Drop findings that have no fixed version. */
  ignoreUnfixed?: boolean;
  /** Warn when the DB was last updated longer ago than this (days). */
  maxDbAgeDays?: number;
  /** Ignore-file entries and VEX statements, as policy exceptions (see suppress.ts). */
  ignore?: PolicyException[];
  vex?: PolicyException[];
  now?: Date;
}

/** One ecosystem of the scanned packages and what the DB holds for it. */
export interface CoverageEntry {
  /** "debian:12", "alpine:3.19" for OS packages (the image's OS and release); the OSV name (PyPI, Go, …) otherwise. */
  ecosystem: string;
  /** Scanned packages of this ecosystem. */
  packages: number;
  /** Advisories the DB holds under the keys these packages are matched by (0: not checked at all). */
  advisories: number;
  /** When the newest source that contributed them was last updated. */
  updated?: string;
}

export interface ScanReport {
  target: string;
  os?: Inventory['os'];
  packages: number;
  findings: Finding[];
  /** Findings matched before filters, for "N of M shown". */
  matched: number;
  /** Findings suppressed by the ignore file or VEX, with the reason. */
  suppressed: { id: string; package: string; by: string }[];
  /** Ignore entries past their expiry: they no longer suppress anything. */
  expiredIgnores: PolicyException[];
  warnings: string[];
  db: { path: string; updatedAt?: string; stale: boolean };
  /** Per ecosystem of the scanned packages, what the DB covers; sorted by ecosystem. */
  coverage: CoverageEntry[];
}

/** The ecosystem a package is reported under in the coverage: OS packages by distro and release. */
function coverageLabel(pkg: Inventory['packages'][number], os: Inventory['os']): string {
  const registered = osDistroOf(pkg, os);
  if (registered && os) return distroCoverageLabel(registered, os);
  if (pkg.ecosystem.includes(':')) return pkg.ecosystem;
  const distro = baseEcosystem(pkg.ecosystem).toLowerCase();
  if (os && os.id.toLowerCase() === distro && (os.versionId ?? os.codename)) return `${distro}:${os.versionId ?? os.codename}`;
  return pkg.ecosystem;
}

/** Which ecosystems of the inventory the DB covers, with the number of advisories and their age. */
export function scanCoverage(db: VulnDb, inventory: Pick<Inventory, 'packages' | 'os'>): CoverageEntry[] {
  const groups = new Map<string, { packages: number; keys: Set<string> }>();
  for (const pkg of inventory.packages) {
    const label = coverageLabel(pkg, inventory.os);
    let g = groups.get(label);
    if (!g) groups.set(label, (g = { packages: 0, keys: new Set() }));
    g.packages++;
    for (const k of ecosystemKeys(pkg, inventory.os)) g.keys.add(k);
  }
  return [...groups]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([ecosystem, g]) => {
      const c = db.coverage([...g.keys]);
      return { ecosystem, packages: g.packages, advisories: c.advisories, ...(c.updatedAt ? { updated: c.updatedAt } : {}) };
    });
}

export function scanInventory(db: VulnDb, inventory: Inventory, target: string, opts: ScanOptions = {}): ScanReport {
  return scanInventoryDetailed(db, inventory, target, opts).report;
}

/**
 * The report, plus the vulnerabilities left after the ignore file and VEX but before the
 * display filters (--severity, --ignore-unfixed): what policies see, since a display
 * filter must not weaken a policy.
 */
export function scanInventoryDetailed(db: VulnDb, inventory: Inventory, target: string, opts: ScanOptions = {}): { report: ScanReport; vulnerabilities: Finding[] } {
  const all = matchPackages(db, inventory.packages, inventory.os);
  const now = (opts.now ?? new Date()).getTime();
  const sup = applySuppressions(all, opts.ignore, opts.vex, new Date(now));
  const keep = new Set(opts.severities?.length ? opts.severities : SEVERITIES);
  const findings = sup.kept
    .filter((f) => keep.has(f.severity))
    .filter((f) => !opts.ignoreUnfixed || typeof f.data?.fixedVersion === 'string')
    .sort((a, b) => severityRank(b.severity) - severityRank(a.severity) || String(a.data?.package).localeCompare(String(b.data?.package)) || a.id.localeCompare(b.id));
  // Only the age: the counts of status() scan the whole database.
  const updatedAt = db.updatedAt();
  const warnings = inventory.warnings.map((w) => `${w.analyzer}${w.path ? ` ${w.path}` : ''}: ${w.message}`);
  const maxAge = opts.maxDbAgeDays ?? 7;
  const stale = !updatedAt || now - Date.parse(updatedAt) > maxAge * 86_400_000;
  if (stale) warnings.push(`the vulnerability database ${updatedAt ? `was last updated ${updatedAt}` : 'has never been updated'}, more than ${maxAge} days ago (run \`gatehouse db update\`)`);
  const coverage = scanCoverage(db, inventory);
  for (const c of coverage) if (c.advisories === 0) warnings.push(`the vulnerability DB has no advisories for ${c.ecosystem} (${c.packages} ${c.packages === 1 ? 'package' : 'packages'} not checked)`);
  for (const e of sup.expired) warnings.push(`ignore entry ${e.policy}${e.package ? ` (${e.package})` : ''} expired on ${e.expires}: no longer suppressed`);
  const suppressed = sup.suppressed.map((x) => ({ id: x.finding.id, package: String(x.finding.data?.package ?? ''), by: x.by }));
  const report: ScanReport = { target, packages: inventory.packages.length, findings, matched: all.length, suppressed, expiredIgnores: sup.expired, warnings, db: { path: db.path, stale }, coverage };
  if (inventory.os) report.os = inventory.os;
  if (updatedAt) report.db.updatedAt = updatedAt;
  return { report, vulnerabilities: sup.kept };
}
