/**
 * The sensor side of the event bus: a drop-in for the Central client under EventShipper
 * (shipper.ts), so the bus keeps every guarantee of the HTTP path. Events go through the
 * bounded disk spool first; the shipper hands the oldest batch to `post`, which publishes one
 * JetStream message per event (subject per cluster, Nats-Msg-Id = event id) and resolves
 * only when JetStream acknowledged every one of them (PubAck: the message is stored on the
 * server's disk). Only then does the shipper drop the batch from the spool. While NATS is
 * down `post` fails, the shipper backs off, the spool fills (bounded; loss counted and
 * reported as an alert), and the spool drains in order once NATS answers again.
 *
 * A batch published twice (a crash between the PubAck and the spool's ack) is dropped by
 * JetStream within its duplicate window and by Central's store after it.
 */
import { jetstream, jetstreamManager, type JetStreamClient, type PubAck } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { describeError } from '../../util/errors.js';
import { CentralError, type RequestOptions } from './client.js';
import { ensureStream, parseNatsUrl, redactNatsUrl, subjectFor, type BusLimits, type BusMessage } from './bus-stream.js';
import type { EventBatch, IngestResult } from './ingest-types.js';
import { INGEST_EVENTS_PATH } from './shipper.js';
import { connectBusWithAccess, type BusAccess } from '../bus/access.js';

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
      const payloads = batch.events.map((event) => encoder.encode(JSON.stringify({ source: batch.source, event } satisfies BusMessage)));
      const tooBig = payloads.findIndex((p) => p.length > max);
      // Refused as bad input: the shipper isolates the event and skips it instead of retrying forever.
      if (tooBig >= 0) throw new CentralError(`event ${batch.events[tooBig]!.id} is ${payloads[tooBig]!.length} bytes, over NATS's max payload of ${max}`, 413);
      // Published in order on one connection; the acks are awaited together.
      const acks: Promise<PubAck>[] = payloads.map((p, i) => js.publish(subject, p, { msgID: batch.events[i]!.id, timeout: this.timeoutMs }));
      const results = await abortable(Promise.all(acks), opts.signal);
      const stored: string[] = [];
      const duplicates: string[] = [];
      results.forEach((ack, i) => (ack.duplicate ? duplicates : stored).push(batch.events[i]!.id));
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
    else if (this.connecting) void this.connecting.then((c) => c.close()).catch(() => undefined);
  }

  private async client(signal?: AbortSignal): Promise<JetStreamClient> {
    if (this.closed) throw new Error('publisher closed');
    if (!this.connecting) {
      const name = this.opts.name ?? 'gatehouse-sensor';
      this.connecting = connectBusWithAccess(this.servers, name, this.opts.access);
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
