/**
 * Re-matching after a vulnerability DB change: every stored image with an SBOM is matched
 * again from that SBOM against the current DB, with no pull. Its vulnerability findings are
 * replaced (secrets, hygiene and other findings stay), its summary and db_version updated,
 * and its build-stage policies evaluated again, in one transaction per image (per batch of images on SQLite). Images are read
 * in pages of digests, so memory stays bounded by one page and one image.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { Transaction } from 'kysely';
import type { Finding } from '../../findings/finding.js';
import { withFingerprint } from '../../findings/fingerprint.js';
import type { VulnDb } from '../../vuln/db.js';
import { matchVulnerabilities, toFinding, type MatchedVulnerability } from '../../vuln/match.js';
import type { OsInfo, Package } from '../../inventory/package.js';
import { describeError } from '../../util/errors.js';
import type { CentralContext } from '../context.js';
import { summarize } from '../store/images.js';
import type { Database } from '../store/schema.js';
import { chunks, fromJson, toJson } from '../store/json.js';
import { reconcileImagePolicies } from './image-policies.js';
import { packagesFromCycloneDx } from './sbom-packages.js';

export interface RematchOptions {
  /** The current vulnerability DB (opened read-only by the caller). */
  db: VulnDb;
  /** Its version (vulnDbVersion), stored as images.db_version. */
  version: string;
  /** Only images whose db_version differs from `version` (a resumed or repeated run skips the done ones). Default true. */
  onlyStale?: boolean;
  /** Digests per page (default 200). */
  pageSize?: number;
  /**
   * Images in flight at once (default: 4 on PostgreSQL, where each query is a round trip and
   * the pool has connections to spare; 1 on SQLite, whose one connection runs one at a time).
   */
  concurrency?: number;
  /** Images per transaction (default: 10 on SQLite, 1 on PostgreSQL). */
  batchSize?: number;
  signal?: AbortSignal;
  /** After each image (progress, benchmarks). */
  onImage?: (digest: string, changed: boolean) => void;
}

export interface RematchResult {
  images: number;
  /** Images whose vulnerability findings changed. */
  changed: number;
  /** Vulnerability findings over all re-matched images. */
  vulnerabilities: number;
  /** Images left as they were: an SBOM that could not be read, or a transaction that failed. */
  failed: number;
  /** The last failed transaction's error, if any. */
  lastError?: string;
  ms: number;
}

type RematchCtx = Pick<CentralContext, 'db' | 'policies' | 'now'> & { store?: Pick<CentralContext['store'], 'dialect'> };

/**
 * The matcher for a whole run. The engine's caches live for one matchPackages call, but a
 * fleet's images share most of their packages: across thousands of images the same
 * package would be looked up, parsed and version-compared again for every image. This
 * keeps, for the run, each DB lookup and each package's matches (keyed by everything
 * matchVulnerabilities reads: ecosystem, name, version, source package and OS release),
 * and gives the same findings as matchPackages(db, packages, os). Bounded: cleared when full.
 */
export class FleetMatcher {
  private readonly lookups = new Map<string, ReturnType<VulnDb['candidates']>>();
  private readonly matches = new Map<string, MatchedVulnerability[]>();
  private readonly db: VulnDb;

  constructor(db: VulnDb, private readonly maxEntries = 100_000) {
    const candidates = (ecosystem: string, name: string) => {
      const key = `${ecosystem}\0${name}`;
      let hit = this.lookups.get(key);
      if (!hit) {
        if (this.lookups.size >= this.maxEntries) this.lookups.clear();
        this.lookups.set(key, (hit = db.candidates(ecosystem, name)));
      }
      return hit;
    };
    // matchVulnerabilities takes the VulnDb class: a proxy routes its lookups through the cache.
    this.db = new Proxy(db, { get: (target, prop) => (prop === 'candidates' ? candidates : Reflect.get(target, prop, target)) });
  }

