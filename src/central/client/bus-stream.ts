/**
 * The event bus's shape, shared by the sensor-side publisher (bus-publisher.ts) and
 * Central's consumer (src/central/bus): one JetStream stream, file storage, limits on age
 * and bytes, and one subject per cluster (or per host for a plain host):
 *   gatehouse.events.<cluster-or-host>
 * A message is a batch of one source's events (BusBatchMessage, bus-publisher.ts: what one
 * shipped batch holds, split below the server's max payload) whose Nats-Msg-Id is a hash of
 * its events' ids, so JetStream drops a re-publish of the same batch within the duplicate
 * window; Central drops any other copy of an event by its id in the store. One-event
 * messages (BusMessage, Nats-Msg-Id = the event's id) are what older sensors send, and
 * Central still reads them.
 */
import { DiscardPolicy, JetStreamApiCodes, JetStreamApiError, RetentionPolicy, StorageType, type JetStreamManager, type StreamConfig } from '@nats-io/jetstream';
import { UserError } from '../../util/errors.js';
import type { EventBatch, IngestEvent } from './ingest-types.js';

export const BUS_STREAM = 'GATEHOUSE_EVENTS';
export const BUS_SUBJECT_PREFIX = 'gatehouse.events';
/** Events are kept a week at most: longer than any outage a spool on the Central side is meant to ride out. */
export const DEFAULT_BUS_MAX_AGE_MS = 7 * 24 * 3600_000;
/** 1 GiB of events (about 1–2 million alerts) before the oldest are discarded. */
export const DEFAULT_BUS_MAX_BYTES = 1 << 30;
/** JetStream's own dedup window (by Nats-Msg-Id); later duplicates are dropped by Central's store. */
export const DEFAULT_BUS_DUPLICATE_WINDOW_MS = 2 * 60_000;

/** A one-event message (older sensors, `messageShape: 'event'`): one event and who sent it. */
export interface BusMessage {
  source: EventBatch['source'];
  event: IngestEvent;
}

export interface BusLimits {
  maxAgeMs?: number;
  maxBytes?: number;
  duplicateWindowMs?: number;
}

const ms = (n: number) => n * 1_000_000; // JetStream durations are nanoseconds

/** A subject token from a cluster or host name: NATS tokens cannot hold '.', '*', '>' or spaces. */
export function subjectToken(name: string): string {
  const t = name.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 200);
  return t || '_';
}

export function subjectFor(source: EventBatch['source']): string {
  return `${BUS_SUBJECT_PREFIX}.${subjectToken(source.cluster ?? source.host ?? source.node ?? 'unknown')}`;
}

export function streamConfig(limits: BusLimits = {}): Partial<StreamConfig> & { name: string } {
  return {
    name: BUS_STREAM,
    subjects: [`${BUS_SUBJECT_PREFIX}.>`],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    max_age: ms(limits.maxAgeMs ?? DEFAULT_BUS_MAX_AGE_MS),
    max_bytes: limits.maxBytes ?? DEFAULT_BUS_MAX_BYTES,
    duplicate_window: ms(limits.duplicateWindowMs ?? DEFAULT_BUS_DUPLICATE_WINDOW_MS),
    num_replicas: 1,
  };
}

/**
 * Makes the stream when it is missing; with `update`, also brings its limits to `limits`
 * (Central owns the limits; a sensor only creates the stream when it is first).
 */
export async function ensureStream(jsm: JetStreamManager, limits: BusLimits = {}, update = false): Promise<void> {
  const want = streamConfig(limits);
  let current;
  try {
    current = await jsm.streams.info(BUS_STREAM);
  } catch (e) {
    if (!isNotFound(e)) throw e;
    try {
      await jsm.streams.add(want);
      return;
    } catch (e2) {
      // Another sensor or Central made it in between.
      if (!/already in use|already exists/i.test(String((e2 as Error).message))) throw e2;
      current = await jsm.streams.info(BUS_STREAM);
    }
  }
  if (!update) return;
  const c = current.config;
  if (c.max_age !== want.max_age || c.max_bytes !== want.max_bytes || c.duplicate_window !== want.duplicate_window) {
    await jsm.streams.update(BUS_STREAM, { ...c, max_age: want.max_age!, max_bytes: want.max_bytes!, duplicate_window: want.duplicate_window! });
  }
}

function isNotFound(e: unknown): boolean {
  return e instanceof JetStreamApiError && e.code === JetStreamApiCodes.StreamNotFound;
}

const DURATION_UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3600_000, d: 86_400_000 };
const BYTE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1000, kb: 1000, m: 1e6, mb: 1e6, g: 1e9, gb: 1e9, t: 1e12, tb: 1e12, ki: 1024, kib: 1024, mi: 1024 ** 2, mib: 1024 ** 2, gi: 1024 ** 3, gib: 1024 ** 3, ti: 1024 ** 4, tib: 1024 ** 4 };

/** `90s`, `30m`, `12h`, `7d` → milliseconds (a usage error otherwise). */
export function parseBusDuration(value: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(s|m|h|d)$/.exec(value.trim());
  const ms = m ? Number(m[1]) * DURATION_UNITS[m[2]!]! : NaN;
  if (!(ms >= 1000)) throw new UserError(`${flag} must be a duration of at least 1s such as 90s, 30m, 12h or 7d, got '${value}'`, 'usage');
  return Math.round(ms);
}

/** `1GiB`, `500MB`, `1048576` → bytes (a usage error otherwise). */
export function parseBusBytes(value: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([a-zA-Z]*)$/.exec(value.trim());
  const unit = m ? BYTE_UNITS[m[2]!.toLowerCase()] : undefined;
  const bytes = m && unit ? Math.floor(Number(m[1]) * unit) : NaN;
  if (!(bytes >= 1 << 20)) throw new UserError(`${flag} must be a size of at least 1MiB such as 512MiB, 1GiB or 20GB, got '${value}'`, 'usage');
  return bytes;
}

/** nats://HOST:PORT (several comma-separated for a cluster); anything else is a usage error. */
export function parseNatsUrl(url: string, flag = '--nats'): string[] {
  const servers = url.split(',').map((s) => s.trim()).filter(Boolean);
  if (!servers.length) throw new UserError(`${flag} needs nats://HOST:PORT`, 'usage');
  for (const s of servers) {
    let u: URL;
    try {
      u = new URL(s);
    } catch {
      throw new UserError(`${flag}: "${s}" is not a URL (use nats://HOST:PORT)`, 'usage');
    }
    if (!['nats:', 'tls:'].includes(u.protocol) || !u.hostname) throw new UserError(`${flag}: "${s}" is not a nats://HOST:PORT URL`, 'usage');
  }
  return servers;
}

/** A NATS URL without credentials, for messages. */
export function redactNatsUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/g, '//***@');
}
