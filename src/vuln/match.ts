/**
 * Matches inventory packages against the DB. OS packages are looked up the way their feed
 * keys them (Debian: source package + release, as "Debian:12" and "Debian:bookworm";
 * Alpine: origin + branch "Alpine:v3.N"; Ubuntu: "Ubuntu:22.04[:LTS]"); language packages
 * by ecosystem + normalized name. Ranges are evaluated per the OSV spec with the
 * ecosystem's version order.
 */
import type { Finding, Severity } from '../findings/finding.js';
import type { OsInfo, Package } from '../inventory/package.js';
import type { VulnDb } from './db.js';
import { distroIdentity, osDistroOf } from './feeds/distros/index.js';
import { advisorySeverity, type Advisory, type Affected, type AffectedRange, type FixStatus } from './model.js';
import { baseEcosystem, findScheme, type Order, type VersionScheme } from './versions/index.js';

export interface MatchedVulnerability {
  advisory: Advisory;
  affected: Affected;
  package: Package;
  /** The version compared: the source version for Debian, the package version otherwise. */
  version: string;
  fixedVersion?: string;
  status: FixStatus;
  /**
   * The severity of another record for the same vulnerability (the GHSA or NVD-derived
   * record of a CVE alias), used when the matched advisory has none of its own — Go vulndb
   * records never carry one.
   */
  aliasSeverity?: AliasSeverity;
}

export interface AliasSeverity {
  rating: Severity;
  source: string;
  score?: number;
  /** The id of the record the severity was taken from. */
  from: string;
}

const DISTROS = new Set(['debian', 'ubuntu', 'alpine']);

/** Debian releases: OSV keys on the number, the tracker on the codename; images may give either. */
const DEBIAN_CODENAMES: Record<string, string> = { '8': 'jessie', '9': 'stretch', '10': 'buster', '11': 'bullseye', '12': 'bookworm', '13': 'trixie', '14': 'forky' };

/** Ecosystem keys the feeds use for this package (with release suffixes for distros). */
export function ecosystemKeys(pkg: Package, os?: OsInfo): string[] {
  const registered = osDistroOf(pkg, os);
  if (registered && os) return registered.keys(os);
  const base = baseEcosystem(pkg.ecosystem);
  const distro = base.toLowerCase();
  if (!DISTROS.has(distro)) return [pkg.ecosystem];
  const keys = new Set<string>();
  if (pkg.ecosystem.includes(':')) keys.add(pkg.ecosystem);
  const versionId = os?.versionId;
  if (distro === 'debian') {
    const major = versionId ? /^\d+/.exec(versionId)?.[0] : Object.keys(DEBIAN_CODENAMES).find((k) => DEBIAN_CODENAMES[k] === os?.codename);
    const codename = os?.codename ?? (major ? DEBIAN_CODENAMES[major] : undefined);
    if (major) keys.add(`Debian:${major}`);
    if (codename) keys.add(`Debian:${codename}`);
  } else if (distro === 'ubuntu') {
    if (versionId) {
      keys.add(`Ubuntu:${versionId}`);
      keys.add(`Ubuntu:${versionId}:LTS`);
    }
  } else if (distro === 'alpine') {
    const m = versionId ? /^(\d+)\.(\d+)/.exec(versionId) : null;
    if (m) keys.add(`Alpine:v${m[1]}.${m[2]}`);
  }
  return [...keys];
}

/** The name and version the feeds use: Debian/Ubuntu key on the source package. */
function lookupIdentity(pkg: Package, os?: OsInfo): { name: string; version: string } {
  const registered = osDistroOf(pkg, os);
  if (registered) return distroIdentity(registered, pkg);
  const distro = baseEcosystem(pkg.ecosystem).toLowerCase();
  if (distro === 'debian' || distro === 'ubuntu') return { name: pkg.source?.name ?? pkg.name, version: pkg.source?.version ?? pkg.version };
  if (distro === 'alpine') return { name: pkg.source?.name ?? pkg.name, version: pkg.version };
  return { name: pkg.name, version: pkg.version };
}

function safeCompare(scheme: VersionScheme, a: string, b: string): Order | undefined {
  try {
    return scheme.compare(a, b);
  } catch {
    return undefined;
  }
}

type Event = { kind: 'introduced' | 'fixed' | 'last_affected' | 'limit'; version: string };

function eventsOf(range: AffectedRange): Event[] {
  return range.events.map((e) => {
    const kind = Object.keys(e)[0] as Event['kind'];
    return { kind, version: (e as Record<string, string>)[kind]! };
  });
}

