/**
 * The sensor side of the event bus: a drop-in for the Central client under EventShipper
 * (shipper.ts), so the bus keeps every guarantee of the HTTP path. Events go through the
 * bounded disk spool first; the shipper hands the oldest batch to `post`, which publishes it
 * as one JetStream message `{source, events}` (several when it exceeds NATS's max payload;
 * subject per cluster, Nats-Msg-Id = a hash of the event ids) and resolves only when
 * JetStream acknowledged every message (PubAck: it is stored on the server's disk). One
 * message per batch instead of one per event: the per-message work of the publisher,
 * nats-server and Central's consumer (publish, store, deliver, ack) is paid once per batch
 * (measured in docs/notes/bus.md, session 6). Central also accepts the older one-event
 * messages `{source, event}`. Only then does the shipper drop the batch from the spool. While NATS is
 * down `post` fails, the shipper backs off, the spool fills (bounded; loss counted and
 * reported as an alert), and the spool drains in order once NATS answers again.
 *
 * A batch published twice (a crash between the PubAck and the spool's ack) is dropped by
 * JetStream within its duplicate window and by Central's store after it.
 */
import { jetstream, jetstreamManager, type JetStreamClient } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { createHash } from 'node:crypto';
import { describeError } from '../../util/errors.js';
import { CentralError, type RequestOptions } from './client.js';
import { ensureStream, parseNatsUrl, redactNatsUrl, subjectFor, type BusLimits, type BusMessage } from './bus-stream.js';
import type { EventBatch, IngestEvent, IngestResult } from './ingest-types.js';
import { INGEST_EVENTS_PATH } from './shipper.js';
import { connectBusUntil, type BusAccess } from '../bus/access.js';

export interface BusPublisherOptions {
  /** nats://HOST:PORT (comma-separated for several servers). */
  url: string;
  /** Connection name shown by the NATS server (monitoring). */
  name?: string;
  /** How long a batch waits for its PubAcks (and for a connection) before it counts as failed (default 10 s). */
  timeoutMs?: number;
  /** Stream limits used when this publisher is the first and creates the stream. */
  limits?: BusLimits;
  /** Credentials and TLS trust (--nats-creds, --nats-tls-ca); default: the process's (setBusAccess). */
  access?: BusAccess;
  /** Called after a batch is acknowledged, with the ids JetStream stored and those it dropped as duplicates. */
  onAck?: (stored: string[], duplicates: string[]) => void;
  /**
   * `batch` (default): one message per posted batch (split at the max payload); `event`: one
   * message per event, as before session 6 (for a Central older than the batch messages).
   */
  messageShape?: 'batch' | 'event';
}

/** A batch message: several events of one source (Central's consumer also reads a BusMessage). */
export interface BusBatchMessage {
  source: EventBatch['source'];
  events: IngestEvent[];
}

export interface BusPublisherStats {
  published: number;
  duplicates: number;
  /** Batches that failed (NATS down, timeout); the shipper retries them. */
  failures: number;
  connected: boolean;
}

const encoder = new TextEncoder();

export class BusPublisher {
  /** For messages (no credentials). */
  readonly server: string;
  private readonly servers: string[];
  private readonly timeoutMs: number;
  private connecting: Promise<NatsConnection> | undefined;
  private nc: NatsConnection | undefined;
  private js: JetStreamClient | undefined;
  private streamReady = false;
  private closed = false;
  private readonly abortConnect = new AbortController();
  private readonly counters = { published: 0, duplicates: 0, failures: 0 };

  constructor(private readonly opts: BusPublisherOptions) {
    this.servers = parseNatsUrl(opts.url);
    this.server = redactNatsUrl(opts.url);
    this.timeoutMs = opts.timeoutMs ?? 10_000;
  }

  stats(): BusPublisherStats {
    return { ...this.counters, connected: this.nc !== undefined && !this.nc.isClosed() && this.nc.info !== undefined };
  }

  /** EventShipper's push: publishes a batch of events and waits for every PubAck. */
  async post<T = IngestResult>(path: string, body: unknown, opts: RequestOptions = {}): Promise<T> {
    if (path !== INGEST_EVENTS_PATH) throw new CentralError(`the event bus carries events only, not ${path}`, 400);
    const batch = body as EventBatch;
    try {
      const js = await this.client(opts.signal);
      const subject = subjectFor(batch.source);
      const max = this.nc?.info?.max_payload ?? 1 << 20;
      const messages = this.opts.messageShape === 'event' ? oneEventEach(batch, max) : batchMessages(batch, max);
      // Published in order on one connection; the acks are awaited together.
      const acks = messages.map((m) => js.publish(subject, m.payload, { msgID: m.id, timeout: this.timeoutMs }));
      const results = await abortable(Promise.all(acks), opts.signal);
      const stored: string[] = [];
      const duplicates: string[] = [];
      results.forEach((ack, i) => (ack.duplicate ? duplicates : stored).push(...messages[i]!.ids));
      this.counters.published += stored.length;
      this.counters.duplicates += duplicates.length;
      this.opts.onAck?.(stored, duplicates);
      return { stored: stored.length, duplicates: duplicates.length } as T;
    } catch (e) {
      if (e instanceof CentralError) throw e;
      this.counters.failures++;
      throw new CentralError(`NATS ${this.server}: ${describeError(e)}`, undefined, undefined, { cause: e });
    }
  }

