/**
 * Stores events that came over the bus exactly as `POST /api/v1/ingest/events` stores a
 * batch: storeEventBatches (src/central/store/events.ts, duplicates dropped by id) inside one
 * transaction for the whole fetch, then the same change notices. Messages are checked first
 * against the contract the HTTP route's schema enforces; one that fails is refused alone.
 */
import { createRequire } from 'node:module';
import { Ajv } from 'ajv';
import type { ObservedFlow } from '../../network/flow.js';
import { findingSchema } from '../api/schemas/finding.js';
import { NetworkIndex, networkIndexOf } from '../network/endpoints.js';
import { checkFlow, observedFlowSchema } from '../network/flow-schema.js';
import type { EventBatch, IngestEvent } from '../client/ingest-types.js';
import type { BusMessage } from '../client/bus-stream.js';
import type { CentralContext } from '../context.js';
import { storeEventBatches } from '../store/events.js';
import { Slices } from './slices.js';

const SOURCE_KINDS = new Set(['sensor', 'runtime-replay', 'engine-proxy', 'admission']);
const EVENT_TYPES = new Set(['alert', 'decision', 'flow']);
const SOURCE_KEYS = new Set(['kind', 'cluster', 'host', 'node']);
const EVENT_KEYS = new Set(['id', 'type', 'time', 'finding', 'data']);
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

// The route's Finding and ObservedFlow schemas with the route's ajv options (as src/central/images/push-work.ts does).
const ajv = new Ajv({ removeAdditional: false, useDefaults: true, coerceTypes: 'array', allErrors: false });
// A CommonJS module whose default export TypeScript's NodeNext view does not see as callable.
(createRequire(import.meta.url)('ajv-formats') as (a: Ajv) => void)(ajv);
const validateFinding = ajv.compile(findingSchema);
const validateFlow = ajv.compile(observedFlowSchema);

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
const shortString = (x: unknown, max: number) => x === undefined || (typeof x === 'string' && x.length <= max);

/** The message as a BusMessage, or why it is refused (one line): the one-event message of sensors before session 6. */
export function parseBusMessage(data: Uint8Array): BusMessage | string {
  const x = parseJson(data);
  if (typeof x === 'string') return x;
  if (!isObject(x) || !isObject(x.source) || !isObject(x.event)) return 'not {source, event}';
  const source = checkSource(x.source);
  if (typeof source === 'string') return source;
  const event = checkEvent(x.event);
  return typeof event === 'string' ? event : { source, event };
}

/** What one bus message holds: its good events, and why each other event is refused. */
export interface ParsedBusPayload {
  messages: BusMessage[];
  refused: string[];
}

/**
 * A bus message of either shape — `{source, events: [...]}` (BusPublisher's batch message) or
 * `{source, event}` — as its events; a string when the whole message is refused. An event that
 * breaks the contract is refused alone: the others of its message are stored.
 */
export function parseBusPayload(data: Uint8Array): ParsedBusPayload | string {
  const x = parseJson(data);
  if (typeof x === 'string') return x;
  if (!isObject(x) || !isObject(x.source)) return 'not {source, event} or {source, events}';
  if (!Array.isArray(x.events)) {
    const one = parseBusMessage(data);
    return typeof one === 'string' ? one : { messages: [one], refused: [] };
  }
  if (Object.keys(x).some((k) => k !== 'source' && k !== 'events')) return 'unknown field in message';
  const source = checkSource(x.source);
  if (typeof source === 'string') return source;
  const out: ParsedBusPayload = { messages: [], refused: [] };
  for (const e of x.events) {
    const event = checkEvent(e);
    if (typeof event === 'string') out.refused.push(event);
    else out.messages.push({ source, event });
  }
  return out;
}

function parseJson(data: Uint8Array): unknown {
  try {
    return JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8'));
  } catch {
    return 'not JSON';
  }
}

function checkSource(source: Record<string, unknown>): EventBatch['source'] | string {
  if (Object.keys(source).some((k) => !SOURCE_KEYS.has(k))) return 'unknown field in source';
  if (typeof source.kind !== 'string' || !SOURCE_KINDS.has(source.kind)) return `unknown source kind ${JSON.stringify(source.kind)}`;
  if (!shortString(source.cluster, 253) || !shortString(source.host, 253) || !shortString(source.node, 253)) return 'bad source cluster/host/node';
  return source as EventBatch['source'];
}

