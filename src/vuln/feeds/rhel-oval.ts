/**
 * Red Hat's OVAL v2 (security.access.redhat.com/data/oval/v2/RHEL<N>/*.oval.xml.bz2), matched
 * as Grype matched it before CSAF: per RHEL major release and binary package name, without
 * the image's content sets. Each definition is a patch (RHSA/RHBA: "X is earlier than E:V-R")
 * or, in the "-including-unpatched" files, a CVE still unfixed ("X is installed").
 *
 * Criteria read: rpminfo tests on a package name, with an EVR "less than" state (fixed in) or
 * no state (affected, no fix); the rpmverifyfile test "Red Hat Enterprise Linux N is installed"
 * (the major release). Skipped, because the inventory cannot evaluate them: signature key
 * tests (signing keys are not read), module stream tests ("Module nodejs:18 is enabled": the
 * enabled streams are not read) and any other test kind. Skipping a stream test can only
 * widen a match: every fix becomes its own range, so a package is affected when it is below
 * any stream's fix — never reported fixed on another stream's version. "unaffected"
 * definitions and "is not installed" tests say nothing is vulnerable and are skipped.
 */
import { createRequire } from 'node:module';
import { XMLParser } from 'fast-xml-parser';
import { UserError, describeError } from '../../util/errors.js';
import type { Advisory, Affected } from '../model.js';
import { ratingFromText } from '../model.js';
import { RHEL_ECOSYSTEM } from './distros/rhel.js';

type Text = string | { '#text'?: string };
interface Criteria { criterion?: { test_ref?: string }[]; criteria?: Criteria[] }
interface Definition {
  class?: string;
  id?: string;
  metadata?: {
    title?: string;
    reference?: { ref_id?: string; ref_url?: string; source?: string }[];
    description?: Text;
    advisory?: { severity?: Text; issued?: { date?: string }; updated?: { date?: string } };
  };
  criteria?: Criteria[];
}
interface Test { id?: string; check_existence?: string; object?: { object_ref?: string }; state?: { state_ref?: string } }
interface OvalDoc {
  oval_definitions?: {
    definitions?: { definition?: Definition[] };
    tests?: { rpminfo_test?: Test[]; rpmverifyfile_test?: Test[] };
    objects?: { rpminfo_object?: { id?: string; name?: Text }[] };
    states?: {
      rpminfo_state?: { id?: string; evr?: { '#text'?: string; operation?: string } }[];
      rpmverifyfile_state?: { id?: string; version?: Text }[];
    };
  };
}

const ARRAYS = new Set(['definition', 'reference', 'criterion', 'criteria', 'rpminfo_test', 'rpmverifyfile_test', 'rpminfo_object', 'rpminfo_state', 'rpmverifyfile_state']);
const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '',
  removeNSPrefix: true,
  parseTagValue: false,
  parseAttributeValue: false,
  isArray: (name) => ARRAYS.has(name),
});

const text = (t: Text | undefined): string | undefined => (typeof t === 'string' ? t : t?.['#text']);

/** Red Hat's OVAL, told from Azure Linux's by its definition ids (oval:com.redhat.…). */
export function looksLikeRhelOval(xml: string): boolean {
  return /<(\w+:)?oval_definitions[\s>]/.test(xml.slice(0, 4096)) && xml.slice(0, 65536).includes('"oval:com.redhat.');
}

// seek-bzip: Red Hat ships OVAL only as .bz2 and Node's zlib has no bzip2; CommonJS without types.
const bzip2 = createRequire(import.meta.url)('seek-bzip') as { decode(input: Buffer): Buffer };

export function isBzip2(bytes: Buffer): boolean {
  return bytes.length > 3 && bytes.toString('latin1', 0, 3) === 'BZh';
}

export function bunzip2(bytes: Buffer, where: string): Buffer {
  try {
    return bzip2.decode(bytes);
  } catch (e) {
    throw new UserError(`${where}: not a complete bzip2 file (${describeError(e)})`, 'bad-feed');
  }
}

interface Found { major?: string; fixes: Map<string, Set<string>>; unpatched: Set<string>; absent: Set<string> }

