/**
 * Central's side of the event bus (`gatehouse server --nats nats://…`): one durable pull
 * consumer, shared by every Central instance (JetStream hands each message to one of them),
 * fetches batches of events, stores each batch in one transaction through the same code as
 * the HTTP ingest route, and acknowledges the messages only after the commit.
 *
 * - At least once: a Central killed between fetch and ack leaves its messages unacked; after
 *   the ack wait (30 s) JetStream redelivers them to any instance.
 * - Exactly once in the store: an event already stored (commit done, ack lost) is dropped by
 *   id in the store and counted as a duplicate.
 * - Store down (PostgreSQL restart): the batch is nak'ed with a delay and retried; nothing is
 *   acked that is not committed.
 * - A message that breaks the contract is terminated (never redelivered) and counted.
 * - Backpressure shows in /metrics: pending (not yet delivered), ack-pending, redelivered,
 *   and the lag of the last stored batch.
 */
import { AckPolicy, DeliverPolicy, JetStreamApiCodes, JetStreamApiError, jetstream, jetstreamManager, type Consumer, type ConsumerInfo, type JetStreamManager, type JsMsg } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { setTimeout as sleep } from 'node:timers/promises';
import { describeError } from '../../util/errors.js';
import { BUS_STREAM, BUS_SUBJECT_PREFIX, ensureStream, parseNatsUrl, redactNatsUrl, type BusLimits, type BusMessage } from '../client/bus-stream.js';
import type { CentralContext } from '../context.js';
import type { CentralJob, CentralJobTools } from '../jobs.js';
import { connectBusUntil } from './access.js';
import { busMetrics } from './metrics.js';
import { batchesOf, ingestBusBatches, parseBusPayload } from './ingest.js';
import { Slices } from './slices.js';

export const DEFAULT_DURABLE = 'gatehouse-central';
/** Events per fetch (one transaction) the consumer aims at when messages are batches. */
const FETCH_EVENTS = 2000;

export interface BusConsumerOptions {
  /** nats://HOST:PORT (comma-separated for several). */
  url: string;
  /** Durable consumer name, shared by the Central instances of one deployment. */
  durable?: string;
  /**
   * Messages per fetch, stored in one transaction. Default: as many as hold about 2,000 events
   * at the recent events per message (one-event or batch messages), at most 1,000.
   */
  batchSize?: number;
  /** How long JetStream waits for an ack before redelivering (default 30 s). */
  ackWaitMs?: number;
  /** Stream limits Central keeps the stream at (created or updated at start). */
  limits?: BusLimits;
  /** Delay of a redelivery after the store failed (default 1 s, doubling to 15 s). */
  retryDelayMs?: number;
  /**
   * Fetch-and-store loops per instance (default 2): batches commit in parallel transactions.
   * The same id in two batches in flight at once makes one of them fail on the primary key;
   * it is nak'ed, redelivered and then dropped as a duplicate.
   */
  parallel?: number;
}

const ns = (ms: number) => ms * 1_000_000;

/** Creates the durable pull consumer, or brings its ack wait to the configured one. */
export async function ensureConsumer(jsm: JetStreamManager, durable: string, ackWaitMs: number, maxAckPending: number): Promise<void> {
  let info: ConsumerInfo | undefined;
  try {
    info = await jsm.consumers.info(BUS_STREAM, durable);
  } catch (e) {
    if (!(e instanceof JetStreamApiError && e.code === JetStreamApiCodes.ConsumerNotFound)) throw e;
  }
  if (!info) {
    try {
      await jsm.consumers.add(BUS_STREAM, {
        durable_name: durable,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        filter_subject: `${BUS_SUBJECT_PREFIX}.>`,
        ack_wait: ns(ackWaitMs),
        max_deliver: -1,
        max_ack_pending: maxAckPending,
      });
    } catch (e) {
      // Another Central made it in between: fine.
      if (!/already (in use|exists)/i.test(describeError(e))) throw e;
    }
    return;
  }
  if (info.config.ack_wait !== ns(ackWaitMs) || info.config.max_ack_pending !== maxAckPending) {
    await jsm.consumers.update(BUS_STREAM, durable, { ack_wait: ns(ackWaitMs), max_ack_pending: maxAckPending });
  }
}

