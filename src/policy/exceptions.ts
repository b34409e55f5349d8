/**
 * The one suppression model. Exceptions agreed between development and security (a policy
 * id plus a scope, with an owner, a reason and an expiry), `.trivyignore` lines and VEX
 * statements all load into `PolicyException`. Expired exceptions no longer suppress
 * anything and are reported, so they get renewed or the finding gets fixed.
 */
import type { Finding } from '../findings/finding.js';
import { matchesGlob } from '../util/glob.js';
import type { PolicyException } from './types.js';

export interface ExceptionOutcome {
  /** Findings still standing after exceptions. */
  remaining: Finding[];
  /** Findings an unexpired exception covers. */
  excepted: { finding: Finding; exception: PolicyException }[];
  /** Exceptions past their expiry (whether or not they would match anything). */
  expired: PolicyException[];
}

/** Expiry in ms since the epoch; a bare date means "through the end of that day" (UTC). */
export function expiryTime(e: PolicyException): number {
  if (e.expires === undefined) return Infinity;
  return /^\d{4}-\d{2}-\d{2}$/.test(e.expires) ? Date.parse(`${e.expires}T23:59:59.999Z`) : Date.parse(e.expires);
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** The package a finding is about: its name, source or matched name, or purl (any may match). */
function packagesOf(f: Finding): string[] {
  const d = f.data ?? {};
  return [d.package, d.pkgName, d.sourcePackage, d.matchedName, d.purl].map(str).filter((x): x is string => !!x);
}

/** The ids a finding answers to: policy id, finding id, and a vulnerability's aliases. */
function idsOf(f: Finding): string[] {
  const aliases = Array.isArray(f.data?.aliases) ? (f.data.aliases as unknown[]).map(str).filter((x): x is string => !!x) : [];
  return [f.policy?.id ?? f.id, f.id, ...aliases];
}

/** "pkg:deb/debian/openssl@3.0.9?arch=amd64" → lower-cased type/namespace/name, and the version. */
function purlParts(purl: string): { base: string; version?: string } {
  const noQual = purl.split(/[?#]/)[0]!;
  const at = noQual.lastIndexOf('@');
  return at > 0 ? { base: noQual.slice(0, at).toLowerCase(), version: decodeURIComponent(noQual.slice(at + 1)) } : { base: noQual.toLowerCase() };
}

/** A purl pattern without a version covers every version; qualifiers are ignored. */
export function purlMatches(pattern: string, purl: string | undefined): boolean {
  if (!purl) return false;
  const p = purlParts(pattern);
  const q = purlParts(purl);
  return p.base === q.base && (p.version === undefined || p.version === q.version);
}

export function exceptionMatches(e: PolicyException, f: Finding): boolean {
  if (!idsOf(f).some((id) => matchesGlob(id, e.policy))) return false;
  const k8s = f.resource.k8s;
  if (e.namespace !== undefined && !matchesGlob(k8s?.namespace ?? 'default', e.namespace)) return false;
  if (e.workload !== undefined) {
    if (!k8s) return false;
    const target = e.workload.includes('/') ? `${k8s.kind}/${k8s.name}` : k8s.name;
    if (!matchesGlob(target, e.workload)) return false;
  }
  if (e.container !== undefined) {
    const name = k8s?.container ?? f.resource.container?.name;
    if (name === undefined || !matchesGlob(name, e.container)) return false;
  }
  if (e.image !== undefined) {
    const candidates = [str(f.data?.image), f.resource.image?.ref, f.resource.image?.digest, f.resource.container?.image].filter((x): x is string => !!x);
    if (!candidates.some((i) => matchesGlob(i, e.image!))) return false;
  }
  if (e.package !== undefined && !packagesOf(f).some((p) => p === e.package || matchesGlob(p, e.package!))) return false;
  if (e.purls?.length && !e.purls.some((p) => purlMatches(p, str(f.data?.purl)))) return false;
  if (e.path !== undefined) {
    const path = f.resource.image?.path ?? f.resource.file?.path;
    if (path === undefined || !matchesGlob(path.replace(/^\//, ''), e.path.replace(/^\//, ''))) return false;
  }
  return true;
}

export function applyExceptions(findings: readonly Finding[], exceptions: readonly PolicyException[], now = new Date()): ExceptionOutcome {
  if (exceptions.length === 0) return { remaining: [...findings], excepted: [], expired: [] };
  const t = now.getTime();
  const active = exceptions.filter((e) => expiryTime(e) >= t);
  const expired = exceptions.filter((e) => expiryTime(e) < t);
  const remaining: Finding[] = [];
  const excepted: ExceptionOutcome['excepted'] = [];
  for (const f of findings) {
    const e = active.find((x) => exceptionMatches(x, f));
    if (e) {
      excepted.push({ finding: f, exception: e });
      continue;
    }
    const stale = expired.find((x) => exceptionMatches(x, f));
    remaining.push(stale ? { ...f, data: { ...f.data, expiredException: { owner: stale.owner, reason: stale.reason, expires: stale.expires } } } : f);
  }
  return { remaining, excepted, expired };
}
