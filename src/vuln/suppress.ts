/**
 * Suppressing findings the user has judged: an ignore file (Trivy's `.trivyignore` lines
 * "ID [exp:YYYY-MM-DD]", or YAML `vulnerabilities: [{id, package?, purls?, expires?|expired_at?,
 * reason?|statement?}]`) and OpenVEX documents (`not_affected` / `fixed` statements).
 * Expired ignore entries stop suppressing and are reported.
 */
import { readFileSync } from 'node:fs';
import jsYaml from 'js-yaml';
import type { Finding } from '../findings/finding.js';
import { UserError, describeError } from '../util/errors.js';

export interface IgnoreEntry {
  id: string;
  /** Package (binary or source) name the entry is limited to. */
  package?: string;
  /** Package URLs the entry is limited to (version and qualifiers optional). */
  purls?: string[];
  /** ISO date; after it the entry no longer suppresses. */
  expires?: string;
  reason?: string;
}

export interface VexStatement {
  vulnerability: string;
  products: string[];
  status: string;
  justification?: string;
}

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new UserError(`cannot read ${what} ${path}: ${describeError(e)}`, 'bad-input');
  }
}

function checkDate(v: unknown, where: string): string | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  const s = v instanceof Date ? v.toISOString().slice(0, 10) : String(v);
  if (Number.isNaN(Date.parse(s))) throw new UserError(`${where}: expiry is not a date: "${s}"`, 'bad-input');
  return s;
}

export function loadIgnoreFile(path: string): IgnoreEntry[] {
  const text = readText(path, 'ignore file');
  if (/\.ya?ml$/i.test(path)) {
    let doc: any;
    try {
      doc = jsYaml.load(text, { schema: jsYaml.JSON_SCHEMA });
    } catch (e) {
      throw new UserError(`${path}: cannot parse: ${describeError(e)}`, 'bad-input');
    }
    const list = doc?.vulnerabilities ?? doc?.ignore;
    if (!Array.isArray(list)) throw new UserError(`${path}: expected a "vulnerabilities" list`, 'bad-input');
    return list.map((e: any, i: number) => {
      const where = `${path}: entry ${i + 1}`;
      if (typeof e?.id !== 'string' || !e.id) throw new UserError(`${where}: missing "id"`, 'bad-input');
      const entry: IgnoreEntry = { id: e.id };
      if (e.package) entry.package = String(e.package);
      if (Array.isArray(e.purls)) entry.purls = e.purls.map(String);
      const expires = checkDate(e.expires ?? e.expired_at, where);
      if (expires) entry.expires = expires;
      if (e.reason ?? e.statement) entry.reason = String(e.reason ?? e.statement);
      return entry;
    });
  }
  const out: IgnoreEntry[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/#.*/, '').trim();
    if (!line) return;
    const [id, ...rest] = line.split(/\s+/);
    const entry: IgnoreEntry = { id: id! };
    for (const r of rest) {
      const exp = /^exp:(.+)$/.exec(r);
      if (!exp) throw new UserError(`${path}:${i + 1}: unexpected "${r}" (expected "ID [exp:YYYY-MM-DD]")`, 'bad-input');
      entry.expires = checkDate(exp[1], `${path}:${i + 1}`);
    }
    out.push(entry);
  });
  return out;
}

/** Reads an OpenVEX document (v0.0.x and v0.2.x spellings). */
export function loadOpenVex(path: string): VexStatement[] {
  let doc: any;
  try {
    doc = JSON.parse(readText(path, 'VEX document'));
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(`${path}: cannot parse: ${describeError(e)}`, 'bad-input');
  }
  if (!Array.isArray(doc?.statements)) throw new UserError(`${path}: not an OpenVEX document (no "statements")`, 'bad-input');
  return doc.statements.map((s: any, i: number) => {
    const vulnerability = typeof s?.vulnerability === 'string' ? s.vulnerability : s?.vulnerability?.name;
    if (typeof vulnerability !== 'string' || typeof s?.status !== 'string') throw new UserError(`${path}: statement ${i + 1} needs "vulnerability" and "status"`, 'bad-input');
    const products: string[] = [];
    for (const p of Array.isArray(s.products) ? s.products : []) {
      if (typeof p === 'string') products.push(p);
      else if (typeof p?.['@id'] === 'string') {
        // With subcomponents the statement is about those packages inside the product only.
        const subs = (Array.isArray(p.subcomponents) ? p.subcomponents : []).filter((x: any) => typeof x?.['@id'] === 'string').map((x: any) => x['@id'] as string);
        products.push(...(subs.length ? subs : [p['@id'] as string]));
      }
    }
    const st: VexStatement = { vulnerability, products, status: s.status };
    if (s.justification) st.justification = String(s.justification);
    return st;
  });
}

/** "pkg:deb/debian/openssl@3.0.9?arch=amd64" → type/namespace/name and version. */
function purlParts(purl: string): { base: string; version?: string } {
  const noQual = purl.split(/[?#]/)[0]!;
  const at = noQual.lastIndexOf('@');
  return at > 0 ? { base: noQual.slice(0, at).toLowerCase(), version: decodeURIComponent(noQual.slice(at + 1)) } : { base: noQual.toLowerCase() };
}

function purlMatches(pattern: string, purl: string | undefined): boolean {
  if (!purl) return false;
  const p = purlParts(pattern);
  const q = purlParts(purl);
  return p.base === q.base && (p.version === undefined || p.version === q.version);
}

/** A product that is the scanned artifact itself (image, digest), not one package in it. */
const productCoversAll = (p: string): boolean => !p.startsWith('pkg:') || /^pkg:(oci|docker)\//i.test(p);

const idsOf = (f: Finding): string[] => [f.id, ...((f.data?.aliases as string[] | undefined) ?? [])];

export interface Suppression {
  kept: Finding[];
  suppressed: { finding: Finding; by: string }[];
  expired: IgnoreEntry[];
}

export function applySuppressions(findings: Finding[], ignore: IgnoreEntry[] = [], vex: VexStatement[] = [], now = new Date()): Suppression {
  const today = now.toISOString().slice(0, 10);
  const expired = ignore.filter((e) => e.expires !== undefined && e.expires.slice(0, 10) < today);
  const active = ignore.filter((e) => !expired.includes(e));
  const out: Suppression = { kept: [], suppressed: [], expired };
  for (const f of findings) {
    const ids = idsOf(f);
    const purl = f.data?.purl as string | undefined;
    const names = [f.data?.package, f.data?.matchedName].filter(Boolean);
    const entry = active.find((e) => ids.includes(e.id) && (!e.package || names.includes(e.package)) && (!e.purls?.length || e.purls.some((p) => purlMatches(p, purl))));
    if (entry) {
      out.suppressed.push({ finding: f, by: `ignore file${entry.reason ? `: ${entry.reason}` : ''}` });
      continue;
    }
    const st = vex.find((s) => (s.status === 'not_affected' || s.status === 'fixed') && ids.includes(s.vulnerability) && (s.products.length === 0 || s.products.some((p) => productCoversAll(p) || purlMatches(p, purl))));
    if (st) {
      out.suppressed.push({ finding: f, by: `VEX ${st.status}${st.justification ? ` (${st.justification})` : ''}` });
      continue;
    }
    out.kept.push(f);
  }
  return out;
}
