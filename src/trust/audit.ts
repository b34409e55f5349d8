/**
 * Registry hygiene: walk a registry's catalog and tags and report, per tag, its digest,
 * creation date (from the image config), age, size, whether it is signed (legacy `.sig` or
 * sigstore bundle referrer; verified under a trust policy when one is given), vulnerability
 * counts by severity (when a scanner is given), and flags for stale images, unsigned ones
 * and tags that moved since a previous audit.
 */
import picomatch from 'picomatch';
import type { Descriptor, ImageConfig, ImageIndex, ImageManifest } from '../image/types.js';
import { INDEX_MEDIA_TYPES } from '../image/types.js';
import { describeError, isUserError } from '../util/errors.js';
import { decide, findRule, ruleKeys, type TrustPolicy } from './policy.js';
import type { RegistryStore } from './registry-write.js';
import { verifyImageSignatures } from './verify.js';
import { findBundles } from './referrers.js';
import { parseRegistryReference } from '../image/reference.js';

export type AuditFlag = 'stale' | 'unsigned' | 'unverified' | 'moved' | 'error';

export interface AuditRow {
  repository: string;
  tag: string;
  digest?: string;
  created?: string;
  ageDays?: number;
  /** Bytes of config + layers (of the first image manifest for an index). */
  size?: number;
  signed: boolean;
  /** Trust policy verdict, when a policy was given. */
  verified?: boolean;
  previousDigest?: string;
  /** Vulnerabilities by severity (when the audit was given a scanner). */
  vulnerabilities?: Record<string, number>;
  flags: AuditFlag[];
  error?: string;
}

/** Counts an image's vulnerabilities by severity; `ref` is registry/repo@digest. */
export type VulnerabilityCounter = (ref: string) => Promise<Record<string, number>>;

export interface AuditOptions {
  /** Glob over repository names (without the registry). */
  repo?: string;
  maxAgeDays: number;
  policy?: TrustPolicy;
  /** tag → digest from a previous audit, keyed `repository:tag`. */
  previous?: Record<string, string>;
  concurrency?: number;
  pageSize?: number;
  now?: Date;
  onProgress?: (done: number, total: number) => void;
  vulnerabilities?: VulnerabilityCounter;
}

/** Tags cosign and the OCI referrers fallback create next to images: not images to audit. */
const ARTIFACT_TAG = /^sha(256|512)-[a-f0-9]+(\.(sig|att|sbom))?$/;

export function parseAge(text: string): number {
  const m = /^(\d+)\s*(d|w|m|y)?$/i.exec(text.trim());
  if (!m) throw new Error(`invalid age "${text}" (examples: 90d, 12w, 6m, 1y)`);
  const n = Number(m[1]);
  const unit = (m[2] ?? 'd').toLowerCase();
  return n * ({ d: 1, w: 7, m: 30, y: 365 } as Record<string, number>)[unit]!;
}

export async function auditRegistry(store: RegistryStore, opts: AuditOptions): Promise<AuditRow[]> {
  const matches = opts.repo ? picomatch(opts.repo, { dot: true }) : () => true;
  const repos = (await store.catalog(opts.pageSize)).filter((r) => matches(r)).sort();
  const work: { repository: string; tag: string; signedDigests: Set<string> }[] = [];
  for (const repository of repos) {
    const tags = await store.listTags(repository, opts.pageSize);
    const signedDigests = new Set(tags.filter((t) => /\.sig$/.test(t)).map((t) => t.replace(/^(sha\d+)-([a-f0-9]+)\.sig$/, '$1:$2')));
    for (const tag of tags.filter((t) => !ARTIFACT_TAG.test(t)).sort()) work.push({ repository, tag, signedDigests });
  }
  const rows: AuditRow[] = new Array(work.length);
  // Tags sharing a digest are scanned once.
  const counted = new Map<string, Promise<Record<string, number>>>();
  const count = opts.vulnerabilities && ((ref: string) => counted.get(ref) ?? counted.set(ref, opts.vulnerabilities!(ref)).get(ref)!);
  let next = 0;
  let done = 0;
  opts.onProgress?.(0, work.length);
  // A small fixed pool bounds concurrent requests against the registry.
  const worker = async () => {
    while (next < work.length) {
      const i = next++;
      const item = work[i]!;
      rows[i] = await auditTag(store, item.repository, item.tag, item.signedDigests, { ...opts, vulnerabilities: count });
      opts.onProgress?.(++done, work.length);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, opts.concurrency ?? 4) }, worker));
  return rows;
}

async function auditTag(store: RegistryStore, repository: string, tag: string, signedDigests: Set<string>, opts: AuditOptions): Promise<AuditRow> {
  const row: AuditRow = { repository, tag, signed: false, flags: [] };
  try {
    const doc = await store.getManifest(repository, tag);
    row.digest = doc.digest;
    row.signed = signedDigests.has(doc.digest) || (await findBundles(store, repository, doc.digest)).some((b) => 'bytes' in b);
    let manifest = JSON.parse(doc.bytes.toString('utf8')) as ImageManifest | ImageIndex;
    if ('manifests' in manifest || INDEX_MEDIA_TYPES.includes(doc.mediaType ?? '')) {
      const first = (manifest as ImageIndex).manifests.find((m) => m.platform?.os !== 'unknown');
      if (first) manifest = JSON.parse((await store.getManifest(repository, first.digest)).bytes.toString('utf8')) as ImageManifest;
    }
    if ('config' in manifest && manifest.config) {
      const layers: Descriptor[] = manifest.layers ?? [];
      row.size = manifest.config.size + layers.reduce((s, l) => s + l.size, 0);
      const config = JSON.parse((await store.readBlob(repository, manifest.config)).toString('utf8')) as ImageConfig;
      if (config.created) {
        row.created = config.created;
        const ms = (opts.now ?? new Date()).getTime() - Date.parse(config.created);
        if (Number.isFinite(ms)) row.ageDays = Math.floor(ms / 86_400_000);
      }
    }
    if (row.ageDays !== undefined && row.ageDays > opts.maxAgeDays) row.flags.push('stale');
    if (!row.signed) row.flags.push('unsigned');
    if (opts.policy) {
      const ref = parseRegistryReference(`${store.registry}/${repository}@${doc.digest}`);
      const rule = findRule(opts.policy, `${store.registry}/${repository}`);
      const evidence =
        rule?.action === 'require'
          ? await verifyImageSignatures(store, { ref, digest: doc.digest }, ruleKeys(opts.policy, rule), { annotations: rule.annotations })
          : undefined;
      row.verified = decide(opts.policy, rule, evidence).allowed;
      if (!row.verified) row.flags.push('unverified');
    }
    if (opts.vulnerabilities) {
      try {
        row.vulnerabilities = await opts.vulnerabilities(`${store.registry}/${repository}@${doc.digest}`);
      } catch (e) {
        if (!isUserError(e)) throw e;
        row.error = `vulnerability scan: ${describeError(e)}`;
        row.flags.push('error');
      }
    }
    const before = opts.previous?.[`${repository}:${tag}`];
    if (before && before !== doc.digest) {
      row.previousDigest = before;
      row.flags.push('moved');
    }
  } catch (e) {
    if (!isUserError(e) && !(e instanceof SyntaxError)) throw e;
    row.error = describeError(e);
    row.flags.push('error');
  }
  return row;
}

/** The tag → digest map to save for the next audit's "moved" detection. */
export function auditState(rows: AuditRow[]): Record<string, string> {
  return Object.fromEntries(rows.filter((r) => r.digest).map((r) => [`${r.repository}:${r.tag}`, r.digest!]));
}
