/**
 * Re-matching after a vulnerability DB change: every stored image with an SBOM is matched
 * again from that SBOM against the current DB, with no pull. Its vulnerability findings are
 * replaced when they changed (secrets, hygiene and other findings stay), its summary and
 * db_version updated, and its build-stage policies evaluated again, in one transaction per
 * image. Images are read in pages of digests, so memory stays bounded by one page and the
 * images in flight.
 *
 * The matching and the policies (image-work.ts) run in image workers (image-pool.ts) while
 * the main thread reads and writes the store: an image is read, computed in a worker, then
 * written if nobody pushed it in between (else it stays stale and the next run takes it).
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { Kysely, Transaction } from 'kysely';
import type { VulnDb } from '../../vuln/db.js';
import { describeError } from '../../util/errors.js';
import type { CentralContext } from '../context.js';
import type { Database } from '../store/schema.js';
import { readImageSbom, setPackagesHash } from '../store/image-sboms.js';
import { readForRematch, replaceImageVulnerabilities } from '../store/image-findings.js';
import { markTextsStored } from '../store/shared-texts.js';
import { reconcileViolations } from '../store/violations.js';
import { FleetMatcher } from './fleet-matcher.js';
import { ImagePool } from './image-pool.js';
import { computeRematch, type RematchComputed, type RematchInput } from './image-work.js';

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
   * Image workers to compute in: a pool of the caller's, or false to compute in this thread.
   * Default: Central's (ctx.imagePool), else a pool for the run, stopped at its end.
   */
  pool?: ImagePool | false;
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

type RematchCtx = Pick<CentralContext, 'db' | 'policies' | 'now'> & Partial<Pick<CentralContext, 'imagePool'>>;
type Db = Kysely<Database> | Transaction<Database>;
type Matched = { changed: boolean; vulnerabilities: number } | 'unreadable';
/** Undefined: the image is gone or has no SBOM; 'pushed': it was pushed while it was computed. */
type RematchOutcome = Matched | 'pushed' | undefined;

/** Re-matches every stored image that has an SBOM (see the file comment). */
export async function rematchAll(ctx: RematchCtx, opts: RematchOptions): Promise<RematchResult> {
  const started = performance.now();
  const ownPool = opts.pool === undefined && !ctx.imagePool ? new ImagePool(() => ctx.policies) : undefined;
  const pool = opts.pool === false ? undefined : opts.pool ?? ctx.imagePool ?? ownPool;
  const matcher = pool ? undefined : new FleetMatcher(opts.db);
  const db = { path: opts.db.path, version: opts.version };
  const onlyStale = opts.onlyStale ?? true;
  const result: RematchResult = { images: 0, changed: 0, vulnerabilities: 0, failed: 0, ms: 0 };
  const record = (digest: string, r: RematchOutcome) => {
    if (!r) return;
    if (r === 'unreadable' || r === 'pushed') {
      result.failed++;
      if (r === 'pushed') result.lastError = `image ${digest} was pushed while it was re-matched: it is taken again at the next run`;
      return;
    }
    result.images++;
    result.vulnerabilities += r.vulnerabilities;
    if (r.changed) result.changed++;
    opts.onImage?.(digest, r.changed);
  };
  const one = async (digest: { digest: string; packagesHash: string }) => {
    try {
      record(digest.digest, pool ? await rematchInPool(ctx, pool, db, digest) : await rematchImage(ctx, matcher!, opts.version, digest.digest, digest.packagesHash));
    } catch (e) {
      // One image failed (its transaction, or its worker): it stays stale and the next run takes it again.
      result.failed++;
      result.lastError = describeError(e);
    }
  };
  try {
    // In order of package list, so the images of one list come one after another (their
    // matched set is computed once and held while they pass).
    let after = { packagesHash: '', digest: '' };
    for (;;) {
      // A row-value range over image_sboms_by_packages (packages_hash, digest): SQLite walks
      // that index alone. (An OR of the two bounds made it fetch image_sboms rows by rowid,
      // walking past each ~250 KB SBOM to the column after it: minutes per page at 15,000.)
      let q = ctx.db.selectFrom('image_sboms as s').innerJoin('images as i', 'i.digest', 's.digest')
        .select(['s.digest as digest', 's.packages_hash as packagesHash'])
        .where(({ eb, refTuple, tuple }) => eb(refTuple('s.packages_hash', 's.digest'), '>', tuple(after.packagesHash, after.digest)))
        .where('i.has_sbom', '=', 1);
      if (onlyStale) q = q.where((eb) => eb.or([eb('i.db_version', 'is', null), eb('i.db_version', '!=', opts.version)]));
      const page = await q.orderBy('s.packages_hash').orderBy('s.digest').limit(opts.pageSize ?? 200).execute();
      if (page.length === 0) break;
      const queue = [...page];
      // Two images per worker in flight: one computing while the other's result is written.
      const lanes = pool ? pool.size * 2 : 1;
      await Promise.all(Array.from({ length: lanes }, async () => {
        while (queue.length > 0 && !opts.signal?.aborted) {
          // better-sqlite3 is synchronous: give the API a turn between images.
          await yieldToEventLoop();
          // Another lane may have taken the last one meanwhile.
          const next = queue.shift();
          if (next) await one(next);
        }
      }));
      if (opts.signal?.aborted) break;
      after = page[page.length - 1]!;
    }
  } finally {
    await ownPool?.close();
  }
  result.ms = Math.round(performance.now() - started);
  return result;
}