/** OSV range evaluation: affected after an introduced ≤ v, until a fixed ≤ v or last_affected < v. */
export function rangeVerdict(scheme: VersionScheme, version: string, range: AffectedRange): { affected: boolean; fixed?: string } {
  const events = eventsOf(range).filter((e) => (e.kind === 'introduced' && e.version === '0') || safeCompare(scheme, e.version, e.version) !== undefined);
  const key = (e: Event): string => e.version;
  events.sort((x, y) => {
    if (x.kind === 'introduced' && x.version === '0') return -1;
    if (y.kind === 'introduced' && y.version === '0') return 1;
    return safeCompare(scheme, key(x), key(y)) ?? 0;
  });
  let affected = false;
  for (const e of events) {
    const c = e.kind === 'introduced' && e.version === '0' ? 1 : safeCompare(scheme, version, e.version)!;
    if (e.kind === 'introduced' && c >= 0) affected = true;
    else if (e.kind === 'fixed' && c >= 0) affected = false;
    else if (e.kind === 'last_affected' && c > 0) affected = false;
    else if (e.kind === 'limit' && c >= 0) affected = false;
  }
  if (!affected) return { affected };
  const fixed = events.find((e) => e.kind === 'fixed' && safeCompare(scheme, version, e.version) === -1);
  return fixed ? { affected, fixed: fixed.version } : { affected };
}

/** Whether `version` is affected by one affected entry, and the version that fixes it. */
export function affectedVerdict(scheme: VersionScheme, version: string, affected: Affected): { affected: boolean; fixed?: string } {
  for (const v of affected.versions) if (v === version || safeCompare(scheme, v, version) === 0) return { affected: true, ...firstFix(scheme, version, affected) };
  for (const range of affected.ranges) {
    if (range.type === 'GIT') continue;
    const verdict = rangeVerdict(scheme, version, range);
    if (verdict.affected) return verdict;
  }
  return { affected: false };
}

function firstFix(scheme: VersionScheme, version: string, affected: Affected): { fixed?: string } {
  for (const range of affected.ranges) {
    if (range.type === 'GIT') continue;
    const v = rangeVerdict(scheme, version, range);
    if (v.fixed) return { fixed: v.fixed };
  }
  return {};
}

/** Whether an advisory (or the affected entry matched) carries a severity of its own. */
function hasOwnSeverity(adv: Advisory, affected: Affected): boolean {
  return adv.cvss.length > 0 || adv.vendorSeverity !== undefined || affected.vendorSeverity !== undefined;
}

const CVSS_ORDER = ['CVSS 4.0', 'CVSS 3.1', 'CVSS 3.0', 'CVSS 2.0'];

/**
 * The best severity among the other records the DB holds for an advisory's aliases (as
 * Trivy takes a Go vulndb entry's severity from its CVE): CVSS before a text rating, the
 * newest CVSS version first, then the highest score; ties go to the alias listed first.
 */
export function severityFromAliases(db: Pick<VulnDb, 'byAlias'>, adv: Advisory): AliasSeverity | undefined {
  let best: AliasSeverity | undefined;
  const rank = (s: AliasSeverity): number => {
    const i = CVSS_ORDER.indexOf(s.source);
    return i < 0 ? CVSS_ORDER.length : i;
  };
  for (const alias of adv.aliases) {
    for (const other of db.byAlias(alias)) {
      if (other.id === adv.id && other.source === adv.source) continue;
      if (other.withdrawn) continue;
      const sev = advisorySeverity(other);
      if (sev.rating === 'UNKNOWN') continue;
      const cand: AliasSeverity = { rating: sev.rating, source: sev.source, from: other.id, ...(sev.score !== undefined ? { score: sev.score } : {}) };
      if (!best || rank(cand) < rank(best) || (rank(cand) === rank(best) && (cand.score ?? -1) > (best.score ?? -1))) best = cand;
    }
  }
  return best;
}

/** The first CVE id of an advisory: its own id or an alias. */
export function cveOf(adv: Pick<Advisory, 'id' | 'aliases'>): string | undefined {
  if (adv.id.startsWith('CVE-')) return adv.id;
  return adv.aliases.find((a) => a.startsWith('CVE-'));
}