function checkEvent(event: unknown): IngestEvent | string {
  if (!isObject(event)) return 'an event must be an object';
  if (Object.keys(event).some((k) => !EVENT_KEYS.has(k))) return 'unknown field in event';
  if (typeof event.id !== 'string' || event.id.length < 1 || event.id.length > 200) return 'event id must be 1–200 characters';
  if (typeof event.type !== 'string' || !EVENT_TYPES.has(event.type)) return `unknown event type ${JSON.stringify(event.type)}`;
  if (typeof event.time !== 'string' || !RFC3339.test(event.time) || Number.isNaN(Date.parse(event.time))) return 'event time must be RFC 3339';
  if (event.finding !== undefined && !validateFinding(event.finding)) return `bad finding: ${validateFinding.errors?.[0]?.instancePath || '/'} ${validateFinding.errors?.[0]?.message ?? ''}`.trim();
  if (event.data !== undefined && !isObject(event.data)) return 'event data must be an object';
  if (event.type === 'flow') {
    if (event.finding !== undefined) return 'a flow carries no finding';
    if (!validateFlow(event.data)) return `bad flow: ${validateFlow.errors?.[0]?.instancePath || '/'} ${validateFlow.errors?.[0]?.message ?? ''}`.trim();
    const bad = checkFlow(event.data as unknown as ObservedFlow);
    if (bad) return `bad flow: ${bad}`;
  }
  return event as unknown as IngestEvent;
}

/** Groups messages into batches by source, in arrival order. */
export function batchesOf(messages: readonly BusMessage[]): EventBatch[] {
  const bySource = new Map<string, EventBatch>();
  for (const m of messages) {
    const key = JSON.stringify([m.source.kind, m.source.cluster ?? null, m.source.host ?? null, m.source.node ?? null]);
    let b = bySource.get(key);
    if (!b) bySource.set(key, (b = { source: m.source, events: [] }));
    b.events.push(m.event);
  }
  return [...bySource.values()];
}

/**
 * Central's NetworkIndex, each source's index brought up to date once per fetch: a fetch holds
 * one batch per node of a cluster, and without this every node's flows re-read the cluster's
 * recently changed objects (measured: 200 nodes' batches per fetch made flows cost 22 ms of
 * CPU each on a 1,000-deployment fleet; bench/fleet/ingest-cost.ts).
 */
class RefreshedOncePerFetch extends NetworkIndex {
  private readonly refreshed = new Map<string, ReturnType<NetworkIndex['source']>>();

  constructor(private readonly inner: NetworkIndex) {
    super();
  }

  override source(...a: Parameters<NetworkIndex['source']>): ReturnType<NetworkIndex['source']> {
    const key = `${a[1]}/${a[2]}`;
    let idx = this.refreshed.get(key);
    if (!idx) this.refreshed.set(key, (idx = this.inner.source(...a)));
    return idx;
  }

  override resolve(...a: Parameters<NetworkIndex['resolve']>): ReturnType<NetworkIndex['resolve']> {
    return this.inner.resolve(...a);
  }

  override external(...a: Parameters<NetworkIndex['external']>): ReturnType<NetworkIndex['external']> {
    return this.inner.external(...a);
  }

  override ownerNames(): ReturnType<NetworkIndex['ownerNames']> {
    return this.inner.ownerNames();
  }
}

/**
 * Stores the batches in one transaction (all or nothing) and emits what the HTTP route emits,
 * the notices in slices (their listeners' work is per batch; a fetch holds up to 1,000).
 */
export async function ingestBusBatches(ctx: CentralContext, batches: readonly EventBatch[], slices = new Slices()): Promise<{ stored: number; duplicates: number }> {
  const now = ctx.now().toISOString();
  const network = new RefreshedOncePerFetch(networkIndexOf(ctx));
  const results = await ctx.db.transaction().execute((trx) => storeEventBatches(trx, batches, now, network));
  let stored = 0;
  let duplicates = 0;
  for (const [i, r] of results.entries()) {
    await slices.pass();
    stored += r.stored;
    duplicates += r.duplicates;
    const batch = batches[i]!;
    if (r.stored) ctx.events.emit('events', batch.source);
    if (r.deployments.length) ctx.events.emit('alerts', r.deployments);
    if (r.stored) ctx.events.emit('event-batch', batch);
  }
  return { stored, duplicates };
}
