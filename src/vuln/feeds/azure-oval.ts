/**
 * Azure Linux / CBL-Mariner OVAL (github.com/microsoft/AzureLinuxVulnerabilityData,
 * `azurelinux-3.0-oval.xml`, `cbl-mariner-2.0-oval.xml`): each vulnerability definition is
 * one CVE for one source package, its criteria rpminfo tests on EVR ("less than" = fixed
 * in, "less than or equal" = last affected, "greater than" = introduced). The release is
 * in the file name, as Microsoft publishes it.
 */
import { XMLParser } from 'fast-xml-parser';
import { UserError, describeError } from '../../util/errors.js';
import type { Advisory, AffectedRange, RangeEvent } from '../model.js';
import { ratingFromText } from '../model.js';
import { AZURE_ECOSYSTEM } from './distros/azurelinux.js';

type Text = string | { '#text'?: string };
interface Criterion { test_ref?: string }
interface Definition {
  class?: string;
  id?: string;
  metadata?: { title?: string; reference?: { ref_id?: string; ref_url?: string; source?: string }[]; severity?: Text; advisory_date?: Text; advisory_id?: Text; description?: Text };
  criteria?: { criterion?: Criterion[] };
}
interface RpmTest { id?: string; object?: { object_ref?: string }; state?: { state_ref?: string } }
interface OvalDoc {
  oval_definitions?: {
    definitions?: { definition?: Definition[] };
    tests?: { rpminfo_test?: RpmTest[] };
    objects?: { rpminfo_object?: { id?: string; name?: Text }[] };
    states?: { rpminfo_state?: { id?: string; evr?: { '#text'?: string; operation?: string } }[] };
  };
}

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '',
  removeNSPrefix: true,
  parseTagValue: false,
  parseAttributeValue: false,
  isArray: (name) => ['definition', 'reference', 'criterion', 'rpminfo_test', 'rpminfo_object', 'rpminfo_state'].includes(name),
});

export function looksLikeOval(text: string): boolean {
  return /<(\w+:)?oval_definitions[\s>]/.test(text.slice(0, 4096));
}

const text = (t: Text | undefined): string | undefined => (typeof t === 'string' ? t : t?.['#text']);

const EVENT_OF: Record<string, (v: string) => RangeEvent> = {
  'less than': (v) => ({ fixed: v }),
  'less than or equal': (v) => ({ last_affected: v }),
  'greater than': (v) => ({ introduced: v }),
  'greater than or equal': (v) => ({ introduced: v }),
};

export function azureOvalAdvisories(xml: string, where: string, feedDate: string): { source: string; advisories: Advisory[] } {
  const release = /(?:azurelinux|cbl-mariner)-(\d+\.\d+)/.exec(where)?.[1];
  if (!release) throw new UserError(`${where}: Azure Linux OVAL without a release in its name (expected azurelinux-X.Y-oval.xml or cbl-mariner-X.Y-oval.xml)`, 'bad-feed');
  let doc: OvalDoc;
  try {
    doc = parser.parse(xml) as OvalDoc;
  } catch (e) {
    throw new UserError(`${where}: cannot parse OVAL XML: ${describeError(e)}`, 'bad-feed');
  }
  const root = doc.oval_definitions;
  if (!root) throw new UserError(`${where}: not an OVAL definitions document`, 'bad-feed');
  const ecosystem = `${AZURE_ECOSYSTEM}:${release}`;
  const source = `azure-oval:${release}`;
  const tests = new Map((root.tests?.rpminfo_test ?? []).map((t) => [t.id, t]));
  const objects = new Map((root.objects?.rpminfo_object ?? []).map((o) => [o.id, text(o.name)]));
  const states = new Map((root.states?.rpminfo_state ?? []).map((s) => [s.id, s.evr]));
  const byId = new Map<string, Advisory>();
  for (const def of root.definitions?.definition ?? []) {
    if (def.class !== 'vulnerability' || !def.id) continue;
    const cve = def.metadata?.reference?.find((r) => r.source === 'CVE' && r.ref_id)?.ref_id;
    let name: string | undefined;
    const events: RangeEvent[] = [];
    for (const c of def.criteria?.criterion ?? []) {
      const t = tests.get(c.test_ref);
      const pkg = objects.get(t?.object?.object_ref);
      const evr = states.get(t?.state?.state_ref);
      const toEvent = evr?.operation ? EVENT_OF[evr.operation] : undefined;
      if (!pkg || !evr?.['#text'] || !toEvent) continue;
      name ??= pkg;
      if (pkg === name) events.push(toEvent(evr['#text']));
    }
    if (!name || !events.some((e) => 'fixed' in e || 'last_affected' in e)) continue;
    if (!events.some((e) => 'introduced' in e)) events.unshift({ introduced: '0' });
    const range: AffectedRange = { type: 'ECOSYSTEM', events };
    const severity = text(def.metadata?.severity);
    const rating = ratingFromText(severity);
    const date = text(def.metadata?.advisory_date);
    const affected = { ecosystem, name, ranges: [range], versions: [], status: events.some((e) => 'fixed' in e) ? ('fixed' as const) : ('no-fix-yet' as const) };
    // A CVE has one definition per package: one advisory per CVE (as Trivy reports them), one affected entry per definition.
    const id = cve ?? def.id;
    const known = byId.get(id);
    if (known) {
      known.affected.push(affected);
      continue;
    }
    byId.set(id, {
      id,
      source,
      aliases: [],
      ...(def.metadata?.title ? { summary: def.metadata.title } : {}),
      ...(text(def.metadata?.description) ? { details: text(def.metadata?.description)! } : {}),
      cvss: [],
      ...(rating !== 'UNKNOWN' ? { vendorSeverity: { source: 'azurelinux', rating, text: severity! } } : {}),
      affected: [affected],
      references: (def.metadata?.reference ?? []).filter((r) => r.ref_url).map((r) => ({ type: 'ADVISORY', url: r.ref_url! })),
      modified: date && !Number.isNaN(Date.parse(date)) ? new Date(date).toISOString() : feedDate,
    });
  }
  return { source, advisories: [...byId.values()] };
}
