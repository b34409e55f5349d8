/**
 * Central's incident service: one correlator per Central, fed from what Central ingests
 * (alert and decision batches through the `event-batch` notice of ingest/events, audit
 * events and flows through their own routes), its changes written to the store in order.
 * Writes are serialised on one promise chain, so the stored incidents follow the engine's
 * order; `idle()` resolves when everything fed so far is stored.
 *
 * Ingest notices are written at most once per `minWriteGapMs`: under a bus stream every fetch
 * changes the same few hundred open incidents, and rewriting their whole bodies once per fetch
 * was a quarter of PostgreSQL's time in bench:scale. What is stored is the same (the engine's
 * batch keeps each incident's last state); only when it is stored moves. `idle()` cuts the wait
 * short, so a reader (the incident API, tests) never waits for the gap.
 */
import { performance } from 'node:perf_hooks';
import type { CentralContext } from '../context.js';
import type { EventBatch } from '../client/ingest-types.js';
import { IncidentCorrelator, type CorrelatorOptions } from '../../runtime/incidents/engine.js';
import type { CorrelationInput, IncidentChanges } from '../../runtime/incidents/types.js';
import { applyIncidentChanges, closeStaleIncidents, StoredIncidents } from '../store/incidents.js';
import { batchInputs } from './feed.js';
import { Slices } from '../bus/slices.js';

export const EVENT_BATCH_NOTICE = 'event-batch';

export interface IncidentServiceOptions extends Omit<CorrelatorOptions, 'now'> {
  /** How often idle incidents are closed (default 60 s). */
  sweepMs?: number;
  /** Least time between two writes of ingest notices' incidents (default 1 s, as a sensor's shipper flushes). */
  minWriteGapMs?: number;
  /**
   * Most ingest notices' inputs waiting for correlation (default 50,000); past it the oldest are
   * not correlated (counted in droppedInputs; their events are stored all the same). When the bus
   * brings events faster than correlation and its writes keep up, the queue held Central's largest
   * share of heap in bench:scale (117 MiB of 398 MiB live, a heap snapshot at the run's end).
   */
  maxQueuedInputs?: number;
  onError?: (e: unknown) => void;
}

export class IncidentService {
  readonly engine: IncidentCorrelator;
  /** What this service stored of each open incident, so a write appends (store/incidents.ts). */
  private readonly stored = new StoredIncidents();
  private chain: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  /** Inputs from ingest notices not yet correlated: a bus fetch emits one notice per node's batch. */
  private pending: CorrelationInput[] = [];
  private pendingQueued = false;
  /** Inputs of ingest notices not correlated because the queue was full (maxQueuedInputs). */
  droppedInputs = 0;
  /** Most inputs waiting (options.maxQueuedInputs; tests may change it). */
  maxQueuedInputs: number;
  /** When the last write ended (performance.now()), for the gap between writes of ingest notices. */
  private lastWriteEnd = Number.NEGATIVE_INFINITY;
  /** idle() calls waiting: while any does, no write waits for the gap. */
  private flushing = 0;
  private endGap: (() => void) | undefined;
  /** Least time between two writes of ingest notices, in ms (options.minWriteGapMs; tests may change it). */
  minWriteGapMs: number;
  private readonly listener = (batch: EventBatch) => void this.queue(batchInputs(batch))?.catch(() => undefined);
  errors = 0;

  constructor(private readonly ctx: CentralContext, private readonly options: IncidentServiceOptions = {}) {
    this.engine = new IncidentCorrelator({ ...options, now: ctx.now });
    this.minWriteGapMs = options.minWriteGapMs ?? 1000;
    this.maxQueuedInputs = options.maxQueuedInputs ?? 50_000;
  }

  /** Subscribes to ingest notices and starts the idle sweep; closes incidents a previous run left open. */
  start(): this {
    this.ctx.events.on(EVENT_BATCH_NOTICE, this.listener);
    this.chain = this.chain.then(async () => {
      await closeStaleIncidents(this.ctx.db, this.ctx.now().toISOString());
    }).catch((e) => this.fail(e));
    this.timer = setInterval(() => void this.write(() => this.engine.sweep()).catch(() => undefined), this.options.sweepMs ?? 60_000);
    this.timer.unref();
    return this;
  }

