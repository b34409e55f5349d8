/**
 * The job that keeps images matched against the current vulnerability DB: every minute
 * (and at once on ctx.events 'db') it looks at the DB file; when the DB's version differs
 * from the one images were last matched with, it re-matches them from their stored SBOMs
 * (rematchAll) and emits ctx.events 'images' so deployments are scored again. A pushed
 * SBOM that was never matched ('image' event, no DB version) is matched at once.
 */
import { describeError } from '../../util/errors.js';
import { defaultDbPath } from '../../vuln/db.js';
import type { CentralContext } from '../context.js';
import type { CentralJob, CentralJobTools } from '../jobs.js';
import { dbFileStamp, openVulnDb } from './db-version.js';
import { FleetMatcher } from './fleet-matcher.js';
import { rematchAll, rematchImage, type RematchResult } from './rematch.js';

export interface VulnDbWatchOptions {
  /** The DB Central matches against (default: $GATEHOUSE_DB or ~/.cache/gatehouse/db/vuln.db). */
  dbPath?: string;
  /** How often the file is looked at (default 60 s). */
  intervalMs?: number;
}

/** What ctx.events 'images' carries: images whose findings were recomputed in bulk. */
export interface ImagesChanged {
  reason: 'rematch';
  dbVersion: string;
  images: number;
  changed: number;
}

export class VulnDbWatcher {
  private stamp: string | undefined;
  private missingLogged = false;
  /** The version the last completed run matched every image with. */
  version: string | undefined;

  constructor(private readonly ctx: CentralContext, private readonly path: string, private readonly log: CentralJobTools['log']) {}

  /** Re-matches when the DB changed since the last look (or `force`: on a 'db' notice). Returns the run, if there was one. */
  async check(signal?: AbortSignal, force = false): Promise<RematchResult | undefined> {
    const stamp = dbFileStamp(this.path);
    if (!stamp) {
      if (!this.missingLogged) this.log.warn({ path: this.path }, 'no vulnerability DB: stored images are not re-matched until one is there');
      this.missingLogged = true;
      this.stamp = undefined;
      return undefined;
    }
    this.missingLogged = false;
    if (stamp === this.stamp && !force) return undefined;
    const { db, version } = openVulnDb(this.path);
    try {
      const result = await rematchAll(this.ctx, { db, version, signal });
      if (signal?.aborted) return result; // not finished: the next start resumes (only stale images are matched)
      // Images left stale (a failed transaction, an unreadable SBOM) are taken again at the next look.
      this.stamp = result.failed > 0 ? undefined : stamp;
      if (result.images > 0 || version !== this.version) {
        this.log.info({ dbVersion: version, images: result.images, changed: result.changed, failed: result.failed, ms: result.ms, ...(result.lastError ? { lastError: result.lastError } : {}) }, 'images re-matched against the vulnerability DB');
      }
      this.version = version;
      if (result.changed > 0) this.ctx.events.emit('images', { reason: 'rematch', dbVersion: version, images: result.images, changed: result.changed } satisfies ImagesChanged);
      return result;
    } finally {
      db.close();
    }
  }

  /**
   * Matches pushed images that carry an SBOM but were never matched (`image sbom` pushes:
   * no findings, no DB version) against the current DB, so they do not wait for the next
   * DB change. Images a scan already matched are left to the scan's findings.
   */
  async matchUnmatched(digests: readonly string[]): Promise<number> {
    if (digests.length === 0 || !dbFileStamp(this.path)) return 0;
    const rows = await this.ctx.db.selectFrom('images').select('digest').where('digest', 'in', [...digests]).where('has_sbom', '=', 1).where('db_version', 'is', null).execute();
    if (rows.length === 0) return 0;
    const { db, version } = openVulnDb(this.path);
    try {
      const matcher = new FleetMatcher(db);
      let changed = 0;
      for (const { digest } of rows) {
        // The image-policy job evaluates the same push at the same time; a transaction that
        // lost to it (same violation rows) is tried once more.
        const r = await rematchImage(this.ctx, matcher, version, digest).catch(() => rematchImage(this.ctx, matcher, version, digest));
        if (r && r !== 'unreadable' && r.changed) changed++;
      }
      if (changed > 0) this.ctx.events.emit('images', { reason: 'rematch', dbVersion: version, images: rows.length, changed } satisfies ImagesChanged);
      return rows.length;
    } finally {
      db.close();
    }
  }
}

export function vulnDbWatchJobWith(options: VulnDbWatchOptions = {}): CentralJob {
  return async function vulnDbWatchJob(ctx, signal, tools) {
    const watcher = new VulnDbWatcher(ctx, options.dbPath ?? defaultDbPath(), tools.log);
    let forced = false;
    const pushed = new Set<string>();
    let wake: (() => void) | undefined;
    const onDb = () => {
      forced = true;
      wake?.();
    };
    const onImage = (digest: unknown) => {
      if (typeof digest !== 'string') return;
      pushed.add(digest);
      wake?.();
    };
    ctx.events.on('db', onDb);
    ctx.events.on('image', onImage);
    signal.addEventListener('abort', () => wake?.(), { once: true });
    try {
      while (!signal.aborted) {
        const force = forced;
        forced = false;
        try {
          await watcher.check(signal, force);
        } catch (e) {
          tools.log.warn({ err: describeError(e) }, 'vulnerability DB check failed (retried at the next tick)');
        }
        const digests = [...pushed];
        pushed.clear();
        try {
          await watcher.matchUnmatched(digests);
        } catch (e) {
          tools.log.warn({ err: describeError(e) }, 'matching pushed SBOMs failed (they are matched at the next DB change)');
        }
        if (signal.aborted || forced || pushed.size > 0) continue;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, options.intervalMs ?? 60_000);
          timer.unref();
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        wake = undefined;
      }
    } finally {
      ctx.events.off('db', onDb);
      ctx.events.off('image', onImage);
    }
  };
}

/** The job in CENTRAL_JOBS: the default DB path, checked every minute. */
export const vulnDbWatchJob: CentralJob = vulnDbWatchJobWith();
