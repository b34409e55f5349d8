/**
 * SPIFFE IDs (https://github.com/spiffe/spiffe/blob/main/standards/SPIFFE-ID.md):
 * `spiffe://TRUST_DOMAIN/PATH`. The trust domain is lowercase letters, digits, `.`, `-`
 * and `_`; each path segment is letters, digits, `.`, `-` and `_`, never empty, `.` or
 * `..`; the whole ID is at most 2048 bytes.
 *
 * Gatehouse's schemes:
 * - Kubernetes: `spiffe://TRUST_DOMAIN/ns/NAMESPACE/sa/SERVICE_ACCOUNT` (Istio's and
 *   SPIRE's usual form: the service account is the workload's identity).
 * - Plain-host containers: `spiffe://TRUST_DOMAIN/host/HOST/workload/NAME`, NAME being the
 *   container's (or the service's) name and HOST the host's name as Central knows it.
 */
import { UserError } from '../util/errors.js';

export const DEFAULT_TRUST_DOMAIN = 'cluster.local';
const TRUST_DOMAIN = /^[a-z0-9._-]+$/;
const SEGMENT = /^[A-Za-z0-9._-]+$/;

export function checkTrustDomain(td: string): string {
  if (!td || !TRUST_DOMAIN.test(td) || td.length > 255) throw new UserError(`bad SPIFFE trust domain "${td}": use lowercase letters, digits, ".", "-" and "_"`, 'usage');
  return td;
}

function segment(kind: string, value: string): string {
  if (!SEGMENT.test(value) || value === '.' || value === '..') throw new UserError(`cannot form a SPIFFE ID: ${kind} "${value}" is not a path segment (letters, digits, ".", "-", "_")`, 'bad-input');
  return value;
}

export function kubernetesSpiffeId(trustDomain: string, namespace: string, serviceAccount: string): string {
  return `spiffe://${checkTrustDomain(trustDomain)}/ns/${segment('namespace', namespace)}/sa/${segment('service account', serviceAccount)}`;
}

export function hostSpiffeId(trustDomain: string, host: string, name: string): string {
  return `spiffe://${checkTrustDomain(trustDomain)}/host/${segment('host', host.toLowerCase())}/workload/${segment('workload', name.replace(/^\//, ''))}`;
}

export interface SpiffeId {
  trustDomain: string;
  /** The path with its leading slash ('' for a trust domain's own ID). */
  path: string;
}

/** Parses and checks a SPIFFE ID; undefined when it is not one. */
export function parseSpiffeId(id: string): SpiffeId | undefined {
  if (typeof id !== 'string' || id.length > 2048 || !id.startsWith('spiffe://')) return undefined;
  const rest = id.slice('spiffe://'.length);
  const slash = rest.indexOf('/');
  const trustDomain = slash < 0 ? rest : rest.slice(0, slash);
  const path = slash < 0 ? '' : rest.slice(slash);
  if (!trustDomain || !TRUST_DOMAIN.test(trustDomain)) return undefined;
  if (path) {
    const segs = path.slice(1).split('/');
    if (segs.some((s) => !SEGMENT.test(s) || s === '.' || s === '..')) return undefined;
  }
  return { trustDomain, path };
}

/** As parseSpiffeId, for user input: a one-line error. A leaf ID must have a path. */
export function requireWorkloadSpiffeId(id: string): SpiffeId {
  const parsed = parseSpiffeId(id);
  if (!parsed) throw new UserError(`"${id}" is not a SPIFFE ID (spiffe://TRUST_DOMAIN/PATH; lowercase trust domain, path segments of letters, digits, ".", "-", "_")`, 'usage');
  if (!parsed.path) throw new UserError(`"${id}" names a trust domain, not a workload: an SVID's SPIFFE ID needs a path`, 'usage');
  return parsed;
}
