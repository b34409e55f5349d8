/**
 * Suppressing findings the user has judged, in the one suppression model: an ignore file
 * (Trivy's `.trivyignore` lines "ID [exp:YYYY-MM-DD]", or YAML `vulnerabilities: [{id,
 * package?, purls?, expires?|expired_at?, reason?|statement?, owner?}]`) and OpenVEX
 * documents (`not_affected` / `fixed` statements) load into `PolicyException`s, and
 * src/policy/exceptions.ts applies them, like any policy exception. Expired ignore entries
 * stop suppressing and are reported.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { Finding } from '../findings/finding.js';
import { applyExceptions } from '../policy/exceptions.js';
import type { PolicyException } from '../policy/types.js';
import { UserError, describeError } from '../util/errors.js';

/** An ignore-file entry or VEX statement, as a policy exception (`policy` is the finding id). */
export type IgnoreEntry = PolicyException;

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

/** The reason an ignore-file entry gets when it gives none. */
const listedIn = (path: string): string => `listed in ${path}`;

function ignoreException(path: string, line: number, id: string, fields: Partial<PolicyException> = {}): PolicyException {
  const e: PolicyException = { policy: id, owner: `ignorefile ${path}`, reason: listedIn(path), source: 'ignorefile', origin: { file: path, line } };
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) (e as unknown as Record<string, unknown>)[k] = v;
  return e;
}

const YAML_ENTRY_KEYS = ['id', 'package', 'purls', 'expires', 'expired_at', 'reason', 'statement', 'owner'];

export function loadIgnoreFile(path: string): PolicyException[] {
  const text = readText(path, 'ignore file');
  if (/\.ya?ml$/i.test(path)) {
    let doc: any;
    try {
      doc = parseYaml(text);
    } catch (e) {
      throw new UserError(`${path}: cannot parse: ${describeError(e).split('\n')[0]}`, 'bad-input');
    }
    const list = doc?.vulnerabilities ?? doc?.ignore;
    if (!Array.isArray(list)) throw new UserError(`${path}: expected a "vulnerabilities" list`, 'bad-input');
    return list.map((e: any, i: number) => {
      const where = `${path}: entry ${i + 1}`;
      if (typeof e?.id !== 'string' || !e.id) throw new UserError(`${where}: missing "id"`, 'bad-input');
      const unknown = Object.keys(e).find((k) => !YAML_ENTRY_KEYS.includes(k));
      if (unknown) throw new UserError(`${where}: unknown key "${unknown}" (expected ${YAML_ENTRY_KEYS.join(', ')})`, 'bad-input');
      if (e.purls !== undefined && (!Array.isArray(e.purls) || e.purls.some((p: unknown) => typeof p !== 'string'))) throw new UserError(`${where}: "purls" must be a list of package URLs`, 'bad-input');
      const reason = e.reason ?? e.statement;
      return ignoreException(path, i + 1, e.id, {
        package: e.package ? String(e.package) : undefined,
        purls: Array.isArray(e.purls) && e.purls.length ? e.purls.map(String) : undefined,
        expires: checkDate(e.expires ?? e.expired_at, where),
        reason: reason ? String(reason) : undefined,
        owner: e.owner ? String(e.owner) : undefined,
      });
    });
  }
  const out: PolicyException[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/#.*/, '').trim();
    if (!line) return;
    const [id, ...rest] = line.split(/\s+/);
    let expires: string | undefined;
    for (const r of rest) {
      const exp = /^exp:(.+)$/.exec(r);
      if (!exp) throw new UserError(`${path}:${i + 1}: unexpected "${r}" (expected "ID [exp:YYYY-MM-DD]")`, 'bad-input');
      expires = checkDate(exp[1], `${path}:${i + 1}`);
    }
    out.push(ignoreException(path, i + 1, id!, { expires }));
  });
  return out;
}

/** A product that is the scanned artifact itself (image, digest), not one package in it. */
const productCoversAll = (p: string): boolean => !p.startsWith('pkg:') || /^pkg:(oci|docker)\//i.test(p);

/**
 * Reads an OpenVEX document (v0.0.x and v0.2.x spellings): each `not_affected` or `fixed`
 * statement is an exception for its vulnerability, limited to the named packages (a
 * product with subcomponents means those packages inside it; a product that is the image
 * itself covers every package). Other statuses suppress nothing.
 */
export function loadOpenVex(path: string): PolicyException[] {
  let doc: any;
  try {
    doc = JSON.parse(readText(path, 'VEX document'));
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(`${path}: cannot parse: ${describeError(e)}`, 'bad-input');
  }
  if (!Array.isArray(doc?.statements)) throw new UserError(`${path}: not an OpenVEX document (no "statements")`, 'bad-input');
  const owner = typeof doc.author === 'string' && doc.author ? doc.author : `vex ${path}`;
  const out: PolicyException[] = [];
  doc.statements.forEach((s: any, i: number) => {
    const vulnerability = typeof s?.vulnerability === 'string' ? s.vulnerability : s?.vulnerability?.name;
    if (typeof vulnerability !== 'string' || typeof s?.status !== 'string') throw new UserError(`${path}: statement ${i + 1} needs "vulnerability" and "status"`, 'bad-input');
    if (s.status !== 'not_affected' && s.status !== 'fixed') return;
    const products: string[] = [];
    for (const p of Array.isArray(s.products) ? s.products : []) {
      if (typeof p === 'string') products.push(p);
      else if (typeof p?.['@id'] === 'string') {
        // With subcomponents the statement is about those packages inside the product only.
        const subs = (Array.isArray(p.subcomponents) ? p.subcomponents : []).filter((x: any) => typeof x?.['@id'] === 'string').map((x: any) => x['@id'] as string);
        products.push(...(subs.length ? subs : [p['@id'] as string]));
      }
    }
    const e: PolicyException = {
      policy: vulnerability,
      owner,
      reason: `VEX ${s.status}${s.justification ? ` (${String(s.justification)})` : ''}`,
      source: 'vex',
      origin: { file: path, line: i + 1 },
    };
    if (products.length && !products.some(productCoversAll)) e.purls = products;
    out.push(e);
  });
  return out;
}

/** How a suppression reads in reports: "ignore file[: reason]" or "VEX status (justification)". */
export function suppressedBy(e: PolicyException): string {
  if (e.source === 'vex') return e.reason;
  if (e.source === 'ignorefile') return e.reason === listedIn(e.origin?.file ?? '') ? 'ignore file' : `ignore file: ${e.reason}`;
  return `exception by ${e.owner}: ${e.reason}`;
}

export interface Suppression {
  kept: Finding[];
  suppressed: { finding: Finding; by: string; exception: PolicyException }[];
  /** Exceptions past their expiry: they no longer suppress anything. */
  expired: PolicyException[];
}

/** Ignore-file entries first, then VEX statements: the first that covers a finding suppresses it. */
export function applySuppressions(findings: Finding[], ignore: PolicyException[] = [], vex: PolicyException[] = [], now = new Date()): Suppression {
  const outcome = applyExceptions(findings, [...ignore, ...vex], now);
  return {
    kept: outcome.remaining,
    suppressed: outcome.excepted.map(({ finding, exception }) => ({ finding, by: suppressedBy(exception), exception })),
    expired: outcome.expired,
  };
}
