/**
 * A ServiceIdentity given as plain data (a policy test case, `policy eval` input, an item
 * of `GET /api/v1/identities`): every key checked, unknown keys refused with a one-line
 * error naming where. Only `workload` is required; the workload-wide attributes are
 * recomputed from `images` when images are given, else taken as given.
 */
import { UserError } from '../util/errors.js';
import { summarizeImages } from './record.js';
import { parseSpiffeId } from './spiffe.js';
import type { BuildSource, ImageIdentity, ProvenanceOrigin, ServiceIdentity, SignatureStatus, VulnerabilityCounts, WorkloadRef } from './types.js';

const isMap = (v: unknown): v is Record<string, any> => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);

class Reader {
  constructor(readonly where: string) {}

  fail(path: string, msg: string): never {
    throw new UserError(`${this.where}: ${path}: ${msg}`, 'bad-input');
  }

  map(v: unknown, path: string, keys: readonly string[]): Record<string, any> {
    if (!isMap(v)) this.fail(path, 'must be a mapping');
    for (const k of Object.keys(v)) if (!keys.includes(k)) this.fail(path, `unknown key "${k}" (expected ${keys.join(', ')})`);
    return v;
  }

  str(v: unknown, path: string): string | undefined {
    if (v === undefined) return undefined;
    if (typeof v !== 'string') this.fail(path, 'must be a string');
    return v;
  }

  reqStr(v: unknown, path: string): string {
    const s = this.str(v, path);
    if (!s) this.fail(path, 'is required (a non-empty string)');
    return s;
  }

  strMap(v: unknown, path: string): Record<string, string> {
    if (v === undefined) return {};
    if (!isMap(v) || Object.values(v).some((x) => typeof x !== 'string')) this.fail(path, 'must be a mapping of strings');
    return { ...(v as Record<string, string>) };
  }

  strList(v: unknown, path: string): string[] {
    if (v === undefined) return [];
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) this.fail(path, 'must be a list of strings');
    return [...(v as string[])];
  }

  bool(v: unknown, path: string): boolean | undefined {
    if (v === undefined) return undefined;
    if (typeof v !== 'boolean') this.fail(path, 'must be true or false');
    return v;
  }
}

const SIGNATURES: readonly SignatureStatus[] = ['verified', 'unverified', 'unknown'];
const ORIGINS: readonly ProvenanceOrigin[] = ['image-annotation', 'image-label', 'pod-annotation', 'pod-label', 'container-label'];
const COUNT_KEYS: readonly (keyof VulnerabilityCounts)[] = ['critical', 'high', 'medium', 'low', 'unknown'];

function signature(r: Reader, v: unknown, path: string): SignatureStatus {
  if (v === undefined) return 'unknown';
  if (typeof v !== 'string' || !SIGNATURES.includes(v as SignatureStatus)) r.fail(path, `must be one of ${SIGNATURES.join(', ')}`);
  return v as SignatureStatus;
}

function counts(r: Reader, v: unknown, path: string): VulnerabilityCounts | null {
  if (v === undefined || v === null) return null;
  const m = r.map(v, path, COUNT_KEYS);
  const out = { critical: 0, high: 0, medium: 0, low: 0, unknown: 0 };
  for (const k of COUNT_KEYS) {
    const n = m[k];
    if (n === undefined) continue;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) r.fail(`${path}.${k}`, 'must be a whole number ≥ 0');
    out[k] = n;
  }
  return out;
}

