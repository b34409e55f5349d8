/**
 * Leased periodic work: several Central instances share one PostgreSQL, and each periodic
 * job (watches of the live inventory, re-matching after a DB update, registry hygiene,
 * exception expiry, scans of images in use) runs on one instance at a time. The lease is a
 * row of the `leases` table (migration 0009) per job; its holder renews it, and an instance
 * that dies (kill -9) stops renewing, so another takes it over once it has expired.
 *
 * The numbers (defaults of LeaseTimings):
 * - TTL 15 s: a lease not renewed for 15 s (by the database's clock) is free.
 * - Renewal every 5 s: three tries per TTL, so a slow query or a brief database hiccup does
 *   not lose the lease.
 * - Others try every 5 s: a dead holder's jobs restart elsewhere within TTL + retry = 20 s
 *   (plus the job's own start), under the 30 s goal.
 * - A holder that cannot renew stops its job at (send time of its last successful renewal
 *   + TTL − 2 s). The database set the expiry at or after that send time, so the holder has
 *   stopped before anyone can take the lease over: the job never runs twice.
 * A graceful stop deletes the lease row, so the work moves at the next try (≤ 5 s).
 *
 * Expiry compares the database's clock with itself (clock_timestamp() in the statement), so
 * skew between the instances' clocks does not matter. On SQLite there is one Central per
 * store: the jobs run directly, no lease is taken.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { sql, type Kysely } from 'kysely';
import { describeError } from '../util/errors.js';
import type { CentralContext } from './context.js';
import type { CentralJob, CentralJobTools } from './jobs.js';
import type { Database } from './store/schema.js';

export interface LeaseTimings {
  ttlMs: number;
  renewMs: number;
  retryMs: number;
  /** How long before its lease's expiry a holder that cannot renew stops its job. */
  marginMs: number;
}

export const DEFAULT_LEASE_TIMINGS: LeaseTimings = { ttlMs: 15_000, renewMs: 5_000, retryMs: 5_000, marginMs: 2_000 };

export interface LeaseRow {
  name: string;
  holder: string;
  expiresMs: number;
  acquiredMs: number;
  renewedMs: number;
  epoch: number;
}

const NOW_MS = sql<number>`(extract(epoch from clock_timestamp()) * 1000)::bigint`;

/** One Central instance's view of the lease table (PostgreSQL). */
export class LeaseManager {
  constructor(
    private readonly db: Kysely<Database>,
    /** Unique per process: host, pid and a random part (a restarted process is a new holder). */
    readonly holder: string = defaultHolder(),
  ) {}

  /**
   * Takes the lease when it is free or expired, or renews it when this instance holds it.
   * Returns the epoch (fencing token) when held after the call, else undefined.
   */
  async acquire(name: string, ttlMs: number): Promise<number | undefined> {
    const r = await sql<{ epoch: string | number }>`
      INSERT INTO leases AS l (name, holder, expires_ms, acquired_ms, renewed_ms, epoch)
      VALUES (${name}, ${this.holder}, ${NOW_MS} + ${ttlMs}, ${NOW_MS}, ${NOW_MS}, 1)
      ON CONFLICT (name) DO UPDATE SET
        holder = excluded.holder,
        expires_ms = excluded.expires_ms,
        renewed_ms = excluded.renewed_ms,
        acquired_ms = CASE WHEN l.holder = excluded.holder THEN l.acquired_ms ELSE excluded.acquired_ms END,
        epoch = CASE WHEN l.holder = excluded.holder THEN l.epoch ELSE l.epoch + 1 END
      WHERE l.holder = excluded.holder OR l.expires_ms < excluded.renewed_ms
      RETURNING l.epoch`.execute(this.db);
    const row = r.rows[0];
    return row ? Number(row.epoch) : undefined;
  }

  /** Renews a held lease only (never takes one over): false when another instance holds it now. */
  async renew(name: string, ttlMs: number): Promise<boolean> {
    const r = await sql`UPDATE leases SET expires_ms = ${NOW_MS} + ${ttlMs}, renewed_ms = ${NOW_MS} WHERE name = ${name} AND holder = ${this.holder}`.execute(this.db);
    return Number(r.numAffectedRows ?? 0) === 1;
  }

  /** Gives a held lease back (graceful stop): another instance can take it at its next try. */
  async release(name: string): Promise<void> {
    await sql`DELETE FROM leases WHERE name = ${name} AND holder = ${this.holder}`.execute(this.db);
  }

  async list(): Promise<LeaseRow[]> {
    const r = await sql<{ name: string; holder: string; expires_ms: string; acquired_ms: string; renewed_ms: string; epoch: string }>`SELECT name, holder, expires_ms, acquired_ms, renewed_ms, epoch FROM leases ORDER BY name`.execute(this.db);
    return r.rows.map((x) => ({ name: x.name, holder: x.holder, expiresMs: Number(x.expires_ms), acquiredMs: Number(x.acquired_ms), renewedMs: Number(x.renewed_ms), epoch: Number(x.epoch) }));
  }
}

