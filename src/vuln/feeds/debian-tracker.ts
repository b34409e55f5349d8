/**
 * The Debian security tracker JSON (`tracker/data/json`): source package → CVE → per
 * release {status, fixed_version, urgency}. Each CVE becomes one advisory with an affected
 * entry per (source package, release) under `Debian:<codename>`. fixed_version "0" means
 * that release was never affected; open issues keep their status (no fix yet, will not
 * fix, end of life) so scans can report them.
 */
import { UserError } from '../../util/errors.js';
import { ratingFromText, type Advisory, type Affected } from '../model.js';

const SOURCE = 'debian-tracker';

/** Heuristic: an object of package names whose values are objects keyed by CVE/TEMP ids. */
export function isDebianTracker(doc: unknown): boolean {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc) || 'id' in doc || 'distroversion' in doc) return false;
  for (const v of Object.values(doc).slice(0, 5)) {
    if (typeof v !== 'object' || v === null) return false;
    const keys = Object.keys(v);
    if (keys.length && !keys.some((k) => /^(CVE|TEMP)-/.test(k))) return false;
  }
  return true;
}

interface ReleaseInfo {
  status?: string;
  fixed_version?: string;
  urgency?: string;
  nodsa?: string;
  nodsa_reason?: string;
}

export function trackerAdvisories(doc: unknown, where: string, feedDate: string): { source: string; advisories: Advisory[] } {
  if (!isDebianTracker(doc)) throw new UserError(`${where}: not a Debian security tracker JSON document`, 'bad-feed');
  const collector = new TrackerCollector(feedDate);
  for (const [pkg, issues] of Object.entries(doc as Record<string, unknown>)) collector.add(pkg, issues);
  return collector.result();
}

/** Starts of a tracker document: a package name whose value is keyed by CVE/TEMP ids. */
export function looksLikeTrackerStart(head: string): boolean {
  return /^\s*\{\s*"[^"]+"\s*:\s*\{\s*"(CVE|TEMP)-/.test(head);
}

/**
 * Builds advisories package by package, so the tracker can be read as a stream (one
 * package's issues at a time); a CVE listed under several packages becomes one advisory.
 */
export class TrackerCollector {
  private readonly byId = new Map<string, Advisory>();

  constructor(private readonly feedDate: string) {}

  add(pkg: string, issuesValue: unknown): void {
    const issues = (issuesValue ?? {}) as Record<string, { description?: string; releases?: Record<string, ReleaseInfo> }>;
    if (typeof issues !== 'object' || Array.isArray(issues)) return;
    for (const [id, issue] of Object.entries(issues)) {
      let adv = this.byId.get(id);
      if (!adv) {
        adv = { id, source: SOURCE, aliases: [], cvss: [], affected: [], references: [], modified: this.feedDate };
        if (issue?.description) adv.summary = issue.description;
        adv.references.push({ type: 'ADVISORY', url: `https://security-tracker.debian.org/tracker/${id}` });
        this.byId.set(id, adv);
      }
      for (const [codename, rel] of Object.entries(issue?.releases ?? {})) {
        const fixed = rel.fixed_version;
        if (fixed === '0') continue; // never affected in this release
        const urgency = (rel.urgency ?? '').replace(/\*+$/, '');
        const entry: Affected = { ecosystem: `Debian:${codename}`, name: pkg, ranges: [], versions: [] };
        if (rel.status === 'resolved' && fixed) {
          entry.ranges.push({ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed }] });
          entry.status = 'fixed';
        } else if (rel.status === 'resolved') {
          continue; // resolved without a version: nothing to match
        } else {
          entry.ranges.push({ type: 'ECOSYSTEM', events: [{ introduced: '0' }] });
          entry.status =
            urgency === 'end-of-life' ? 'end-of-life' : rel.nodsa_reason === 'ignored' || urgency === 'unimportant' ? 'will-not-fix' : rel.status === 'undetermined' ? 'under-investigation' : 'no-fix-yet';
        }
        if (urgency && urgency !== 'end-of-life') entry.vendorSeverity = { source: 'debian', rating: ratingFromText(urgency), text: urgency };
        adv.affected.push(entry);
      }
    }
  }

  result(): { source: string; advisories: Advisory[] } {
    return { source: SOURCE, advisories: [...this.byId.values()].filter((a) => a.affected.length > 0) };
  }
}