  async stop(): Promise<void> {
    this.ctx.events.off(EVENT_BATCH_NOTICE, this.listener);
    if (this.timer) clearInterval(this.timer);
    await this.idle();
  }

  /**
   * Inputs of an ingest notice, correlated with every other notice's that arrives before their
   * turn in one correlation and one transaction (a bus fetch emits one notice per node's batch).
   */
  queue(inputs: CorrelationInput[]): Promise<void> | undefined {
    if (!inputs.length) return undefined;
    for (const i of inputs) this.pending.push(i);
    const over = this.pending.length - this.maxQueuedInputs;
    if (over > 0) {
      // The oldest go: the newest say most about what is going on now.
      this.pending.splice(0, over);
      this.droppedInputs += over;
    }
    if (this.pendingQueued) return undefined;
    this.pendingQueued = true;
    // To the caller that scheduled the write only: one report of a failed write, not one per notice.
    return this.write(async () => {
      await this.gap();
      this.pendingQueued = false;
      const taken = this.pending;
      this.pending = [];
      return this.correlate(taken);
    });
  }

  /** Correlates inputs and stores what changed; resolves once stored (rejects if the store failed). */
  feed(inputs: CorrelationInput[]): Promise<void> {
    return this.write(() => this.correlate(inputs));
  }

  /**
   * What correlating these inputs changed, an incident updated several times stored once in its
   * last state. In slices: a bus fetch brings ~2,000 inputs, and API requests are answered between.
   */
  private async correlate(inputs: CorrelationInput[]): Promise<IncidentChanges> {
    // The engine's batch takes each incident's snapshot once, in its last state.
    const batch = this.engine.batch();
    const slices = new Slices();
    for (const i of inputs) {
      await slices.pass();
      batch.ingest(i);
    }
    return batch.changes();
  }

  /** Resolves when everything fed so far is stored (a write waiting for its gap goes at once). */
  async idle(): Promise<void> {
    this.flushing++;
    this.endGap?.();
    try {
      // Inputs fed before this call are taken by a write already on the chain.
      await this.chain.catch(() => undefined);
    } finally {
      this.flushing--;
    }
  }

  /** Waits until minWriteGapMs after the last write, unless idle() is waiting. */
  private async gap(): Promise<void> {
    const wait = this.lastWriteEnd + this.minWriteGapMs - performance.now();
    if (wait <= 0 || this.flushing > 0) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => this.endGap?.(), wait);
      this.endGap = () => {
        clearTimeout(timer);
        this.endGap = undefined;
        resolve();
      };
    });
  }

  private write(step: () => IncidentChanges | Promise<IncidentChanges>): Promise<void> {
    const run = this.chain.catch(() => undefined).then(async () => {
      const changes = await step();
      if (!changes.updated.length && !changes.removed.length) return;
      const now = this.ctx.now().toISOString();
      try {
        await this.ctx.db.transaction().execute((trx) => applyIncidentChanges(trx, changes, now, this.stored));
      } catch (e) {
        // Rolled back: what `stored` says was written was not; the next write stores its incidents whole.
        this.stored.clear();
        throw e;
      } finally {
        this.lastWriteEnd = performance.now();
      }
      // The console's incident pages re-read on this (GET /api/v1/stream).
      this.ctx.events.emit('incidents');
    });
    this.chain = run.catch((e) => this.fail(e));
    return run;
  }

  private fail(e: unknown): void {
    this.errors++;
    this.options.onError?.(e);
  }
}

const SERVICES = new WeakMap<CentralContext, IncidentService>();

/** The one incident service of a Central (created and started on first use). */
export function incidentService(ctx: CentralContext, options?: IncidentServiceOptions): IncidentService {
  let s = SERVICES.get(ctx);
  if (!s) {
    s = new IncidentService(ctx, options).start();
    SERVICES.set(ctx, s);
  }
  return s;
}

/** Ingest inputs a Central's incident service dropped uncorrelated because its queue was full (0 before it starts). */
export function incidentInputsDropped(ctx: CentralContext): number {
  return SERVICES.get(ctx)?.droppedInputs ?? 0;
}

/** Stops and forgets a Central's incident service (on server close). */
export async function stopIncidentService(ctx: CentralContext): Promise<void> {
  const s = SERVICES.get(ctx);
  SERVICES.delete(ctx);
  await s?.stop();
}