/** What re-matching one image reads from the store (the SBOM only when asked); undefined when it is gone or has no SBOM. */
async function readInput(db: Db, digest: string, packagesHash: string, withSbom: boolean, now: Date): Promise<(RematchInput & { lastSeen: string }) | undefined> {
  const row = await db.selectFrom('images').select(['digest', 'refs', 'os', 'created', 'layers', 'signature', 'last_seen']).where('digest', '=', digest).executeTakeFirst();
  if (!row) return undefined;
  const sbomText = withSbom || !packagesHash ? await readImageSbom(db, digest) : undefined;
  if ((withSbom || !packagesHash) && sbomText === undefined) return undefined;
  const stored = await readForRematch(db, digest);
  const { last_seen: lastSeen, ...image } = row;
  return { row: image, packagesHash, ...(sbomText !== undefined ? { sbomText } : {}), storedVulnerabilities: stored.vulnerabilitiesDoc, others: stored.others, now: now.toISOString(), lastSeen };
}

type Computed = Exclude<RematchComputed, { needSbom: true }>;

/** Writes what was computed: the findings if they changed, the summary, the DB version, the image's violations. */
async function writeOutcome(trx: Db, ctx: RematchCtx, digest: string, version: string, computed: Computed, others: number, now: Date): Promise<Matched> {
  if (computed.unreadable) return 'unreadable';
  if (computed.packagesHash) await setPackagesHash(trx, digest, computed.packagesHash);
  if (computed.changed) await replaceImageVulnerabilities(trx, digest, computed, computed.vulnerabilities, others);
  await trx.updateTable('images').set({ ...(computed.changed ? { summary: computed.summary } : {}), db_version: version }).where('digest', '=', digest).execute();
  await reconcileViolations(trx, { subjectKind: 'image', subjectKey: digest, stage: 'build', findings: computed.violations }, ctx.policies.exceptions, now);
  return { changed: computed.changed, vulnerabilities: computed.vulnerabilities };
}

/** After a commit: the texts it wrote are stored (shared-texts.ts skips looking them up again). */
function remember(db: Db, computed: Computed): void {
  if (!computed.unreadable && computed.changed) markTextsStored(db, computed.texts);
}

/** One image through a worker: read, compute there (with its SBOM only if the worker asks), then write unless the image was pushed meanwhile. */
async function rematchInPool(ctx: RematchCtx, pool: ImagePool, db: { path: string; version: string }, image: { digest: string; packagesHash: string }): Promise<RematchOutcome> {
  const { digest } = image;
  const now = ctx.now();
  let input = await readInput(ctx.db, digest, image.packagesHash, false, now);
  if (!input) return undefined;
  let computed = await pool.rematch(db, withoutLastSeen(input));
  if ('needSbom' in computed && computed.needSbom) {
    input = await readInput(ctx.db, digest, image.packagesHash, true, now);
    if (!input) return undefined;
    computed = await pool.rematch(db, withoutLastSeen(input));
    if ('needSbom' in computed && computed.needSbom) throw new Error(`the image worker asked again for the SBOM of ${digest}`);
  }
  const done = computed as Computed;
  const { lastSeen } = input;
  const outcome = await ctx.db.transaction().execute(async (trx): Promise<RematchOutcome> => {
    const current = await trx.selectFrom('images').select('last_seen').where('digest', '=', digest).executeTakeFirst();
    if (!current) return undefined;
    if (current.last_seen !== lastSeen) return 'pushed';
    return writeOutcome(trx, ctx, digest, db.version, done, input!.others.length, now);
  });
  if (outcome && outcome !== 'pushed') remember(ctx.db, done);
  return outcome;
}

function withoutLastSeen(input: RematchInput & { lastSeen: string }): RematchInput {
  const { lastSeen: _, ...work } = input;
  return work;
}

/**
 * One image in this thread, in one transaction. Undefined when it is gone or has no SBOM;
 * 'unreadable' when its SBOM is not JSON (it is left as it was). `packagesHash`: its package
 * list's address when the caller knows it ('' or undefined: read from the store).
 */
export async function rematchImage(ctx: RematchCtx, matcher: FleetMatcher, version: string, digest: string, packagesHash?: string): Promise<Matched | undefined> {
  let computedOut: Computed | undefined;
  const outcome = await ctx.db.transaction().execute(async (trx) => {
    const now = ctx.now();
    const hash = packagesHash || ((await trx.selectFrom('image_sboms').select('packages_hash').where('digest', '=', digest).executeTakeFirst())?.packages_hash ?? '');
    const input = await readInput(trx, digest, hash, !hash || !matcher.cachedSet(hash), now);
    if (!input) return undefined;
    const computed = computeRematch(input, matcher, ctx.policies.set);
    if ('needSbom' in computed && computed.needSbom) throw new Error(`no SBOM read for ${digest}`);
    computedOut = computed as Computed;
    return writeOutcome(trx, ctx, digest, version, computedOut, input.others.length, now);
  });
  if (outcome && computedOut) remember(ctx.db, computedOut);
  return outcome;
}
