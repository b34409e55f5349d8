/**
 * VMware Photon OS advisories: packages.vmware.com/photon/photon_cve_metadata/cve_data_photonX.Y.json,
 * a JSON array of {cve_id, pkg, cve_score, aff_ver, res_ver[, status]}. The release comes
 * from the file name, else from the ".phN" suffix of the fixed versions. Entries with no
 * fixed version ("NA", "Not Affected") are skipped: the feed states nothing matchable.
 */
import type { Severity } from '../../findings/finding.js';
import { UserError } from '../../util/errors.js';
import type { Advisory } from '../model.js';
import { PHOTON_ECOSYSTEM } from './distros/photon.js';

interface PhotonEntry { cve_id?: unknown; pkg?: unknown; cve_score?: unknown; res_ver?: unknown; status?: unknown }

export function isPhotonCveData(doc: unknown): boolean {
  return Array.isArray(doc) && doc.length > 0 && typeof doc[0] === 'object' && doc[0] !== null && 'cve_id' in doc[0] && 'pkg' in doc[0] && 'res_ver' in doc[0];
}

/** CVSS v3 qualitative ranges; the feed gives a bare score without a vector. */
function ratingOfScore(score: number): Severity {
  if (score >= 9) return 'CRITICAL';
  if (score >= 7) return 'HIGH';
  if (score >= 4) return 'MEDIUM';
  return score > 0 ? 'LOW' : 'UNKNOWN';
}

function releaseOf(where: string, entries: PhotonEntry[]): string {
  const named = /cve_data_photon(\d+\.\d+)/.exec(where);
  if (named) return named[1]!;
  for (const e of entries) {
    const m = typeof e.res_ver === 'string' ? /\.ph(\d+)$/.exec(e.res_ver) : null;
    if (m) return `${m[1]}.0`;
  }
  throw new UserError(`${where}: Photon CVE data without a release (name the file cve_data_photonX.Y.json)`, 'bad-feed');
}

export function photonAdvisories(doc: unknown, where: string, feedDate: string): { source: string; advisories: Advisory[] } {
  const entries = doc as PhotonEntry[];
  const release = releaseOf(where, entries);
  const ecosystem = `${PHOTON_ECOSYSTEM}:${release}`;
  const source = `photon-cve:${release}`;
  const byId = new Map<string, Advisory>();
  for (const e of entries) {
    const id = typeof e.cve_id === 'string' ? e.cve_id.trim() : '';
    const pkg = typeof e.pkg === 'string' ? e.pkg.trim() : '';
    const fixed = typeof e.res_ver === 'string' ? e.res_ver.trim() : '';
    if (!id || !pkg || !fixed || fixed === 'NA' || /not affected/i.test(String(e.status ?? ''))) continue;
    let adv = byId.get(id);
    if (!adv) {
      adv = { id, source, aliases: [], cvss: [], affected: [], references: [], modified: feedDate };
      const score = typeof e.cve_score === 'number' ? e.cve_score : Number(e.cve_score);
      const rating = Number.isFinite(score) ? ratingOfScore(score) : 'UNKNOWN';
      if (rating !== 'UNKNOWN') adv.vendorSeverity = { source: 'photon', rating, text: String(score) };
      byId.set(id, adv);
    }
    adv.affected.push({ ecosystem, name: pkg, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed }] }], versions: [], status: 'fixed' });
  }
  return { source, advisories: [...byId.values()] };
}
