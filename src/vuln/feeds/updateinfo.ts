/**
 * yum/dnf `updateinfo.xml` (optionally gzipped), as Amazon Linux (ALAS), Rocky Linux
 * (RLSA) and Bottlerocket (BRSA) publish their advisories: one <update> per advisory, its
 * CVEs as references, the fixed binary packages with epoch, version and release. Only
 * security updates are vulnerabilities; bug-fix and enhancement updates are skipped.
 */
import { XMLParser } from 'fast-xml-parser';
import { UserError, describeError } from '../../util/errors.js';
import type { Advisory, Affected } from '../model.js';
import { ratingFromText } from '../model.js';
import { AMAZON_ECOSYSTEM, amazonReleaseOfAdvisory } from './distros/amazon.js';
import { BOTTLEROCKET_ECOSYSTEM } from './distros/bottlerocket.js';
import { ROCKY_ECOSYSTEM } from './distros/rocky.js';

interface XmlPackage { name?: string; epoch?: string; version?: string; release?: string }
interface XmlReference { href?: string; id?: string; type?: string }
interface XmlUpdate {
  type?: string;
  id?: string;
  title?: string;
  release?: string;
  severity?: string;
  description?: string;
  issued?: { date?: string };
  updated?: { date?: string };
  references?: { reference?: XmlReference[] };
  pkglist?: { collection?: { short?: string; name?: string; package?: XmlPackage[] }[] };
}

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '',
  parseTagValue: false,
  parseAttributeValue: false,
  isArray: (name) => ['update', 'reference', 'collection', 'package'].includes(name),
});

export function looksLikeUpdateinfo(text: string): boolean {
  return /^\s*(<\?xml[^>]*>\s*)?<updates[\s>]/.test(text);
}

/** Which distribution and release an update is for, as the ecosystem key and severity source. */
function ecosystemOf(u: XmlUpdate): { key: string; vendor: string } | undefined {
  const id = u.id ?? '';
  const release = amazonReleaseOfAdvisory(id);
  if (release) return { key: `${AMAZON_ECOSYSTEM}:${release}`, vendor: 'amazon' };
  const collection = u.pkglist?.collection?.[0];
  if (/^BRSA-/.test(id) || collection?.short === 'bottlerocket') return { key: BOTTLEROCKET_ECOSYSTEM, vendor: 'bottlerocket' };
  const rocky = /Rocky Linux (\d+)/.exec(`${u.release ?? ''} ${collection?.name ?? ''}`);
  if (rocky) return { key: `${ROCKY_ECOSYSTEM}:${rocky[1]}`, vendor: 'rocky' };
  return undefined;
}

/** "2023-02-22 23:22" or "2025-06-11T19:52:52Z" → ISO 8601; undefined when unreadable. */
function isoDate(s: string | undefined): string | undefined {
  if (!s) return undefined;
  const t = Date.parse(/^\d{4}-\d\d-\d\d \d/.test(s) ? `${s.replace(' ', 'T')}Z` : s);
  return Number.isNaN(t) ? undefined : new Date(t).toISOString();
}

function evr(p: XmlPackage): string | undefined {
  if (!p.version) return undefined;
  const vr = p.release ? `${p.version}-${p.release}` : p.version;
  return p.epoch && p.epoch !== '0' ? `${p.epoch}:${vr}` : vr;
}

export function updateinfoAdvisories(text: string, where: string, feedDate: string): { source: string; advisories: Advisory[] } {
  let doc: { updates?: { update?: XmlUpdate[] } | '' };
  try {
    doc = parser.parse(text) as typeof doc;
  } catch (e) {
    throw new UserError(`${where}: cannot parse updateinfo XML: ${describeError(e)}`, 'bad-feed');
  }
  const updates = (typeof doc.updates === 'object' && doc.updates.update) || [];
  const advisories: Advisory[] = [];
  const keys = new Set<string>();
  for (const u of updates) {
    if (u.type !== 'security' || !u.id) continue;
    const eco = ecosystemOf(u);
    if (!eco) throw new UserError(`${where}: update ${u.id} is not an Amazon Linux, Rocky Linux or Bottlerocket advisory`, 'bad-feed');
    keys.add(eco.key);
    const refs = u.references?.reference ?? [];
    const severity = u.severity ? ratingFromText(u.severity) : 'UNKNOWN';
    const affected: Affected[] = [];
    const seen = new Set<string>();
    for (const c of u.pkglist?.collection ?? []) {
      for (const p of c.package ?? []) {
        const fixed = evr(p);
        if (!p.name || !fixed || seen.has(`${p.name}\0${fixed}`)) continue; // one entry per name and fix, not per arch
        seen.add(`${p.name}\0${fixed}`);
        affected.push({ ecosystem: eco.key, name: p.name, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed }] }], versions: [], status: 'fixed' });
      }
    }
    advisories.push({
      id: u.id,
      source: '', // set below, once the file's releases are known
      aliases: [...new Set(refs.filter((r) => r.type === 'cve' && r.id).map((r) => r.id!))],
      ...(u.title ? { summary: u.title } : {}),
      ...(u.description ? { details: u.description.trim() } : {}),
      cvss: [],
      ...(severity !== 'UNKNOWN' ? { vendorSeverity: { source: eco.vendor, rating: severity, text: u.severity! } } : {}),
      affected,
      references: refs.filter((r) => r.href && r.type !== 'cve').map((r) => ({ type: 'ADVISORY', url: r.href! })),
      ...(isoDate(u.issued?.date) ? { published: isoDate(u.issued?.date)! } : {}),
      modified: isoDate(u.updated?.date) ?? isoDate(u.issued?.date) ?? feedDate,
    });
  }
  const source = keys.size === 1 ? `updateinfo:${[...keys][0]}` : 'updateinfo';
  for (const a of advisories) a.source = source;
  return { source, advisories };
}