/** Every (advisory, package) pair that affects an installed package. */
export function matchVulnerabilities(db: VulnDb, packages: Package[], os?: OsInfo): MatchedVulnerability[] {
  const out: MatchedVulnerability[] = [];
  const seen = new Set<string>();
  // Images often hold the same package many times (node_modules, vendored jars): look up once.
  const cache = new Map<string, ReturnType<VulnDb['candidates']>>();
  const candidates = (key: string, name: string): ReturnType<VulnDb['candidates']> => {
    const k = `${key}\0${name}`;
    let c = cache.get(k);
    if (!c) cache.set(k, (c = db.candidates(key, name)));
    return c;
  };
  const aliasCache = new Map<string, AliasSeverity | undefined>();
  const aliasSeverity = (adv: Advisory): AliasSeverity | undefined => {
    const k = `${adv.source}\0${adv.id}`;
    if (!aliasCache.has(k)) aliasCache.set(k, severityFromAliases(db, adv));
    return aliasCache.get(k);
  };
  for (const pkg of packages) {
    const scheme = findScheme(osDistroOf(pkg, os)?.scheme ?? pkg.ecosystem);
    if (!scheme) continue; // an ecosystem we have no version order for cannot be matched
    const { name, version } = lookupIdentity(pkg, os);
    try {
      scheme.validate(version);
    } catch {
      continue;
    }
    for (const key of ecosystemKeys(pkg, os)) {
      for (const { advisory, affectedIndex } of candidates(key, name)) {
        const affected = advisory.affected[affectedIndex];
        if (!affected) continue;
        const verdict = affectedVerdict(scheme, version, affected);
        if (!verdict.affected) continue;
        const dedupe = `${advisory.id}\0${pkg.name}\0${pkg.version}\0${pkg.location.path}`;
        if (seen.has(dedupe)) continue;
        seen.add(dedupe);
        const status: FixStatus = verdict.fixed ? 'fixed' : (affected.status && affected.status !== 'fixed' ? affected.status : 'no-fix-yet');
        const m: MatchedVulnerability = { advisory, affected, package: pkg, version, status };
        if (verdict.fixed) m.fixedVersion = verdict.fixed;
        if (!hasOwnSeverity(advisory, affected) && advisory.aliases.length) {
          const s = aliasSeverity(advisory);
          if (s) m.aliasSeverity = s;
        }
        out.push(m);
      }
    }
  }
  return out;
}

const STATUS_TEXT: Record<FixStatus, string> = {
  fixed: 'fixed',
  'no-fix-yet': 'no fix yet',
  'will-not-fix': 'will not fix',
  'end-of-life': 'end of life',
  'under-investigation': 'under investigation',
};

export function toFinding(m: MatchedVulnerability): Finding {
  const { advisory: adv, package: pkg } = m;
  let sev: { rating: Severity; source: string } = adv.cvss.length ? advisorySeverity(adv) : m.affected.vendorSeverity ? { rating: m.affected.vendorSeverity.rating, source: m.affected.vendorSeverity.source } : advisorySeverity(adv);
  if (sev.rating === 'UNKNOWN' && m.aliasSeverity) sev = { rating: m.aliasSeverity.rating, source: `${m.aliasSeverity.source} (${m.aliasSeverity.from})` };
  // The id stays the advisory's own (GO-…, GHSA-…: what ignore files and VEX already name);
  // the CVE alias is shown beside it, as Trivy shows the CVE of a Go vulndb entry.
  const cve = cveOf(adv);
  const shownId = cve && cve !== adv.id ? `${adv.id} (${cve})` : adv.id;
  const references = adv.references.map((r) => r.url);
  if (cve && !references.some((u) => u.endsWith(`/${cve}`))) references.push(`https://nvd.nist.gov/vuln/detail/${cve}`);
  const finding: Finding = {
    id: adv.id,
    kind: 'vulnerability',
    severity: sev.rating,
    title: `${shownId}: ${pkg.name} ${pkg.version}${adv.summary ? ` — ${adv.summary.split('\n')[0]}` : ''}`,
    resource: { image: { path: pkg.location.path, ...(pkg.location.layer !== undefined ? { layer: pkg.location.layer } : {}), ...(pkg.location.layerDigest ? { layerDigest: pkg.location.layerDigest } : {}) } },
    remediation: m.fixedVersion ? `upgrade ${pkg.name} to ${m.fixedVersion}` : STATUS_TEXT[m.status],
    references,
    data: {
      package: pkg.name,
      ecosystem: pkg.ecosystem,
      purl: pkg.purl,
      installedVersion: pkg.version,
      matchedName: m.affected.name,
      matchedVersion: m.version,
      matchedEcosystem: m.affected.ecosystem,
      fixedVersion: m.fixedVersion,
      status: m.status,
      aliases: adv.aliases,
      ...(cve && cve !== adv.id ? { cve } : {}),
      severitySource: sev.source,
      cvss: adv.cvss,
      feed: adv.source,
      published: adv.published,
      modified: adv.modified,
    },
  };
  if (adv.details ?? adv.summary) finding.detail = adv.details ?? adv.summary;
  return finding;
}

/** The engine's entry point: vulnerability findings for the packages of one image or directory. */
export function matchPackages(db: VulnDb, packages: Package[], os?: OsInfo): Finding[] {
  return matchVulnerabilities(db, packages, os).map(toFinding);
}
