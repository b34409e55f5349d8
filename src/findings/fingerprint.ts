/**
 * A finding's stable identity: the same problem in the same place gets the same
 * fingerprint across runs, so Central can deduplicate and keep triage, and SARIF carries
 * it as partialFingerprints. Built from the finding id (policy, rule, CVE) plus the
 * resource identity and location, never from wording, severity or line numbers (which move
 * when a file is edited above the finding).
 *
 * The hash is a 128-bit non-cryptographic one written here (four multiplicative lanes with
 * a murmur3 finalizer): fingerprints are identities, not secrets, and admission computes
 * one per violation on every request, where a crypto hash's per-call setup (~2 µs) was the
 * largest cost of an evaluation.
 */
import type { Finding } from './finding.js';

const SEP = '\u001f';

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** 32 hex digits of a 128-bit hash of a string (UTF-16 code units). */
export function hash128(text: string): string {
  let a = 0x811c9dc5;
  let b = 0x9747b28c;
  let c = 0x1b873593;
  let d = 0xcc9e2d51;
  for (let i = 0; i < text.length; i++) {
    const k = text.charCodeAt(i);
    a = Math.imul(a ^ k, 0x01000193);
    b = Math.imul(b ^ k, 0x5bd1e995);
    c = Math.imul((c ^ k) + (c >>> 15), 0x85ebca6b);
    d = Math.imul((d ^ k) + (d >>> 13), 0xc2b2ae35);
  }
  a = fmix(a ^ text.length);
  b = fmix(b ^ a);
  c = fmix(c ^ b);
  d = fmix(d ^ c);
  a = fmix(a ^ d);
  return hex8(a) + hex8(b) + hex8(c) + hex8(d);
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
const hex8 = (n: number): string => HEX[n >>> 24]! + HEX[(n >>> 16) & 0xff]! + HEX[(n >>> 8) & 0xff]! + HEX[n & 0xff]!;

/** What inside the resource: a policy's field path, a package, a secret's rule, an action. */
const DATA_KEYS = ['field', 'package', 'pkgName', 'installedVersion', 'rule', 'action', 'subjectKey'];

export function fingerprintOf(f: Omit<Finding, 'fingerprint'>): string {
  const r = f.resource;
  let s = (f.policy?.id ?? f.id) + SEP + f.id;
  if (r.image) s += `${SEP}image${SEP}${r.image.digest ?? r.image.ref ?? ''}${SEP}${r.image.path ?? ''}`;
  if (r.k8s) s += `${SEP}k8s${SEP}${r.k8s.kind}${SEP}${r.k8s.namespace ?? ''}${SEP}${r.k8s.name}${SEP}${r.k8s.container ?? ''}${SEP}${r.k8s.file ?? ''}`;
  if (r.file) s += `${SEP}file${SEP}${r.file.path}`;
  if (r.container) s += `${SEP}container${SEP}${r.container.id}`;
  if (r.host) s += `${SEP}host${SEP}${r.host}`;
  const d = f.data;
  if (d) {
    for (const k of DATA_KEYS) {
      const v = d[k];
      if (v !== undefined && v !== null && typeof v !== 'object') s += `${SEP}${k}${SEP}${String(v)}`;
    }
  }
  return hash128(s);
}

/** The finding with its fingerprint set (kept when the engine already set one). */
export function withFingerprint<F extends Omit<Finding, 'fingerprint'> & { fingerprint?: string }>(f: F): F & { fingerprint: string } {
  return f.fingerprint ? (f as F & { fingerprint: string }) : { ...f, fingerprint: fingerprintOf(f) };
}