/** The job form for startCentral (`--nats`): runs until Central stops. */
export function busConsumerJob(options: BusConsumerOptions): CentralJob {
  const servers = parseNatsUrl(options.url);
  const job = async (ctx: CentralContext, signal: AbortSignal, tools: CentralJobTools): Promise<void> => {
    const consumer = new BusConsumer(ctx, servers, options, tools);
    await consumer.run(signal);
  };
  Object.defineProperty(job, 'name', { value: 'busConsumer' });
  return job;
}

class BusConsumer {
  private readonly durable: string;
  private readonly batchSize: number | undefined;
  private readonly ackWaitMs: number;
  private readonly retryDelayMs: number;
  private readonly metrics;
  private nc: NatsConnection | undefined;
  private consumer: Consumer | undefined;
  private preparing: Promise<Consumer> | undefined;
  private readonly parallel: number;
  private failures = 0;
  /** Recent events per message (moving average); pessimistic at first: a spool's backlog comes in batches of 500. */
  private eventsPerMessage = 50;

  constructor(private readonly ctx: CentralContext, private readonly servers: string[], private readonly options: BusConsumerOptions, private readonly tools: CentralJobTools) {
    this.durable = options.durable ?? DEFAULT_DURABLE;
    this.batchSize = options.batchSize;
    this.ackWaitMs = options.ackWaitMs ?? 30_000;
    this.retryDelayMs = options.retryDelayMs ?? 1000;
    this.parallel = Math.max(1, options.parallel ?? 2);
    this.metrics = busMetrics(ctx, () => this.info());
  }

  async run(signal: AbortSignal): Promise<void> {
    const where = redactNatsUrl(this.servers.join(','));
    // Given up at Central's stop, also while NATS has never answered yet.
    const nc = await connectBusUntil(this.servers, `gatehouse-central ${process.pid}`, signal).catch(() => undefined);
    if (!nc) return;
    this.nc = nc;
    this.metrics.connected.set(1);
    void this.watchStatus(nc, where);
    this.tools.log.info({ nats: where, durable: this.durable }, 'event bus: connected');
    try {
      // Several fetch-and-store loops: while one waits for its commit, another fetches and parses.
      await Promise.all(Array.from({ length: this.parallel }, () => this.loop(nc, where, signal)));
    } finally {
      this.metrics.connected.set(0);
      this.nc = undefined;
      await nc.drain().catch(() => nc.close());
    }
  }

  private async loop(nc: NatsConnection, where: string, signal: AbortSignal): Promise<void> {
    let lastError: string | undefined;
    while (!signal.aborted) {
      try {
        this.preparing ??= this.prepare(nc).then((c) => (this.consumer = c));
        await this.fetchAndStore(await this.preparing, signal);
        lastError = undefined;
      } catch (e) {
        const message = describeError(e);
        if (message !== lastError) this.tools.log.warn({ nats: where, error: message }, 'event bus: fetch failed; retrying');
        lastError = message;
        // The stream or the consumer may be gone (a NATS store wiped): prepared again next time.
        this.preparing = undefined;
        this.consumer = undefined;
        await delay(1000, signal);
      }
    }
  }

