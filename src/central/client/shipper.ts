/**
 * Ships the sensor's and the engine-proxy's events to Central, at least once: every event
 * goes through the disk spool first, the oldest batch is POSTed to
 * `/api/v1/ingest/events`, and it is acknowledged in the spool only after a 2xx. Central
 * drops the duplicates a retry makes by the events' ids (idempotency keys). While Central is
 * unreachable the spool fills; when it is full, the loss is counted, handed to `onLoss`, and
 * sent to Central as one alert (finding `gatehouse-spool-loss`).
 */
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { describeError } from '../../util/errors.js';
import { CentralError, type CentralClient } from './client.js';
import type { EventBatch, IngestEvent, IngestResult } from './ingest-types.js';
import type { Spool } from './spool.js';

export const INGEST_EVENTS_PATH = '/api/v1/ingest/events';
export const SPOOL_LOSS_FINDING = 'gatehouse-spool-loss';

/**
 * What the shipper asks of its spool: the disk Spool's public face. A type of its own because
 * the Spool class's private members keep any other class from matching it structurally, and
 * the fleet simulator (bench/fleet/memory-spool.ts) runs this shipper over an in-memory spool
 * so that its simulated sensors batch exactly as this code does.
 */
export type ShipperSpool = Pick<Spool<IngestEvent>, 'append' | 'peek' | 'ack' | 'stats' | 'setLossReported' | 'lossReported' | 'id' | 'dir'>;

export interface EventShipperOptions {
  client: Pick<CentralClient, 'post'>;
  spool: ShipperSpool;
  source: EventBatch['source'];
  /** Events per request (default 500). */
  batchSize?: number;
  /** How long events wait for a batch to fill before they are sent (default 1 s). */
  flushIntervalMs?: number;
  /** First retry delay after a failure; doubles up to maxBackoffMs, with jitter (defaults 500 ms, 30 s). */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** Called with the number of events newly lost because the spool was full (the caller alerts). */
  onLoss?: (dropped: number) => void;
  /** Called with a one-line description of each failed push (never holds the token). */
  onError?: (message: string) => void;
}

export interface ShipperStats {
  sent: number;
  duplicates: number;
  /** Events Central refused one by one (4xx): counted as lost, never retried. */
  rejected: number;
  failures: number;
  lastError: string | undefined;
}

export class EventShipper {
  private readonly batchSize: number;
  private readonly flushIntervalMs: number;
  private readonly initialBackoffMs: number;
  private readonly maxBackoffMs: number;
  /** Events submitted in this tick, appended to the spool together (one fsync). */
  private buffer: IngestEvent[] = [];
  private appendScheduled = false;
  /** Halved when Central refuses a batch as a whole, to find the event it refuses. */
  private batchLimit: number;
  private lossNotified: number;
  private backoffMs: number;
  /** When the oldest event of a batch that is not full yet stops waiting for more. */
  private fillDeadline: number | undefined;
  private closing = false;
  private closeDeadline = Infinity;
  private readonly inFlight = new AbortController();
  /** What wakes the loop from idle: any new event (spool empty), a full batch, or only close (backing off). */
  private wakeOn: 'any' | 'full' | 'close' = 'close';
  private wake: (() => void) | undefined;
  private readonly loop: Promise<void>;
  private readonly counters: ShipperStats = { sent: 0, duplicates: 0, rejected: 0, failures: 0, lastError: undefined };

  constructor(private readonly opts: EventShipperOptions) {
    this.batchSize = Math.max(1, opts.batchSize ?? 500);
    this.flushIntervalMs = opts.flushIntervalMs ?? 1000;
    this.initialBackoffMs = opts.initialBackoffMs ?? 500;
    this.maxBackoffMs = Math.max(this.initialBackoffMs, opts.maxBackoffMs ?? 30_000);
    this.backoffMs = this.initialBackoffMs;
    this.batchLimit = this.batchSize;
    this.lossNotified = opts.spool.lossReported;
    this.loop = this.run();
  }

  /**
   * Queues an event. It is on disk at the end of the current tick (events of one tick share
   * one fsync), and sent with the next batch.
   */
  submit(event: IngestEvent): void {
    if (this.closing) throw new Error('EventShipper: submit after close');
    this.buffer.push(event);
    if (!this.appendScheduled) {
      this.appendScheduled = true;
      setImmediate(() => this.appendBuffer());
    }
  }

  stats(): ShipperStats & ReturnType<Spool['stats']> {
    return { ...this.counters, ...this.opts.spool.stats() };
  }

  /**
   * Sends what it can within `timeoutMs` (default 5 s), then stops; what is left stays in
   * the spool for the next start. The spool stays open: the caller owns it.
   */
  async close(timeoutMs = 5000): Promise<void> {
    if (!this.closing) {
      this.appendBuffer();
      this.closing = true;
      this.closeDeadline = Date.now() + timeoutMs;
      const timer = setTimeout(() => this.inFlight.abort(), timeoutMs);
      this.wake?.();
      await this.loop.finally(() => clearTimeout(timer));
    }
    return this.loop;
  }

  private appendBuffer(): void {
    this.appendScheduled = false;
    if (this.buffer.length === 0) return;
    const events = this.buffer;
    this.buffer = [];
    try {
      this.opts.spool.append(events);
    } catch (e) {
      // The disk failed (full, read-only): these events are lost, and the spool cannot count them.
      this.fail(`cannot spool ${events.length} events: ${describeError(e)}`);
      this.opts.onLoss?.(events.length);
      return;
    }
    this.notifyLoss();
    if (this.wakeOn === 'any' || (this.wakeOn === 'full' && this.opts.spool.stats().pendingEvents >= this.batchLimit)) this.wake?.();
  }