function build(r: Reader, v: unknown, path: string): BuildSource {
  if (v === undefined) return { evidence: [] };
  const m = r.map(v, path, ['revision', 'repository', 'branch', 'evidence']);
  const evidence = m.evidence === undefined ? [] : Array.isArray(m.evidence) ? m.evidence : r.fail(`${path}.evidence`, 'must be a list');
  return {
    ...(m.revision !== undefined ? { revision: r.str(m.revision, `${path}.revision`) } : {}),
    ...(m.repository !== undefined ? { repository: r.str(m.repository, `${path}.repository`) } : {}),
    ...(m.branch !== undefined ? { branch: r.str(m.branch, `${path}.branch`) } : {}),
    evidence: evidence.map((e: unknown, i: number) => {
      const at = `${path}.evidence[${i}]`;
      const x = r.map(e, at, ['attribute', 'key', 'origin']);
      if (!['revision', 'repository', 'branch'].includes(x.attribute)) r.fail(`${at}.attribute`, 'must be revision, repository or branch');
      if (!ORIGINS.includes(x.origin)) r.fail(`${at}.origin`, `must be one of ${ORIGINS.join(', ')}`);
      return { attribute: x.attribute, key: r.reqStr(x.key, `${at}.key`), origin: x.origin };
    }),
  };
}

function image(r: Reader, v: unknown, path: string): ImageIdentity {
  const m = r.map(v, path, ['ref', 'container', 'digest', 'signature', 'signers', 'vulnerabilities', 'build']);
  const container = r.str(m.container, `${path}.container`);
  const digest = r.str(m.digest, `${path}.digest`);
  return {
    ref: r.reqStr(m.ref, `${path}.ref`),
    ...(container ? { container } : {}),
    ...(digest ? { digest } : {}),
    signature: signature(r, m.signature, `${path}.signature`),
    signers: r.strList(m.signers, `${path}.signers`),
    vulnerabilities: counts(r, m.vulnerabilities, `${path}.vulnerabilities`),
    build: build(r, m.build, `${path}.build`),
  };
}

export function workloadRefFromData(r: Reader, v: unknown, path: string): WorkloadRef {
  const m = r.map(v, path, ['cluster', 'host', 'namespace', 'kind', 'name']);
  const cluster = r.str(m.cluster, `${path}.cluster`);
  const host = r.str(m.host, `${path}.host`);
  return {
    ...(cluster ? { cluster } : {}), ...(host ? { host } : {}),
    namespace: r.str(m.namespace, `${path}.namespace`) ?? '',
    kind: r.reqStr(m.kind, `${path}.kind`),
    name: r.reqStr(m.name, `${path}.name`),
  };
}

export const IDENTITY_KEYS = ['id', 'workload', 'serviceAccount', 'spiffeId', 'labels', 'images', 'signature', 'signers', 'vulnerabilities', 'scanned', 'build'] as const;

/** Checks and reads a ServiceIdentity given as data; `where` names it in errors (file and path). */
export function serviceIdentityFromData(data: unknown, where: string): ServiceIdentity {
  const r = new Reader(where);
  const m = r.map(data, 'identity', IDENTITY_KEYS);
  const spiffeId = r.str(m.spiffeId, 'spiffeId');
  if (spiffeId !== undefined && !parseSpiffeId(spiffeId)) r.fail('spiffeId', `"${spiffeId}" is not a SPIFFE ID`);
  const serviceAccount = r.str(m.serviceAccount, 'serviceAccount');
  const id = r.str(m.id, 'id');
  if (m.images !== undefined && !Array.isArray(m.images)) r.fail('images', 'must be a list');
  const images = ((m.images ?? []) as unknown[]).map((x, i) => image(r, x, `images[${i}]`));
  const given = {
    signature: signature(r, m.signature, 'signature'),
    signers: r.strList(m.signers, 'signers'),
    vulnerabilities: counts(r, m.vulnerabilities, 'vulnerabilities'),
    scanned: r.bool(m.scanned, 'scanned') ?? false,
    build: build(r, m.build, 'build'),
  };
  const summary = images.length ? summarizeImages(images) : given;
  // A build given beside images (the pod's own keys) stands when the images say nothing.
  if (images.length && !summary.build.revision && !summary.build.repository && !summary.build.branch && m.build !== undefined) summary.build = given.build;
  return {
    ...(id ? { id } : {}),
    workload: workloadRefFromData(r, m.workload, 'workload'),
    ...(serviceAccount ? { serviceAccount } : {}),
    ...(spiffeId ? { spiffeId } : {}),
    labels: r.strMap(m.labels, 'labels'),
    images,
    ...summary,
  };
}

export { Reader as DataReader };
