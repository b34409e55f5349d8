/**
 * A small pool of image workers (image-worker.ts). Central's main thread serves the API and
 * is the store's only writer (better-sqlite3 is synchronous); matching an SBOM and
 * evaluating an image's policies are pure CPU (image-work.ts), so they go to workers and
 * run on the machine's other cores. Workers start on first use and stop after a while idle,
 * so a Central with nothing to match holds none (their memory counts in Central's RSS).
 * A worker that dies fails its requests; the next request starts a new one.
 */
import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import type { Finding } from '../../findings/finding.js';
import { spawnModuleWorker } from '../../util/ts-worker.js';
import type { Policy } from '../../policy/types.js';
import type { PreparedImage } from '../store/images.js';
import type { EvaluateInput, RematchComputed, RematchInput } from './image-work.js';
import type { StoredImageRow } from './stored-facts.js';
import type { WorkJob, WorkReply, WorkRequest } from './image-worker.js';
import type { NamedTexts, Need, PrepareResult, Supply } from './push-work.js';

/** A push the worker refused (bad JSON, or not what the route's schema accepts): its message is the 400's. */
export class BadPushError extends Error {}

/** A push that named content by an address Central holds nothing under: `missing` says what ('sbom.components', 'findings'). */
export class MissingContentError extends Error {
  constructor(readonly missing: string[]) {
    super(`Central does not hold the ${missing.join(' and ')} this push names`);
  }
}

/** Reads, from the store, content a push named and the worker lacks (undefined / left out: not stored). */
export interface ContentReader {
  list(address: string): Promise<string | undefined>;
  texts(table: 'finding_texts' | 'advisory_texts', addresses: string[]): Promise<Record<string, string>>;
}

export interface PreparedPush {
  prepared: PreparedImage;
  /** The finding texts the push named by address: the route confirms them stored (the worker may know texts of a push whose write failed). */
  named?: NamedTexts;
  /** Whether the worker was sent the named component list from the store (else it knew it: the route confirms it stored). */
  listRead: boolean;
  violations: (row: StoredImageRow, now: string) => Promise<Finding[] | undefined>;
  /** The push will not be stored: the worker forgets what it kept for `violations`. */
  drop: () => void;
}

export interface PolicySource {
  /** Bumped on every change (CentralPolicies.version). */
  version: number;
  list: readonly Policy[];
}

interface Slot {
  index: number;
  worker: Worker;
  policiesVersion: number | undefined;
  pending: Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>;
  idleTimer?: NodeJS.Timeout;
}

/**
 * Workers: one per core but the main thread's, at least one, at most `max`. Each holds its own
 * copy of the engines (~60–100 MB of Central's RSS while it runs), so two cores get one.
 */
export function defaultWorkerCount(max = 3): number {
  return Math.max(1, Math.min(max, availableParallelism() - 1));
}

export class ImagePool {
  private readonly slots: (Slot | undefined)[];
  private nextId = 1;
  private next = 0;
  private closed = false;

  constructor(private readonly policies: () => PolicySource, private readonly opts: { workers?: number; idleMs?: number } = {}) {
    this.slots = new Array(opts.workers ?? defaultWorkerCount()).fill(undefined);
  }

  /** Requests in flight over all workers. */
  get inFlight(): number {
    return this.slots.reduce((n, s) => n + (s?.pending.size ?? 0), 0);
  }

  get size(): number {
    return this.slots.length;
  }

  rematch(db: { path: string; version: string }, input: RematchInput): Promise<RematchComputed> {
    return this.send({ op: 'rematch', db, input }) as Promise<RematchComputed>;
  }

  evaluate(input: EvaluateInput): Promise<Finding[]> {
    return this.send({ op: 'evaluate', input }) as Promise<Finding[]>;
  }

  /**
   * Parses, validates and serializes a push's raw body in a worker (push-work.ts); the body's
   * memory is moved there, not copied. Content the push names by an address the worker does
   * not know (a component list, finding texts) is read with `read` (the store) and sent to
   * it, or the push rejects with MissingContentError when the store lacks some. `violations`
   * then evaluates the image's policies in the same worker, which kept what it parsed; `drop`
   * lets it go instead (a push not stored). A push the worker refuses rejects with BadPushError.
   */
  async preparePush(body: Uint8Array, read: ContentReader): Promise<PreparedPush> {
    // Only a buffer of its own can be transferred (small bodies share a pooled one).
    const own = body.byteOffset === 0 && body.byteLength === body.buffer.byteLength ? body : new Uint8Array(body);
    const slot = this.pick();
    let reply = await this.sendTo(slot, { op: 'prepare-push', body: own }, [own.buffer as ArrayBuffer]) as PrepareResult;
    const alive = () => this.slots[slot.index] === slot;
    const drop = (token: number) => { if (alive()) void this.sendTo(slot, { op: 'drop-push', token }).catch(() => undefined); };
    let listRead = false;
    // At most: the list and the findings' bodies, then the advisories those bodies name.
    for (let round = 0; 'need' in reply; round++) {
      const { need, token } = reply;
      if (round === 2) {
        drop(token);
        throw new Error('the image worker asked for a push\'s content three times');
      }
      const { supply, missing } = await readNeed(need, read).catch((e: unknown) => { drop(token); throw e; });
      if (missing.length) {
        drop(token);
        throw new MissingContentError(missing);
      }
      listRead ||= supply.list !== undefined;
      // The worker that kept the parsed push may have exited meanwhile: a message to it would never be answered.
      if (!alive()) throw new Error('the image worker exited while the push waited for its content');
      reply = await this.sendTo(slot, { op: 'supply', token, supply }) as PrepareResult;
    }
    const { prepared, token, named } = reply;
    return {
      prepared,
      named,
      listRead,
      violations: (row, now) => (alive() ? this.sendTo(slot, { op: 'push-violations', token, row, now }) as Promise<Finding[] | undefined> : Promise.resolve(undefined)),
      drop: () => drop(token),
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.slots.map((s, i) => s && this.stop(i)));
  }

