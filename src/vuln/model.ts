/**
 * Advisories normalized to the OSV model (https://ossf.github.io/osv-schema/), whatever feed
 * they came from. Importers produce these; the DB stores them; the matcher reads them.
 */
import type { Severity } from '../findings/finding.js';
import { scoreVector, type CvssScore } from './cvss.js';
import { UserError } from '../util/errors.js';

export type RangeEvent = { introduced: string } | { fixed: string } | { last_affected: string } | { limit: string };

export interface AffectedRange {
  type: 'ECOSYSTEM' | 'SEMVER' | 'GIT';
  events: RangeEvent[];
}

/** Distro verdict for a package with no fix (Debian tracker, OSV database_specific). */
export type FixStatus = 'fixed' | 'no-fix-yet' | 'will-not-fix' | 'end-of-life' | 'under-investigation';

export interface Affected {
  /** OSV ecosystem, with release suffix for distros: "Debian:12", "Debian:bookworm", "Alpine:v3.19". */
  ecosystem: string;
  name: string;
  purl?: string;
  ranges: AffectedRange[];
  versions: string[];
  status?: FixStatus;
  /** Distro urgency for this package, e.g. Debian's "low"/"high". */
  vendorSeverity?: { source: string; rating: Severity; text: string };
}

export interface Advisory {
  id: string;
  /** Which feed the record came from (osv, alpine-secdb, debian-tracker). */
  source: string;
  aliases: string[];
  summary?: string;
  details?: string;
  cvss: CvssScore[];
  /** Severity without a CVSS vector (GHSA text rating, distro urgency). */
  vendorSeverity?: { source: string; rating: Severity; text: string };
  affected: Affected[];
  references: { type: string; url: string }[];
  published?: string;
  modified: string;
  withdrawn?: string;
}

/** Names are compared the way each ecosystem does: PyPI per PEP 503, others exactly. */
export function normalizeName(ecosystem: string, name: string): string {
  const eco = ecosystem.split(':')[0]!.toLowerCase();
  if (eco === 'pypi') return name.toLowerCase().replace(/[-_.]+/g, '-');
  return name;
}

const TEXT_RATINGS: Record<string, Severity> = {
  critical: 'CRITICAL',
  high: 'HIGH',
  important: 'HIGH',
  moderate: 'MEDIUM',
  medium: 'MEDIUM',
  low: 'LOW',
  negligible: 'LOW',
  unimportant: 'LOW',
};

export function ratingFromText(text: string | undefined): Severity {
  return TEXT_RATINGS[(text ?? '').trim().toLowerCase()] ?? 'UNKNOWN';
}

/** The best severity we know: highest CVSS (newest version first on ties), else the vendor's. */
export function advisorySeverity(a: Pick<Advisory, 'cvss' | 'vendorSeverity'>): { rating: Severity; source: string; score?: number } {
  const order = ['4.0', '3.1', '3.0', '2.0'];
  const best = [...a.cvss].sort((x, y) => order.indexOf(x.version) - order.indexOf(y.version))[0];
  if (best) return { rating: best.rating, source: `CVSS ${best.version}`, score: best.score };
  if (a.vendorSeverity) return { rating: a.vendorSeverity.rating, source: a.vendorSeverity.source };
  return { rating: 'UNKNOWN', source: 'none' };
}

function isoDate(v: string, what: string, where: string): string {
  const d = new Date(v);
  if (Number.isNaN(d.getTime())) throw new UserError(`${where}: ${what} is not a date: "${v}"`, 'bad-feed');
  return d.toISOString();
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : v == null ? undefined : String(v));

/** Validates and normalizes one raw OSV record (JSON or YAML, any schema version). */
export function normalizeOsv(raw: unknown, source: string, where: string): Advisory {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new UserError(`${where}: not an OSV record (expected an object)`, 'bad-feed');
  const r = raw as Record<string, any>;
  const id = str(r.id);
  if (!id) throw new UserError(`${where}: OSV record without "id"`, 'bad-feed');
  const modified = str(r.modified);
  if (!modified) throw new UserError(`${where}: OSV record ${id} without "modified"`, 'bad-feed');
  const cvss: CvssScore[] = [];
  for (const s of Array.isArray(r.severity) ? r.severity : []) {
    const scored = typeof s?.score === 'string' ? scoreVector(s.score) : undefined;
    if (scored) cvss.push(scored);
  }
  const textRating = str(r.database_specific?.severity);
  const affected: Affected[] = [];
  for (const a of Array.isArray(r.affected) ? r.affected : []) {
    const ecosystem = str(a?.package?.ecosystem);
    const name = str(a?.package?.name);
    if (!ecosystem || !name) continue;
    const ranges: AffectedRange[] = [];
    for (const range of Array.isArray(a.ranges) ? a.ranges : []) {
      const type = range?.type;
      if (type !== 'ECOSYSTEM' && type !== 'SEMVER' && type !== 'GIT') continue;
      const events: RangeEvent[] = [];
      for (const e of Array.isArray(range.events) ? range.events : []) {
        for (const key of ['introduced', 'fixed', 'last_affected', 'limit'] as const) {
          const v = str(e?.[key]);
          if (v !== undefined) events.push({ [key]: v } as RangeEvent);
        }
      }
      ranges.push({ type, events });
    }
    for (const s of Array.isArray(a.severity) ? a.severity : []) {
      const scored = typeof s?.score === 'string' ? scoreVector(s.score) : undefined;
      if (scored && !cvss.some((c) => c.vector === scored.vector)) cvss.push(scored);
    }
    const entry: Affected = {
      ecosystem,
      name,
      ranges,
      versions: (Array.isArray(a.versions) ? a.versions : []).map(String),
    };
    const purl = str(a.package.purl);
    if (purl) entry.purl = purl;
    affected.push(entry);
  }
  const adv: Advisory = {
    id,
    source,
    aliases: (Array.isArray(r.aliases) ? r.aliases : []).map(String).filter((x: string) => x !== id),
    cvss,
    affected,
    references: (Array.isArray(r.references) ? r.references : [])
      .filter((x: any) => typeof x?.url === 'string')
      .map((x: any) => ({ type: String(x.type ?? 'WEB'), url: x.url as string })),
    modified: isoDate(modified, 'modified', where),
  };
  const summary = str(r.summary);
  if (summary) adv.summary = summary;
  const details = str(r.details);
  if (details) adv.details = details;
  if (textRating && ratingFromText(textRating) !== 'UNKNOWN') adv.vendorSeverity = { source: 'osv', rating: ratingFromText(textRating), text: textRating };
  const published = str(r.published);
  if (published) adv.published = isoDate(published, 'published', where);
  const withdrawn = str(r.withdrawn);
  if (withdrawn) adv.withdrawn = isoDate(withdrawn, 'withdrawn', where);
  return adv;
}