  private async watchStatus(nc: NatsConnection, where: string): Promise<void> {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') {
        this.metrics.connected.set(0);
        this.tools.log.warn({ nats: where }, 'event bus: disconnected; reconnecting');
      } else if (s.type === 'reconnect') {
        this.metrics.connected.set(1);
        this.tools.log.info({ nats: where }, 'event bus: reconnected');
      }
    }
  }

  private async prepare(nc: NatsConnection): Promise<Consumer> {
    const jsm = await jetstreamManager(nc, { timeout: 10_000 });
    await ensureStream(jsm, this.options.limits, true);
    await ensureConsumer(jsm, this.durable, this.ackWaitMs, Math.max((this.batchSize ?? 0) * 4, 10_000));
    return jetstream(nc, { timeout: 10_000 }).consumers.get(BUS_STREAM, this.durable);
  }

  /** One fetch: up to batchSize messages (waiting at most 2 s for them), stored, then acked. */
  private async fetchAndStore(consumer: Consumer, signal: AbortSignal): Promise<void> {
    // A message holds a whole batch now: the fetch asks for as many messages as should hold
    // FETCH_EVENTS events at the recent events per message. (A max_bytes pull stalled on
    // nats-server 2.9.10: "heartbeats missed", nothing delivered.)
    const wanted = this.batchSize ?? Math.max(1, Math.min(1000, Math.round(FETCH_EVENTS / this.eventsPerMessage)));
    const iter = await consumer.fetch({ max_messages: wanted, expires: 2000 });
    const onAbort = () => iter.stop();
    signal.addEventListener('abort', onAbort, { once: true });
    const msgs: JsMsg[] = [];
    try {
      for await (const m of iter) msgs.push(m);
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
    if (!msgs.length) {
      this.metrics.lag.set(0);
      return;
    }
    // Central stopping with messages in hand: they are not acked, so another instance gets them.
    if (signal.aborted) return;
    const good: BusMessage[] = [];
    const goodMsgs: JsMsg[] = [];
    // Parsed in slices: API requests are answered between them, not after the whole fetch.
    const slices = new Slices();
    for (const m of msgs) {
      await slices.pass();
      if (m.redelivered) this.metrics.redeliveries.inc();
      const parsed = parseBusPayload(m.data);
      const refused = typeof parsed === 'string' ? [parsed] : parsed.refused;
      if (refused.length) {
        this.tools.log.warn({ subject: m.subject, seq: m.seq, reason: refused[0], refused: refused.length }, 'event bus: message refused');
        this.metrics.events.inc({ outcome: 'rejected' }, refused.length);
      }
      if (typeof parsed === 'string' || !parsed.messages.length) {
        // No reason string: nats-server 2.9 (Debian bookworm) takes a bare +TERM only.
        m.term();
        continue;
      }
      // A batch message with some refused events: the others are stored and the message acked.
      good.push(...parsed.messages);
      goodMsgs.push(m);
    }
    this.eventsPerMessage = 0.7 * this.eventsPerMessage + 0.3 * Math.max(1, good.length / msgs.length);
    if (!good.length) return;
    const started = performance.now();
    let result: { stored: number; duplicates: number };
    try {
      result = await ingestBusBatches(this.ctx, batchesOf(good), slices);
    } catch (e) {
      // Nothing was committed: redelivered later, to this or another instance.
      const wait = Math.min(15_000, this.retryDelayMs * 2 ** Math.min(this.failures, 4));
      this.failures++;
      this.metrics.batches.inc({ outcome: 'failed' });
      this.tools.log.warn({ events: good.length, error: describeError(e), retryInMs: wait }, 'event bus: cannot store a batch; it will be redelivered');
      for (const m of goodMsgs) m.nak(wait);
      await delay(wait, signal);
      return;
    }
    this.failures = 0;
    this.metrics.commit.observe((performance.now() - started) / 1000);
    // Acked only now: the batch is committed.
    for (const m of goodMsgs) m.ack();
    this.metrics.batches.inc({ outcome: 'committed' });
    if (result.stored) this.metrics.events.inc({ outcome: 'stored' }, result.stored);
    if (result.duplicates) this.metrics.events.inc({ outcome: 'duplicate' }, result.duplicates);
    const oldestMs = Math.min(...goodMsgs.map((m) => Date.parse(m.timestamp)));
    this.metrics.lag.set(Math.max(0, (Date.now() - oldestMs) / 1000));
  }

  /** The consumer's state, for the gauges (undefined when NATS does not answer). */
  private async info(): Promise<ConsumerInfo | undefined> {
    const c = this.consumer;
    if (!c || !this.nc || this.nc.isClosed()) return undefined;
    return await Promise.race([c.info(false), new Promise<undefined>((r) => setTimeout(() => r(undefined), 2000).unref())]).catch(() => undefined);
  }
}

/** Waits `ms` or until `signal` aborts, without keeping the process alive (timers/promises drops its listener after). */
function delay(ms: number, signal: AbortSignal): Promise<void> {
  return sleep(ms, undefined, { signal, ref: false }).catch(() => undefined);
}
