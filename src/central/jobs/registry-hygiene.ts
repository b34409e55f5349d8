/**
 * Registry hygiene per watched repository (issue 16 item 7): every interval, each watched
 * repository is audited with the `registry audit` engine (src/trust/audit.ts) and its
 * tags are flagged when older than six months, unsigned (no cosign `.sig` tag, no sigstore
 * bundle referrer), or vulnerable by what Central already knows of the digest (the images
 * table; nothing is pulled or scanned here). The findings replace the watch's previous
 * ones (source 'registry-audit', target registry/repository). Central's build-stage image
 * policies run over the tags whose digest Central has not stored, from what the audit
 * knows (name, digest, creation time); a stored image's policies already run from its full
 * facts (src/central/images/image-policies.ts), so they are not decided a second time here.
 */
import { SEVERITIES, severityRank, type Finding, type Severity } from '../../findings/finding.js';
import type { RegistryClientOptions } from '../../image/registry/client.js';
import { findViolations } from '../../policy/evaluate.js';
import { auditRegistry, type AuditRow } from '../../trust/audit.js';
import { RegistryStore } from '../../trust/registry-write.js';
import { describeError } from '../../util/errors.js';
import type { ImageFacts } from '../../vuln/image-facts.js';
import type { CentralContext } from '../context.js';
import type { CentralJob, CentralJobTools } from '../jobs.js';
import { chunks, fromJson } from '../store/json.js';
import type { ImageSummary } from '../store/images.js';
import { REGISTRY_AUDIT_SOURCE, listWatches, recordWatchRun, type RegistryWatch, type WatchTag } from '../store/registry-watches.js';
import { replaceFindings } from '../store/findings.js';
import { reconcileViolations } from '../store/violations.js';

/** Six months, as `registry audit --max-age` counts them by default. */
export const DEFAULT_MAX_AGE_DAYS = 180;
const DEFAULT_INTERVAL_MINUTES = 60;

export interface HygieneOptions {
  maxAgeDays?: number;
  /** How the registries are reached (credentials file, plain HTTP). */
  registry?: RegistryClientOptions;
  concurrency?: number;
}

export interface WatchRun {
  watch: RegistryWatch;
  tags: number;
  findings: number;
  violations: number;
  error?: string;
}

/** A watch of one repository reads its tags directly: many registries (Docker Hub, GHCR) serve no catalog. */
class OneRepositoryStore extends RegistryStore {
  constructor(registry: string, private readonly repository: string, opts: RegistryClientOptions) {
    super(registry, opts);
  }

  override async catalog(): Promise<string[]> {
    return [this.repository];
  }
}

const isGlob = (repository: string) => /[*?[\]{}!]/.test(repository);

/** Audits every watched repository once (the job's tick; tests call it directly). */
export async function auditWatchedRepositories(ctx: CentralContext, opts: HygieneOptions = {}): Promise<WatchRun[]> {
  const runs: WatchRun[] = [];
  for (const watch of await listWatches(ctx.db)) runs.push(await auditWatch(ctx, watch, opts));
  return runs;
}

/** Audits one watched repository and stores what it found; a registry that fails keeps the previous findings. */
export async function auditWatch(ctx: CentralContext, watch: RegistryWatch, opts: HygieneOptions = {}): Promise<WatchRun> {
  const now = ctx.now();
  const at = now.toISOString();
  const maxAgeDays = opts.maxAgeDays ?? DEFAULT_MAX_AGE_DAYS;
  const store = isGlob(watch.repository) ? new RegistryStore(watch.registry, opts.registry ?? {}) : new OneRepositoryStore(watch.registry, watch.repository, opts.registry ?? {});
  let rows: AuditRow[];
  try {
    rows = await auditRegistry(store, { repo: watch.repository, maxAgeDays, now, concurrency: opts.concurrency ?? 4 });
  } catch (e) {
    const error = describeError(e).split('\n')[0]!;
    await recordWatchRun(ctx.db, watch.id, { at, error, tags: watch.tags });
    return { watch, tags: 0, findings: 0, violations: 0, error };
  } finally {
    await store.close();
  }
  const known = await knownImages(ctx, rows.flatMap((r) => (r.digest ? [r.digest] : [])));
  const hygiene = rows.flatMap((r) => hygieneFindings(watch.registry, r, maxAgeDays, known.summaries.get(r.digest ?? '')));
  const violations = rows.flatMap((r) => (r.digest && !known.summaries.has(r.digest) ? findViolations({ kind: 'image', value: tagFacts(watch.registry, r, at) }, ctx.policies.set, 'build') : []));
  await ctx.db.transaction().execute(async (trx) => {
    await replaceFindings(trx, REGISTRY_AUDIT_SOURCE, watch.target, [...hygiene, ...violations], at);
    await reconcileViolations(trx, { subjectKind: REGISTRY_AUDIT_SOURCE, subjectKey: watch.target, stage: 'build', findings: violations }, ctx.policies.exceptions, now);
  });
  await recordWatchRun(ctx.db, watch.id, { at, error: null, tags: rows.length, rows: rows.map((r) => watchTag(r, known.summaries.get(r.digest ?? ''))) });
  return { watch, tags: rows.length, findings: hygiene.length + violations.length, violations: violations.length };
}