  /** Drains the connection (pending publishes are flushed) and closes it. */
  async close(): Promise<void> {
    this.closed = true;
    const nc = this.nc;
    this.nc = undefined;
    if (nc && !nc.isClosed()) await nc.drain().catch(() => nc.close());
    // Still waiting for a first connection (NATS never answered): stop trying, without
    // waiting for it — the attempt is closed in client() if it ever succeeds.
    else this.abortConnect.abort();
  }

  private async client(signal?: AbortSignal): Promise<JetStreamClient> {
    if (this.closed) throw new Error('publisher closed');
    if (!this.connecting) {
      const name = this.opts.name ?? 'gatehouse-sensor';
      this.connecting = connectBusUntil(this.servers, name, this.abortConnect.signal, this.opts.access);
      this.connecting.then((nc) => {
        if (this.closed) return void nc.close();
        this.nc = nc;
        this.js = jetstream(nc, { timeout: this.timeoutMs });
        // A stream deleted while we were away is made again at the next batch.
        void (async () => {
          for await (const s of nc.status()) if (s.type === 'reconnect') this.streamReady = false;
        })().catch(() => undefined);
      }, () => {
        this.connecting = undefined;
      });
    }
    await abortable(withTimeout(this.connecting, this.timeoutMs, 'not connected'), signal);
    if (!this.js || !this.nc) throw new Error('not connected');
    if (!this.streamReady) {
      await abortable(withTimeout(jetstreamManager(this.nc, { timeout: this.timeoutMs }).then((jsm) => ensureStream(jsm, this.opts.limits)), this.timeoutMs, 'stream not ready'), signal);
      this.streamReady = true;
    }
    return this.js;
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} after ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

function abortable<T>(p: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(new Error('aborted'));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new Error('aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

const HEADER_ROOM = 512;

interface OutgoingMessage {
  /** Nats-Msg-Id: JetStream drops a message with an id it stored within its duplicate window. */
  id: string;
  ids: string[];
  payload: Uint8Array;
}

/** The batch as `{source, events}` messages of at most `max` bytes each, in order. */
function batchMessages(batch: EventBatch, max: number): OutgoingMessage[] {
  const head = `{"source":${JSON.stringify(batch.source)},"events":[`;
  const base = Buffer.byteLength(head) + 2;
  // The message's headers (Nats-Msg-Id) count against the server's max payload too.
  max -= HEADER_ROOM;
  const out: OutgoingMessage[] = [];
  let parts: string[] = [];
  let ids: string[] = [];
  let bytes = base;
  const flush = () => {
    if (!parts.length) return;
    // The same events give the same id: a batch re-sent whole after a crash is dropped by JetStream.
    out.push({ id: `b-${createHash('sha256').update(ids.join('\n')).digest('base64url')}`, ids, payload: encoder.encode(`${head}${parts.join(',')}]}`) });
    parts = [];
    ids = [];
    bytes = base;
  };
  for (const event of batch.events) {
    const json = JSON.stringify(event);
    const size = Buffer.byteLength(json) + 1;
    // Refused as bad input: the shipper isolates the event and skips it instead of retrying forever.
    if (base + size > max) throw new CentralError(`event ${event.id} is ${base + size} bytes, over NATS's max payload of ${max + HEADER_ROOM}`, 413);
    if (bytes + size > max) flush();
    parts.push(json);
    ids.push(event.id);
    bytes += size;
  }
  flush();
  return out;
}

/** One `{source, event}` message per event, Nats-Msg-Id = the event id (before session 6). */
function oneEventEach(batch: EventBatch, max: number): OutgoingMessage[] {
  return batch.events.map((event) => {
    const payload = encoder.encode(JSON.stringify({ source: batch.source, event } satisfies BusMessage));
    if (payload.length > max) throw new CentralError(`event ${event.id} is ${payload.length} bytes, over NATS's max payload of ${max}`, 413);
    return { id: event.id, ids: [event.id], payload };
  });
}