  private send(req: WorkJob): Promise<unknown> {
    if (this.closed) return Promise.reject(new Error('the image worker pool is closed'));
    return this.sendTo(this.pick(), req);
  }

  /** The least busy worker, starting from a rotating index so ties spread. */
  private pick(): Slot {
    let pick = this.next++ % this.slots.length;
    for (let k = 0; k < this.slots.length; k++) {
      const i = (this.next + k) % this.slots.length;
      if ((this.slots[i]?.pending.size ?? 0) < (this.slots[pick]?.pending.size ?? 0)) pick = i;
    }
    return this.slots[pick] ?? this.start(pick);
  }

  private sendTo(slot: Slot, req: WorkJob, transfer: ArrayBuffer[] = []): Promise<unknown> {
    if (this.closed) return Promise.reject(new Error('the image worker pool is closed'));
    if (slot.idleTimer) clearTimeout(slot.idleTimer);
    slot.idleTimer = undefined;
    const id = this.nextId++;
    const source = this.policies();
    const full: WorkRequest = { ...req, id, ...(slot.policiesVersion !== source.version ? { policies: { version: source.version, list: [...source.list] } } : {}) };
    slot.policiesVersion = source.version;
    return new Promise((resolve, reject) => {
      slot.pending.set(id, { resolve, reject });
      slot.worker.postMessage(full, transfer);
    });
  }

  private start(i: number): Slot {
    const worker = spawnModuleWorker(new URL('./image-worker', import.meta.url), WORKER_LIMITS);
    const slot: Slot = { index: i, worker, policiesVersion: undefined, pending: new Map() };
    worker.unref();
    worker.on('message', (reply: WorkReply) => {
      const p = slot.pending.get(reply.id);
      if (!p) return;
      slot.pending.delete(reply.id);
      if ('error' in reply) p.reject(reply.badPush ? new BadPushError(reply.error) : new Error(reply.error));
      else p.resolve(reply.result);
      if (slot.pending.size === 0 && !this.closed) {
        slot.idleTimer = setTimeout(() => void this.stop(i), this.opts.idleMs ?? 30_000);
        slot.idleTimer.unref();
      }
    });
    const fail = (e: Error) => {
      for (const p of slot.pending.values()) p.reject(e);
      slot.pending.clear();
      if (this.slots[i] === slot) this.slots[i] = undefined;
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`image worker exited (code ${code})`)));
    this.slots[i] = slot;
    return slot;
  }

  private async stop(i: number): Promise<void> {
    const slot = this.slots[i];
    if (!slot) return;
    this.slots[i] = undefined;
    if (slot.idleTimer) clearTimeout(slot.idleTimer);
    await slot.worker.terminate();
  }
}

/** What the store holds of what a push named and a worker lacks, and what it lacks ('sbom.components', 'findings'). */
async function readNeed(need: Need, read: ContentReader): Promise<{ supply: Supply; missing: string[] }> {
  const [list, findings, advisories] = await Promise.all([
    need.list === undefined ? undefined : read.list(need.list),
    need.findings ? read.texts('finding_texts', need.findings) : undefined,
    need.advisories ? read.texts('advisory_texts', need.advisories) : undefined,
  ]);
  const missing: string[] = [];
  if (need.list !== undefined && list === undefined) missing.push('sbom.components');
  const lacks = (asked: string[] | undefined, got: Record<string, string> | undefined) => asked !== undefined && asked.some((a) => got?.[a] === undefined);
  if (lacks(need.findings, findings) || lacks(need.advisories, advisories)) missing.push('findings');
  const supply: Supply = {};
  if (need.list !== undefined && list !== undefined) supply.list = { address: need.list, text: list };
  if (findings) supply.findings = findings;
  if (advisories) supply.advisories = advisories;
  return { supply, missing };
}

/**
 * The worker's old generation, bounded. Left to V8's defaults (sized from the machine's
 * memory: ~4 GB here) V8 lets a heap grow to up to 4× its live size between full
 * collections, and a worker parsing 367 KB pushes back to back allocates fast: in process,
 * 200 pushes grew the process's RSS by 37 MB (bench:central: Central 492 → 667 MB over 600).
 * At or under 512 MB V8 treats the heap as memory-constrained (growth at most 2×): the same
 * pushes grew it by 4–22 MB. 512 MB is far above what a worker keeps (compiled policies, one
 * FleetMatcher with bounded caches, push tokens for a minute) and a worker needing more
 * would break Central's whole memory budget (500 MB) anyway.
 */
const WORKER_LIMITS = { maxOldGenerationSizeMb: 512 };

