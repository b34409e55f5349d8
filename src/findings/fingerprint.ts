/**
 * A finding's stable identity: the same problem in the same place gets the same
 * fingerprint across runs, so Central can deduplicate and keep triage, and SARIF carries
 * it as partialFingerprints. Built from the finding id (policy, rule, CVE) plus the
 * resource identity and location, never from wording, severity or line numbers (which move
 * when a file is edited above the finding).
 */
import { createHash } from 'node:crypto';
import type { Finding } from './finding.js';

export function fingerprintOf(f: Omit<Finding, 'fingerprint'>): string {
  const r = f.resource;
  const parts: unknown[] = [f.policy?.id ?? f.id, f.id];
  if (r.image) parts.push('image', r.image.digest ?? r.image.ref ?? '', r.image.path ?? '');
  if (r.k8s) parts.push('k8s', r.k8s.kind, r.k8s.namespace ?? '', r.k8s.name, r.k8s.container ?? '', r.k8s.file ?? '');
  if (r.file) parts.push('file', r.file.path);
  if (r.container) parts.push('container', r.container.id);
  if (r.host) parts.push('host', r.host);
  const d = f.data ?? {};
  // What inside the resource: a policy's field path, a package, a secret's rule and path.
  for (const k of ['field', 'package', 'pkgName', 'installedVersion', 'rule', 'action', 'subjectKey']) {
    if (d[k] !== undefined && typeof d[k] !== 'object') parts.push(k, String(d[k]));
  }
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 32);
}

/** The finding with its fingerprint set (kept when the engine already set one). */
export function withFingerprint<F extends Omit<Finding, 'fingerprint'> & { fingerprint?: string }>(f: F): F & { fingerprint: string } {
  return f.fingerprint ? (f as F & { fingerprint: string }) : { ...f, fingerprint: fingerprintOf(f) };
}
