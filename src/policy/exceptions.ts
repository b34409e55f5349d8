/**
 * Exceptions agreed between development and security: a policy id plus a scope, with an
 * owner, a reason and an expiry. Expired exceptions no longer suppress anything and are
 * reported, so they get renewed or the finding gets fixed.
 */
import type { Finding } from '../findings/finding.js';
import { matchesGlob } from './match.js';
import type { PolicyException } from './types.js';

export interface ExceptionOutcome {
  /** Findings still standing after exceptions. */
  remaining: Finding[];
  /** Findings an unexpired exception covers. */
  excepted: { finding: Finding; exception: PolicyException }[];
  /** Exceptions past their expiry (whether or not they would match anything). */
  expired: PolicyException[];
}

export function expiryTime(e: PolicyException): number {
  // A bare date means "through the end of that day" (UTC).
  const t = /^\d{4}-\d{2}-\d{2}$/.test(e.expires) ? Date.parse(`${e.expires}T23:59:59.999Z`) : Date.parse(e.expires);
  return t;
}

export function exceptionMatches(e: PolicyException, f: Finding): boolean {
  if (!matchesGlob(f.policy?.id ?? f.id, e.policy)) return false;
  const k8s = f.resource.k8s;
  if (e.namespace !== undefined && !matchesGlob(k8s?.namespace ?? 'default', e.namespace)) return false;
  if (e.workload !== undefined) {
    if (!k8s) return false;
    const target = e.workload.includes('/') ? `${k8s.kind}/${k8s.name}` : k8s.name;
    if (!matchesGlob(target, e.workload)) return false;
  }
  if (e.container !== undefined && !(k8s?.container !== undefined && matchesGlob(k8s.container, e.container))) return false;
  if (e.image !== undefined) {
    const image = typeof f.data?.image === 'string' ? f.data.image : f.resource.image?.ref;
    if (!image || !matchesGlob(image, e.image)) return false;
  }
  return true;
}

export function applyExceptions(findings: readonly Finding[], exceptions: readonly PolicyException[], now = new Date()): ExceptionOutcome {
  const active = exceptions.filter((e) => expiryTime(e) >= now.getTime());
  const expired = exceptions.filter((e) => expiryTime(e) < now.getTime());
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