export function rhelOvalAdvisories(xml: string, where: string, feedDate: string): { source: string; advisories: Advisory[] } {
  let doc: OvalDoc;
  try {
    doc = parser.parse(xml) as OvalDoc;
  } catch (e) {
    throw new UserError(`${where}: cannot parse OVAL XML: ${describeError(e)}`, 'bad-feed');
  }
  const root = doc.oval_definitions;
  if (!root) throw new UserError(`${where}: not an OVAL definitions document`, 'bad-feed');
  const rpmTests = new Map((root.tests?.rpminfo_test ?? []).map((t) => [t.id, t]));
  const releaseTests = new Map((root.tests?.rpmverifyfile_test ?? []).map((t) => [t.id, t]));
  const names = new Map((root.objects?.rpminfo_object ?? []).map((o) => [o.id, text(o.name)]));
  const evrs = new Map((root.states?.rpminfo_state ?? []).map((s) => [s.id, s.evr]));
  const signatureOnly = new Set((root.states?.rpminfo_state ?? []).filter((s) => !s.evr).map((s) => s.id));
  // "^8[^\d]" on redhat-release's version: the major release the definition applies to.
  const releases = new Map((root.states?.rpmverifyfile_state ?? []).map((s) => [s.id, /^\^(\d+)/.exec(text(s.version) ?? '')?.[1]]));
  const fileMajor = /(?:rhel-|RHEL)(\d+)/.exec(where)?.[1];
  // Red Hat splits a release over files (rhel-8, ansible-2, dotnet-3.1…) that can name the same
  // CVE: one DB source per file, so importing one does not replace another's records.
  const platform = /([\w.-]+?)\.oval\.xml/.exec(where.split('/').at(-1) ?? '')?.[1];

  const visit = (c: Criteria, found: Found): void => {
    for (const { test_ref: ref } of c.criterion ?? []) {
      const release = releaseTests.get(ref);
      if (release) {
        found.major ??= releases.get(release.state?.state_ref);
        continue;
      }
      const t = rpmTests.get(ref);
      const name = names.get(t?.object?.object_ref);
      if (!t || !name) continue;
      if (t.check_existence === 'none_exist') {
        found.absent.add(name);
        continue;
      }
      const stateRef = t.state?.state_ref;
      if (!stateRef) {
        found.unpatched.add(name);
        continue;
      }
      if (signatureOnly.has(stateRef)) continue;
      const evr = evrs.get(stateRef);
      // Only "less than" is a fix; any other comparison is not one we can read safely.
      if (evr?.operation !== 'less than' || !evr['#text']) continue;
      const fixes = found.fixes.get(name) ?? new Set<string>();
      found.fixes.set(name, fixes.add(evr['#text']));
    }
    for (const sub of c.criteria ?? []) visit(sub, found);
  };

  const byId = new Map<string, Advisory>();
  const sources = new Set<string>();
  for (const def of root.definitions?.definition ?? []) {
    // oval:com.redhat.unaffected:def:… lists components a CVE does not affect ("X is installed" AND "X is not installed").
    if (!def.id || def.id.includes('.unaffected:') || (def.class !== 'patch' && def.class !== 'vulnerability')) continue;
    const found: Found = { fixes: new Map(), unpatched: new Set(), absent: new Set() };
    for (const c of def.criteria ?? []) visit(c, found);
    const major = found.major ?? fileMajor;
    if (!major) continue;
    const ecosystem = `${RHEL_ECOSYSTEM}:${major}`;
    sources.add(major);
    const affected: Affected[] = [];
    for (const [name, fixes] of found.fixes) {
      // One range per fix: a later fix (another module stream) must not end an earlier range.
      for (const fixed of fixes) affected.push({ ecosystem, name, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed }] }], versions: [], status: 'fixed' });
    }
    // "X is installed" beside "X is not installed" is Red Hat's spelling of "not affected", not of "no fix".
    for (const name of found.unpatched) if (!found.absent.has(name)) affected.push({ ecosystem, name, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }] }], versions: [], status: 'no-fix-yet' });
    if (affected.length === 0) continue;
    const refs = def.metadata?.reference ?? [];
    const cves = refs.filter((r) => r.source === 'CVE' && r.ref_id).map((r) => r.ref_id!);
    const errata = refs.filter((r) => r.source !== 'CVE' && r.ref_id).map((r) => r.ref_id!);
    const severity = text(def.metadata?.advisory?.severity);
    const rating = ratingFromText(severity);
    const date = def.metadata?.advisory?.updated?.date ?? def.metadata?.advisory?.issued?.date;
    // One advisory per CVE (as Trivy and Grype report Red Hat), the erratum as its alias.
    for (const id of cves.length > 0 ? cves : errata.slice(0, 1)) {
      const known = byId.get(id);
      if (known) {
        known.affected.push(...affected.map((a) => ({ ...a })));
        for (const e of errata) if (!known.aliases.includes(e)) known.aliases.push(e);
        continue;
      }
      byId.set(id, {
        id,
        source: `rhel-oval:${platform ?? major}`,
        aliases: errata.filter((e) => e !== id),
        ...(def.metadata?.title ? { summary: def.metadata.title } : {}),
        ...(text(def.metadata?.description) ? { details: text(def.metadata?.description)! } : {}),
        cvss: [],
        ...(rating !== 'UNKNOWN' ? { vendorSeverity: { source: 'redhat', rating, text: severity! } } : {}),
        affected: affected.map((a) => ({ ...a })),
        references: refs.filter((r) => r.ref_url).map((r) => ({ type: 'ADVISORY', url: r.ref_url! })),
        modified: date && !Number.isNaN(Date.parse(date)) ? new Date(date).toISOString() : feedDate,
      });
    }
  }
  if (sources.size > 1) throw new UserError(`${where}: Red Hat OVAL mixing major releases ${[...sources].join(', ')}`, 'bad-feed');
  return { source: `rhel-oval:${platform ?? [...sources][0] ?? fileMajor ?? 'unknown'}`, advisories: [...byId.values()] };
}
