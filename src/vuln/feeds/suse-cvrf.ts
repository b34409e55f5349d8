/**
 * SUSE CVRF advisories (ftp.suse.com/pub/projects/security/cvrf/cvrf-suse-su-*.xml,
 * cvrf-opensuse-su-*.xml): the product tree relates each fixed package
 * "name-version-release" to the products it ships in; each vulnerability lists the fixed
 * "product:package" ids. One advisory per document (SUSE-SU-…), its CVEs as aliases.
 */
import { XMLParser } from 'fast-xml-parser';
import type { Severity } from '../../findings/finding.js';
import { UserError, describeError } from '../../util/errors.js';
import type { Advisory, Affected } from '../model.js';
import { ratingFromText } from '../model.js';
import { openSuseKeyOfProduct } from './distros/opensuse.js';
import { sleKeyOfProduct } from './distros/suse.js';

type Text = string | { '#text'?: string };
interface Relationship { ProductReference?: string; RelatesToProductReference?: string; FullProductName?: { ProductID?: string } }
interface Vulnerability {
  CVE?: Text;
  ProductStatuses?: { Status?: { Type?: string; ProductID?: Text[] }[] };
  Threats?: { Threat?: { Type?: string; Description?: Text }[] };
}
interface CvrfDoc {
  cvrfdoc?: {
    DocumentTitle?: Text;
    DocumentTracking?: { Identification?: { ID?: Text }; InitialReleaseDate?: Text; CurrentReleaseDate?: Text };
    ProductTree?: { Relationship?: Relationship[] };
    Vulnerability?: Vulnerability[];
  };
}

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '',
  removeNSPrefix: true,
  parseTagValue: false,
  parseAttributeValue: false,
  // ProductID is also an attribute of FullProductName, which must stay a string.
  isArray: (name, _path, _leaf, isAttribute) => !isAttribute && ['Relationship', 'Vulnerability', 'Status', 'ProductID', 'Threat'].includes(name),
});

export function looksLikeCvrf(text: string): boolean {
  return /<(\w+:)?cvrfdoc[\s>]/.test(text.slice(0, 4096));
}

const str = (t: Text | undefined): string | undefined => (typeof t === 'string' ? t : t?.['#text'])?.trim();

/** "glibc-utils-32bit-2.26-lp150.11.3.2" → name glibc-utils-32bit, version-release 2.26-lp150.11.3.2. */
function splitNvr(nvr: string): { name: string; fixed: string } | undefined {
  const m = /^(.+)-([^-]+)-([^-]+)$/.exec(nvr);
  return m ? { name: m[1]!, fixed: `${m[2]}-${m[3]}` } : undefined;
}

const keyOfProduct = (product: string): string | undefined => sleKeyOfProduct(product) ?? openSuseKeyOfProduct(product);

const RANK: Severity[] = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW'];

export function cvrfAdvisories(xml: string, where: string, feedDate: string): { source: string; advisories: Advisory[] } {
  let doc: CvrfDoc;
  try {
    doc = parser.parse(xml) as CvrfDoc;
  } catch (e) {
    throw new UserError(`${where}: cannot parse CVRF XML: ${describeError(e)}`, 'bad-feed');
  }
  const root = doc.cvrfdoc;
  const id = str(root?.DocumentTracking?.Identification?.ID);
  if (!root || !id) throw new UserError(`${where}: CVRF document without DocumentTracking/Identification/ID`, 'bad-feed');
  // "product:package" → (ecosystem key, package name, fixed version-release)
  const components = new Map<string, { key: string; name: string; fixed: string }>();
  for (const r of root.ProductTree?.Relationship ?? []) {
    const key = r.RelatesToProductReference ? keyOfProduct(r.RelatesToProductReference) : undefined;
    const nvr = r.ProductReference ? splitNvr(r.ProductReference) : undefined;
    const productId = r.FullProductName?.ProductID;
    if (key && nvr && productId) components.set(productId, { key, ...nvr });
  }
  const affected: Affected[] = [];
  const seen = new Set<string>();
  const aliases: string[] = [];
  let rating: Severity = 'UNKNOWN';
  let ratingText = '';
  for (const v of root.Vulnerability ?? []) {
    const cve = str(v.CVE);
    if (cve && !aliases.includes(cve)) aliases.push(cve);
    for (const t of v.Threats?.Threat ?? []) {
      if (t.Type !== 'Impact') continue;
      const r = ratingFromText(str(t.Description));
      if (r !== 'UNKNOWN' && (rating === 'UNKNOWN' || RANK.indexOf(r) < RANK.indexOf(rating))) [rating, ratingText] = [r, str(t.Description)!];
    }
    for (const s of v.ProductStatuses?.Status ?? []) {
      if (s.Type !== 'Fixed') continue;
      for (const pid of s.ProductID ?? []) {
        const c = components.get(str(pid) ?? '');
        if (!c || seen.has(`${c.key}\0${c.name}\0${c.fixed}`)) continue;
        seen.add(`${c.key}\0${c.name}\0${c.fixed}`);
        affected.push({ ecosystem: c.key, name: c.name, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: c.fixed }] }], versions: [], status: 'fixed' });
      }
    }
  }
  const date = (t: Text | undefined): string | undefined => {
    const s = str(t);
    return s && !Number.isNaN(Date.parse(s)) ? new Date(s).toISOString() : undefined;
  };
  const published = date(root.DocumentTracking?.InitialReleaseDate);
  const source = id.startsWith('openSUSE') ? 'opensuse-cvrf' : 'suse-cvrf';
  const advisory: Advisory = {
    id,
    source,
    aliases,
    ...(str(root.DocumentTitle) ? { summary: str(root.DocumentTitle)! } : {}),
    cvss: [],
    ...(rating !== 'UNKNOWN' ? { vendorSeverity: { source: 'suse', rating, text: ratingText } } : {}),
    affected,
    references: [{ type: 'ADVISORY', url: `https://www.suse.com/support/update/announcement/${id.toLowerCase().replace(':', '')}/` }],
    ...(published ? { published } : {}),
    modified: date(root.DocumentTracking?.CurrentReleaseDate) ?? published ?? feedDate,
  };
  return { source, advisories: affected.length ? [advisory] : [] };
}