/** What Central knows of these digests from earlier scans (the images table). */
async function knownImages(ctx: CentralContext, digests: string[]): Promise<{ summaries: Map<string, ImageSummary> }> {
  const summaries = new Map<string, ImageSummary>();
  for (const part of chunks([...new Set(digests)], 300)) {
    for (const r of await ctx.db.selectFrom('images').select(['digest', 'summary']).where('digest', 'in', part).execute()) {
      summaries.set(r.digest, fromJson<ImageSummary>(r.summary, { counts: {}, fixable: 0, knownExploited: 0 }));
    }
  }
  return { summaries };
}

/** A tag as the console shows it: the audit's facts and Central's vulnerability counts of its digest. */
function watchTag(r: AuditRow, summary: ImageSummary | undefined): WatchTag {
  const counts = summary?.counts.vulnerability;
  return {
    repository: r.repository, tag: r.tag, signed: r.signed, stale: r.flags.includes('stale'),
    ...(r.digest ? { digest: r.digest } : {}), ...(r.created ? { created: r.created } : {}), ...(r.ageDays !== undefined ? { ageDays: r.ageDays } : {}),
    ...(summary ? { vulnerabilities: { ...(counts ?? {}) } } : {}), ...(r.error ? { error: r.error } : {}),
  };
}

/** The image subject of a tag Central has not scanned: what the audit read (no pull, so no packages, secrets or hygiene). */
function tagFacts(registry: string, r: AuditRow, now: string): ImageFacts {
  return {
    now, ref: `${registry}/${r.repository}:${r.tag}`, registry, repository: r.repository, tag: r.tag, digest: r.digest,
    ...(r.created ? { created: r.created } : {}),
    vulnerabilities: [], components: [], secrets: [],
  };
}

function hygieneFindings(registry: string, r: AuditRow, maxAgeDays: number, summary: ImageSummary | undefined): Finding[] {
  const ref = `${registry}/${r.repository}:${r.tag}`;
  const make = (flag: string, severity: Severity, title: string, detail: string, data: Record<string, unknown> = {}): Finding => ({
    id: `registry-${flag}`, kind: 'hygiene', severity, title, detail,
    resource: { image: { ref, ...(r.digest ? { digest: r.digest } : {}) } },
    // subjectKey is part of the fingerprint: two tags of one digest are two findings.
    references: [], data: { repository: r.repository, tag: r.tag, flag, subjectKey: ref, ...data },
  });
  const out: Finding[] = [];
  if (r.flags.includes('stale')) out.push(make('stale', 'MEDIUM', `image is older than ${maxAgeDays} days`, `${ref} was created ${r.created} (${r.ageDays} days ago)`, { created: r.created, ageDays: r.ageDays }));
  if (r.flags.includes('unsigned')) out.push(make('unsigned', 'MEDIUM', 'image has no signature', `${ref} (${r.digest}) has no cosign signature tag and no sigstore bundle referrer`));
  if (r.flags.includes('error')) out.push(make('error', 'UNKNOWN', 'tag could not be audited', `${ref}: ${r.error ?? 'unknown error'}`));
  const counts = summary?.counts.vulnerability ?? {};
  const present = SEVERITIES.filter((s) => (counts[s] ?? 0) > 0).sort((a, b) => severityRank(b) - severityRank(a));
  if (present.length) {
    out.push(make('vulnerable', present[0]!, 'image has known vulnerabilities', `${ref}: ${present.map((s) => `${counts[s]} ${s}`).join(', ')} (Central's last scan of ${r.digest})`, { vulnerabilities: counts, fixable: summary?.fixable ?? 0 }));
  }
  return out;
}

/** Minutes between audits: GATEHOUSE_REGISTRY_HYGIENE_MINUTES, else an hour. */
export function hygieneIntervalMs(env: NodeJS.ProcessEnv = process.env): number {
  const minutes = Number(env.GATEHOUSE_REGISTRY_HYGIENE_MINUTES ?? DEFAULT_INTERVAL_MINUTES);
  return (Number.isFinite(minutes) && minutes > 0 ? minutes : DEFAULT_INTERVAL_MINUTES) * 60_000;
}

/** The job: an audit at start, then every interval, and soon after a watch is added. */
export function registryHygieneJob(intervalMs = hygieneIntervalMs(), opts: HygieneOptions = {}): CentralJob {
  const job = async (ctx: CentralContext, signal: AbortSignal, tools: CentralJobTools): Promise<void> => {
    // A change while a run is under way must not wait for the next tick: `changed` remembers it.
    let changed = false;
    let wake: (() => void) | undefined;
    const onChange = () => {
      changed = true;
      wake?.();
    };
    ctx.events.on('registry-watches', onChange);
    signal.addEventListener('abort', onChange, { once: true });
    try {
      while (!signal.aborted) {
        changed = false;
        try {
          for (const run of await auditWatchedRepositories(ctx, opts)) {
            if (run.error) tools.log.warn({ watch: run.watch.target, error: run.error }, 'registry hygiene: audit failed');
          }
        } catch (e) {
          tools.log.error({ err: e }, 'registry hygiene: run failed'); // retried at the next tick
        }
        if (signal.aborted) break;
        if (changed) continue;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, intervalMs);
          timer.unref();
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        wake = undefined;
      }
    } finally {
      ctx.events.off('registry-watches', onChange);
    }
  };
  Object.defineProperty(job, 'name', { value: 'registryHygiene' });
  return job;
}