export function defaultHolder(): string {
  return `${hostname()}/${process.pid}/${randomBytes(4).toString('hex')}`;
}

const managers = new WeakMap<CentralContext, LeaseManager>();

/** This Central context's lease manager (one holder id per process and context). */
export function leaseManager(ctx: CentralContext): LeaseManager {
  let m = managers.get(ctx);
  if (!m) managers.set(ctx, (m = new LeaseManager(ctx.db)));
  return m;
}

export interface LeasedOptions {
  timings?: Partial<LeaseTimings>;
  /** The manager to use (tests run two "instances" in one process); default: the context's. */
  manager?: (ctx: CentralContext) => LeaseManager;
  /** Lease even on SQLite (tests). */
  always?: boolean;
}

/**
 * A job that runs only while this instance holds the lease `name`: it starts when the lease
 * is taken, and its signal aborts when the lease is lost or Central stops. On SQLite the job
 * runs directly.
 */
export function leased(name: string, job: CentralJob, options: LeasedOptions = {}): CentralJob {
  const t: LeaseTimings = { ...DEFAULT_LEASE_TIMINGS, ...options.timings };
  const run: CentralJob = async (ctx, signal, tools) => {
    if (ctx.store.dialect !== 'postgres' && !options.always) return job(ctx, signal, tools);
    const leases = (options.manager ?? leaseManager)(ctx);
    let lastError: string | undefined;
    while (!signal.aborted) {
      const sentAt = performance.now();
      let epoch: number | undefined;
      try {
        epoch = await leases.acquire(name, t.ttlMs);
        lastError = undefined;
      } catch (e) {
        const message = describeError(e);
        if (message !== lastError) tools.log.warn({ job: name, error: message }, 'lease: cannot reach the store; retrying');
        lastError = message;
      }
      if (epoch === undefined) {
        await sleep(t.retryMs, signal);
        continue;
      }
      tools.log.info({ job: name, holder: leases.holder, epoch }, 'lease acquired: job starts on this instance');
      const ended = await holdWhileRunning(name, job, ctx, signal, tools, leases, t, sentAt + t.ttlMs);
      if (signal.aborted || ended === 'finished') {
        await leases.release(name).catch(() => undefined);
        return;
      }
      tools.log.warn({ job: name, holder: leases.holder }, 'lease lost: job stopped on this instance');
    }
  };
  Object.defineProperty(run, 'name', { value: job.name || name });
  return run;
}

/** Runs the job and renews the lease until the job ends, Central stops, or the lease is lost. */
async function holdWhileRunning(
  name: string, job: CentralJob, ctx: CentralContext, signal: AbortSignal, tools: CentralJobTools,
  leases: LeaseManager, t: LeaseTimings, validUntil: number,
): Promise<'finished' | 'stopped' | 'lost'> {
  const inner = new AbortController();
  const onAbort = () => inner.abort();
  signal.addEventListener('abort', onAbort, { once: true });
  let finished = false;
  const running = Promise.resolve()
    .then(() => job(ctx, inner.signal, tools))
    .catch((e: unknown) => {
      if (!inner.signal.aborted) tools.log.error({ job: name, error: describeError(e) }, 'background job failed');
    })
    .finally(() => {
      finished = true;
    });
  let outcome: 'finished' | 'stopped' | 'lost' = 'stopped';
  try {
    while (!inner.signal.aborted) {
      // Wake for the next renewal, or just before the lease runs out when renewals fail.
      const wait = Math.max(0, Math.min(t.renewMs, validUntil - t.marginMs - performance.now()));
      await Promise.race([sleep(wait, inner.signal), running]);
      if (finished) {
        outcome = 'finished';
        break;
      }
      if (inner.signal.aborted) break;
      if (performance.now() >= validUntil - t.marginMs) {
        outcome = 'lost';
        break;
      }
      const sentAt = performance.now();
      try {
        const held = await withTimeout(leases.renew(name, t.ttlMs), Math.max(500, validUntil - t.marginMs - sentAt));
        if (!held) {
          outcome = 'lost';
          break;
        }
        validUntil = sentAt + t.ttlMs;
      } catch {
        // The store did not answer: keep running until the lease may have expired.
      }
    }
  } finally {
    signal.removeEventListener('abort', onAbort);
    inner.abort();
    await running;
  }
  return signal.aborted ? 'stopped' : outcome;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    timer.unref();
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('timeout')), ms);
    timer.unref();
  })]).finally(() => clearTimeout(timer));
}
