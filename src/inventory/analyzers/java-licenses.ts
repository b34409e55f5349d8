/**
 * Licences a Java archive declares: the <licenses> of the pom.xml Maven puts beside
 * pom.properties (each licence's <name>, else its <url>), or the OSGi Bundle-License
 * manifest header. The pom is parsed with fast-xml-parser with entity processing off (a
 * DOCTYPE cannot expand anything); the five predefined XML entities are decoded here.
 */
import { XMLParser } from 'fast-xml-parser';

const parser = new XMLParser({ processEntities: false, ignoreDeclaration: true, ignoreAttributes: true, parseTagValue: false, isArray: (name) => name === 'license' });
const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
const decode = (s: string) => s.replace(/&(amp|lt|gt|quot|apos);/g, (_m, e: string) => ENTITIES[e]!).trim();

export function pomLicenses(xml: Uint8Array): string[] {
  let doc: any;
  try {
    doc = parser.parse(Buffer.from(xml).toString('utf8'));
  } catch {
    return []; // an unreadable pom only costs its licences; the coordinates come from pom.properties
  }
  const list: unknown = doc?.project?.licenses?.license;
  if (!Array.isArray(list)) return [];
  const out: string[] = [];
  for (const l of list) {
    const name = typeof l?.name === 'string' ? decode(l.name) : '';
    const url = typeof l?.url === 'string' ? decode(l.url) : '';
    if (name || url) out.push(name || url);
  }
  return [...new Set(out)];
}

/** Bundle-License: comma-separated entries, each a name or URL with optional ;parameters. */
export function bundleLicenses(header: string | undefined): string[] {
  if (!header) return [];
  const out: string[] = [];
  for (const entry of header.split(/,(?=(?:[^"]*"[^"]*")*[^"]*$)/)) {
    const value = entry.split(';')[0]!.trim().replace(/^"|"$/g, '');
    if (value && value !== '<<EXTERNAL>>') out.push(value);
  }
  return out;
}