  match(packages: readonly Package[], os: OsInfo | undefined): Finding[] {
    const out: Finding[] = [];
    const seen = new Set<string>();
    const release = `${os?.versionId ?? ''}\0${os?.codename ?? ''}`;
    for (const pkg of packages) {
      const key = `${pkg.ecosystem}\0${pkg.name}\0${pkg.version}\0${pkg.source?.name ?? ''}\0${pkg.source?.version ?? ''}\0${release}`;
      let found = this.matches.get(key);
      if (!found) {
        if (this.matches.size >= this.maxEntries) this.matches.clear();
        this.matches.set(key, (found = matchVulnerabilities(this.db, [pkg], os)));
      }
      for (const m of found) {
        // The same de-duplication as matchVulnerabilities over the whole list.
        const dedupe = `${m.advisory.id}\0${pkg.name}\0${pkg.version}\0${pkg.location.path}`;
        if (seen.has(dedupe)) continue;
        seen.add(dedupe);
        out.push(toFinding(m.package === pkg ? m : { ...m, package: pkg }));
      }
    }
    return out;
  }
}

/** Re-matches every stored image that has an SBOM (see the file comment). */
export async function rematchAll(ctx: RematchCtx, opts: RematchOptions): Promise<RematchResult> {
  const started = performance.now();
  const matcher = new FleetMatcher(opts.db);
  const onlyStale = opts.onlyStale ?? true;
  const concurrency = Math.max(1, opts.concurrency ?? (ctx.store?.dialect === 'postgres' ? 4 : 1));
  // On SQLite a commit costs as much as matching an image: several images share one
  // transaction. PostgreSQL keeps one per image (images run in parallel on the pool).
  const batchSize = Math.max(1, opts.batchSize ?? (ctx.store?.dialect === 'postgres' ? 1 : 10));
  const result: RematchResult = { images: 0, changed: 0, vulnerabilities: 0, failed: 0, ms: 0 };
  let after = '';
  for (;;) {
    let q = ctx.db.selectFrom('images').select('digest').where('sbom', 'is not', null).where('digest', '>', after);
    if (onlyStale) q = q.where((eb) => eb.or([eb('db_version', 'is', null), eb('db_version', '!=', opts.version)]));
    const page = await q.orderBy('digest').limit(opts.pageSize ?? 200).execute();
    if (page.length === 0) break;
    const queue = page.map((r) => r.digest);
    const record = (digest: string, r: RematchOutcome) => {
      if (!r) return;
      if (r === 'unreadable') {
        result.failed++;
        return;
      }
      result.images++;
      result.vulnerabilities += r.vulnerabilities;
      if (r.changed) result.changed++;
      opts.onImage?.(digest, r.changed);
    };
    const one = async (digest: string) => {
      try {
        record(digest, await rematchImage(ctx, matcher, opts.version, digest));
      } catch (e) {
        // One image's transaction failed (a concurrent push wrote the same rows): it stays
        // stale and the next run takes it again; the others go on.
        result.failed++;
        result.lastError = describeError(e);
      }
    };
    const worker = async () => {
      while (queue.length > 0 && !opts.signal?.aborted) {
        // better-sqlite3 is synchronous: give the API a turn between batches.
        await yieldToEventLoop();
        const batch = queue.splice(0, batchSize);
        if (batch.length === 1) {
          await one(batch[0]!);
          continue;
        }
        let outcomes: RematchOutcome[];
        try {
          outcomes = await ctx.db.transaction().execute(async (trx) => {
            const out: RematchOutcome[] = [];
            for (const digest of batch) out.push(await rematchImageIn(trx, ctx.policies, ctx.now(), matcher, opts.version, digest));
            return out;
          });
        } catch {
          // The batch rolled back: each image again in its own transaction, so one bad image fails alone.
          for (const digest of batch) if (!opts.signal?.aborted) await one(digest);
          continue;
        }
        batch.forEach((digest, i) => record(digest, outcomes[i]));
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    if (opts.signal?.aborted) break;
    after = page[page.length - 1]!.digest;
  }
  result.ms = Math.round(performance.now() - started);
  return result;
}

/**
 * Whether a stored finding says what a fresh one says. The advisory's `modified` time is
 * left out: feeds without per-record times (the Debian tracker) stamp every record with the
 * import time, and rewriting every finding of every image for a timestamp alone would cost
 * a daily update as much as the first match. (In JSON text a quote inside a string is
 * escaped, so the pattern only finds the key itself.)
 */
function sameFinding(stored: string, fresh: string): boolean {
  return stored === fresh || stored.replace(MODIFIED, '') === fresh.replace(MODIFIED, '');
}
const MODIFIED = /,?"modified":"[^"]*"/;

/** One image, in one transaction. Undefined when it is gone or has no SBOM; 'unreadable' when its SBOM is not JSON (it is left as it was). */
export async function rematchImage(ctx: RematchCtx, matcher: FleetMatcher, version: string, digest: string): Promise<RematchOutcome> {
  return ctx.db.transaction().execute((trx) => rematchImageIn(trx, ctx.policies, ctx.now(), matcher, version, digest));
}

type RematchOutcome = { changed: boolean; vulnerabilities: number } | 'unreadable' | undefined;

/** One image inside the caller's transaction (see rematchImage). */
async function rematchImageIn(
  trx: Transaction<Database>, policies: RematchCtx['policies'], now: Date, matcher: FleetMatcher, version: string, digest: string,
): Promise<RematchOutcome> {
  const row = await trx.selectFrom('images').select(['digest', 'refs', 'os', 'created', 'layers', 'signature', 'sbom']).where('digest', '=', digest).executeTakeFirst();
  if (!row?.sbom) return undefined;
  let bom: unknown;
  try {
    bom = JSON.parse(row.sbom);
  } catch {
    return 'unreadable';
  }
  const { os, packages } = packagesFromCycloneDx(bom);
  const vulns = matcher.match(packages, os).map((f) => withFingerprint({ ...f, resource: { ...f.resource, image: { ...f.resource.image, digest } } }));
  // One row per fingerprint, as replaceImageFindings keeps them.
  const fresh = new Map(vulns.map((f) => [f.fingerprint, { f, body: toJson(f) }]));
  const stored = await trx.selectFrom('image_findings').select(['fingerprint', 'kind', 'body']).where('image_digest', '=', digest).execute();
  const kept: Finding[] = [];
  const oldVulns = new Map<string, string>();
  for (const r of stored) {
    if (r.kind === 'vulnerability') oldVulns.set(r.fingerprint, r.body);
    else kept.push(fromJson<Finding>(r.body, null as unknown as Finding));
  }
  // Only what changed is written: after a daily DB update most images differ in a few findings.
  const gone = [...oldVulns.keys()].filter((fp) => !fresh.has(fp));
  const added = [...fresh].filter(([fp]) => !oldVulns.has(fp)).map(([, v]) => v);
  const modified = [...fresh].filter(([fp, v]) => oldVulns.has(fp) && !sameFinding(oldVulns.get(fp)!, v.body)).map(([, v]) => v);
  const changed = gone.length + added.length + modified.length > 0;
  const toRow = (v: { f: Finding & { fingerprint: string }; body: string }) => ({ image_digest: digest, fingerprint: v.f.fingerprint, finding_id: v.f.id, kind: v.f.kind, severity: v.f.severity, body: v.body });
  if (modified.length > fresh.size / 2) {
    // Most rows differ (an advisory feed rewrote its records): replacing them all is cheaper.
    await trx.deleteFrom('image_findings').where('image_digest', '=', digest).where('kind', '=', 'vulnerability').execute();
    for (const part of chunks([...fresh.values()])) await trx.insertInto('image_findings').values(part.map(toRow)).execute();
  } else if (changed) {
    for (const part of chunks(gone, 500)) await trx.deleteFrom('image_findings').where('image_digest', '=', digest).where('fingerprint', 'in', part).execute();
    for (const part of chunks(added)) await trx.insertInto('image_findings').values(part.map(toRow)).execute();
    for (const v of modified) {
      await trx.updateTable('image_findings').set({ finding_id: v.f.id, severity: v.f.severity, body: v.body }).where('image_digest', '=', digest).where('fingerprint', '=', v.f.fingerprint).execute();
    }
  }
  const all = [...kept, ...[...fresh.values()].map((v) => v.f)];
  await trx.updateTable('images').set({ ...(changed ? { summary: toJson(summarize(all)) } : {}), db_version: version }).where('digest', '=', digest).execute();
  await reconcileImagePolicies(trx, policies, row, packages, all, now);
  return { changed, vulnerabilities: fresh.size };
}