  private notifyLoss(): void {
    const total = this.opts.spool.stats().droppedTotal;
    if (total <= this.lossNotified) return;
    const dropped = total - this.lossNotified;
    this.lossNotified = total;
    this.opts.onLoss?.(dropped);
  }

  /** The alert telling Central of events lost since the last report; its id makes re-sending it harmless. */
  private lossEvent(droppedTotal: number): IngestEvent {
    const dropped = droppedTotal - this.opts.spool.lossReported;
    const host = this.opts.source.host ?? hostname();
    return {
      id: `${SPOOL_LOSS_FINDING}:${this.opts.spool.id}:${droppedTotal}`,
      type: 'alert',
      time: new Date().toISOString(),
      finding: {
        id: SPOOL_LOSS_FINDING,
        kind: 'runtime',
        severity: 'HIGH',
        title: `${dropped} events lost: the local spool was full while Central was unreachable`,
        detail: `The ${this.opts.source.kind} on ${host} could not reach Central and its spool (${this.opts.spool.dir}) filled up; newer events were dropped.`,
        resource: { host },
        data: { dropped, droppedTotal },
      },
      data: { dropped, droppedTotal },
    };
  }

  private async run(): Promise<void> {
    while (!(this.closing && Date.now() >= this.closeDeadline)) {
      try {
        if ((await this.step()) === 'done') return;
      } catch (e) {
        // A failing disk: keep trying, the events already spooled are still there.
        this.fail(`spool ${this.opts.spool.dir}: ${describeError(e)}`);
        await this.idle(this.nextBackoff(), 'close');
      }
    }
  }

  /** One turn of the loop: send the loss alert, or wait for events, or send a batch. */
  private async step(): Promise<'done' | 'again'> {
    const spool = this.opts.spool;
    this.notifyLoss();
    const { droppedTotal, pendingEvents } = spool.stats();
    // The loss alert goes alone, so that a refusal of it cannot be mistaken for a refusal of events.
    if (droppedTotal > spool.lossReported) {
      const outcome = await this.push([this.lossEvent(droppedTotal)]);
      if (outcome !== 'failed') spool.setLossReported(droppedTotal);
      if (outcome === 'failed') await this.idle(this.nextBackoff(), 'close');
      return 'again';
    }
    if (pendingEvents === 0) {
      if (this.closing) return 'done';
      this.fillDeadline = undefined;
      await this.idle(this.flushIntervalMs, 'any');
      return 'again';
    }
    if (pendingEvents < this.batchLimit && !this.closing) {
      this.fillDeadline ??= Date.now() + this.flushIntervalMs;
      if (Date.now() < this.fillDeadline) {
        await this.idle(this.fillDeadline - Date.now(), 'full');
        return 'again';
      }
    }
    this.fillDeadline = undefined;
    const events = spool.peek(this.batchLimit);
    if (events.length === 0) return 'again';
    const outcome = await this.push(events);
    if (outcome === 'stored') {
      spool.ack(events.length);
      this.batchLimit = this.batchSize;
    } else if (outcome === 'refused') {
      this.refused(events.length);
    } else {
      await this.idle(this.nextBackoff(), 'close');
    }
    return 'again';
  }

  private fail(message: string): void {
    this.counters.failures++;
    this.counters.lastError = message;
    this.opts.onError?.(message);
  }

  private async push(events: IngestEvent[]): Promise<'stored' | 'refused' | 'failed'> {
    const batch: EventBatch = { source: this.opts.source, events };
    try {
      const result = await this.opts.client.post<IngestResult>(INGEST_EVENTS_PATH, batch, { signal: this.inFlight.signal });
      this.counters.sent += result?.stored ?? 0;
      this.counters.duplicates += result?.duplicates ?? 0;
      this.backoffMs = this.initialBackoffMs;
      return 'stored';
    } catch (e) {
      this.fail(describeError(e));
      return isRefusal(e) ? 'refused' : 'failed';
    }
  }

  /**
   * Central refused the batch as bad input. A batch is stored all or nothing, so it is
   * halved until the refused event is alone; that one is counted as rejected and skipped.
   */
  private refused(size: number): void {
    if (size > 1) {
      this.batchLimit = Math.floor(size / 2);
      return;
    }
    this.opts.spool.ack(1);
    this.counters.rejected++;
    this.batchLimit = this.batchSize;
  }

  private nextBackoff(): number {
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.maxBackoffMs, this.backoffMs * 2);
    // Jitter keeps many sensors from coming back to a recovered Central all at once.
    return delay / 2 + Math.random() * (delay / 2);
  }

  private async idle(ms: number, wakeOn: 'any' | 'full' | 'close'): Promise<void> {
    if (this.closing) ms = Math.min(ms, Math.max(0, this.closeDeadline - Date.now()));
    const timer = new AbortController();
    const woken = new Promise<void>((resolve) => {
      this.wake = resolve;
    });
    this.wakeOn = wakeOn;
    // A closing shipper is awaited by its caller: its wait must keep the process alive, or Node
    // ends it mid-close (exit 13, unsettled top-level await) when close()'s own timer fires first.
    await Promise.race([woken, sleep(ms, undefined, { signal: timer.signal, ref: this.closing }).catch(() => {})]);
    timer.abort();
    this.wake = undefined;
    this.wakeOn = 'close';
  }
}

/** Central answered that the batch itself is bad (not auth, not overload): retrying it as is cannot succeed. */
function isRefusal(e: unknown): boolean {
  if (!(e instanceof CentralError) || e.status === undefined) return false;
  return e.status === 400 || e.status === 413 || e.status === 422;
}
