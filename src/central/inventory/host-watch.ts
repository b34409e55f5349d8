/**
 * The live inventory of one plain host through its engine's Docker API (Docker, or podman's
 * compatible socket): every poll lists all containers (inspected) and images and hands each
 * kind to the sink whole (`replaceKind`); between polls the engine's event stream makes
 * container and image changes reach the sink at once. The event stream is opened before the
 * first poll and every engine call runs through one queue, so an event handled after a poll
 * always reads newer state than that poll. After the stream breaks it reconnects (jittered
 * backoff, capped at 5 s) and polls again, covering what the gap missed.
 */
import { createHash } from 'node:crypto';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { describeError } from '../../util/errors.js';
import { backoffDelay, sleep } from './backoff.js';
import { EngineClient, type EngineTls } from './host/engine.js';
import type { InventoryObject, InventorySink } from './types.js';

export type { EngineTls } from './host/engine.js';

export type HostEvent =
  | { type: 'polled'; containers: number; images: number }
  | { type: 'events-connected' }
  | { type: 'changed'; kind: 'Container' | 'Image'; ref: string; removed: boolean }
  | { type: 'error'; message: string };

export interface WatchHostOptions {
  sourceId: string;
  /** `unix:///run/podman/podman.sock`, `unix:///var/run/docker.sock` or `tcp://host:port`. */
  endpoint: string;
  /** TLS for a tcp:// endpoint (PEM contents). */
  tls?: EngineTls;
  sink: InventorySink;
  signal: AbortSignal;
  /** Full re-list interval (default 30 s). */
  pollIntervalMs?: number;
  /** Longest reconnect delay of the event stream (default 5 s). */
  maxBackoffMs?: number;
  onHostEvent?: (e: HostEvent) => void;
}

export interface HostWatch {
  /** Resolves after the first complete poll (or when stopped). */
  synced: Promise<void>;
  /** Resolves when `signal` aborted and everything has stopped. */
  done: Promise<void>;
}

/** Container actions that change nothing the inventory keeps. */
const IGNORED_CONTAINER_ACTIONS = /^(exec|attach|resize|top|export|copy|archive-path|extract-to-dir|checkpoint)/;
const INSPECT_CONCURRENCY = 4;

/** Throws a UserError at once for a malformed endpoint or TLS options. */
export function watchHost(opts: WatchHostOptions): HostWatch {
  const engine = new EngineClient(opts.endpoint, opts.tls);
  const { sourceId, sink, signal } = opts;
  const emit = (e: HostEvent) => opts.onHostEvent?.(e);
  const status = new HostStatus(sourceId, sink);

  // Every engine read and sink write, one after another.
  let tail: Promise<unknown> = Promise.resolve();
  const serial = <T>(task: () => Promise<T>): Promise<T> => {
    const run = tail.then(task);
    tail = run.catch(() => {});
    return run;
  };

  let markSynced!: () => void;
  const synced = new Promise<void>((r) => (markSynced = r));
  const imageCache = new Map<string, Record<string, any>>();

  const poll = async () => {
    const summaries = (await engine.getJson<{ Id: string }[]>('/containers/json?all=1', signal)) ?? [];
    const inspected = await mapLimit(summaries, INSPECT_CONCURRENCY, (c) => engine.getJson<Record<string, any>>(`/containers/${encodeURIComponent(c.Id)}/json`, signal));
    const containers = inspected.filter((c): c is Record<string, any> => c !== undefined).map((c) => containerObject(sourceId, c));
    await sink.replaceKind(sourceId, 'Container', containers);
    const images = await listImages();
    await sink.replaceKind(sourceId, 'Image', images);
    emit({ type: 'polled', containers: containers.length, images: images.length });
  };

  /** Images are immutable but for their names: inspect each id once, and take the names from the list. */
  const listImages = async (): Promise<InventoryObject[]> => {
    const summaries = (await engine.getJson<{ Id: string; RepoTags?: string[] | null; RepoDigests?: string[] | null }[]>('/images/json', signal)) ?? [];
    const bodies = await mapLimit(summaries, INSPECT_CONCURRENCY, async (s) => {
      const cached = imageCache.get(s.Id) ?? (await engine.getJson<Record<string, any>>(`/images/${encodeURIComponent(s.Id)}/json`, signal));
      if (!cached) return undefined;
      const body: Record<string, any> = { ...cached, RepoTags: s.RepoTags ?? cached.RepoTags ?? [], RepoDigests: s.RepoDigests ?? cached.RepoDigests ?? [] };
      return body;
    });
    imageCache.clear();
    const out: InventoryObject[] = [];
    for (const body of bodies) {
      if (!body) continue; // removed between the list and the inspect
      imageCache.set(String(body.Id), body);
      out.push(imageObject(sourceId, body));
    }
    return out;
  };

  /** Images again, containers not (a commit makes an image and says only which container it came from). */
  const relistImages = () =>
    serial(async () => {
      if (signal.aborted) return;
      try {
        await sink.replaceKind(sourceId, 'Image', await listImages());
        emit({ type: 'changed', kind: 'Image', ref: '*', removed: false });
      } catch (e) {
        if (!signal.aborted) emit({ type: 'error', message: `listing images: ${describeError(e)}` });
      }
    });

  let pollQueued: Promise<void> | undefined;
  const requestPoll = (): Promise<void> => {
    pollQueued ??= serial(async () => {
      pollQueued = undefined; // events during this poll may ask for another
      if (signal.aborted) return;
      try {
        await poll();
        status.set('poll', undefined);
        markSynced();
      } catch (e) {
        if (signal.aborted) return;
        const message = `listing containers and images: ${describeError(e)}`;
        status.set('poll', message);
        emit({ type: 'error', message });
      }
    });
    return pollQueued;
  };

  /** Brings one container or image up to date after an event: inspect, then upsert, or remove when it is gone. */
  const refresh = (kind: 'Container' | 'Image', ref: string) =>
    serial(async () => {
      if (signal.aborted) return;
      try {
        // An image id asked for as bare hex is taken for a name once the image is gone (podman answers 500, not 404).
        const path = kind === 'Container' ? `/containers/${encodeURIComponent(ref)}/json` : `/images/${encodeURIComponent(imageId(ref) ?? ref)}/json`;
        const body = await engine.getJson<Record<string, any>>(path, signal);
        if (body) {
          if (kind === 'Image') imageCache.set(String(body.Id), body);
          await sink.upsert(kind === 'Container' ? containerObject(sourceId, body) : imageObject(sourceId, body));
        } else {
          const uid = kind === 'Container' ? ref : imageId(ref);
          if (!uid) {
            // A name that resolves to nothing now (loaded or re-tagged meanwhile): read the images again.
            void relistImages();
            return;
          }
          if (kind === 'Image') imageCache.delete(uid);
          await sink.remove(sourceId, kind, uid);
        }
        emit({ type: 'changed', kind, ref, removed: !body });
      } catch (e) {
        if (signal.aborted) return;
        // The sink may now be behind the host: a poll repairs it.
        emit({ type: 'error', message: `${kind} ${ref}: ${describeError(e)}` });
        void requestPoll();
      }
    });

  const onEventLine = (line: string) => {
    let e: { Type?: string; Action?: string; status?: string; id?: string; Actor?: { ID?: string; Attributes?: Record<string, string> } };
    try {
      e = JSON.parse(line);
    } catch {
      return;
    }
    const action = e.Action ?? e.status ?? '';
    if (e.Type === 'container') {
      const id = e.Actor?.ID || e.id;
      if (id && !IGNORED_CONTAINER_ACTIONS.test(action)) void refresh('Container', id);
      if (action === 'commit') void relistImages();
    } else if (e.Type === 'image') {
      // podman's pull event names the image only by reference.
      const ref = e.Actor?.ID || e.id || e.Actor?.Attributes?.name;
      if (!ref) return;
      // A load through the Docker API is named by the archive podman read (/var/tmp/api_load.tar…), not
      // by an image: asking for it is a 500 "invalid reference format". Read the images again instead.
      if (!imageId(ref) && ref.startsWith('/')) void relistImages();
      else void refresh('Image', ref);
    }
  };

  let firstAttempt!: () => void;
  const firstAttemptDone = new Promise<void>((r) => (firstAttempt = r));
  const followEvents = async () => {
    const path = `/events?filters=${encodeURIComponent(JSON.stringify({ type: ['container', 'image'] }))}`;
    let failures = 0;
    let connectedBefore = false;
    while (!signal.aborted) {
      try {
        const body = await engine.stream(path, signal);
        failures = 0;
        status.set('events', undefined);
        emit({ type: 'events-connected' });
        // Events missed while the stream was down: a poll catches up (the first poll follows anyway).
        if (connectedBefore) void requestPoll();
        connectedBefore = true;
        firstAttempt();
        for await (const line of createInterface({ input: Readable.from(body), crlfDelay: Infinity })) onEventLine(line);
        if (signal.aborted) break;
        throw new Error('the engine closed its event stream');
      } catch (e) {
        firstAttempt();
        if (signal.aborted) break;
        const message = `event stream: ${describeError(e)}`;
        status.set('events', message);
        emit({ type: 'error', message });
      }
      await sleep(backoffDelay(failures++, opts.maxBackoffMs ?? 5000), signal);
    }
  };

  const pollLoop = async () => {
    // Open the event stream first, so nothing between the first list and the stream is missed.
    await Promise.race([firstAttemptDone, sleep(10_000, signal)]);
    while (!signal.aborted) {
      await requestPoll();
      await sleep(opts.pollIntervalMs ?? 30_000, signal);
    }
  };

  const done = Promise.all([followEvents(), pollLoop()])
    .then(() => tail)
    .finally(() => {
      markSynced();
      return engine.close().catch(() => {});
    })
    .then(() => undefined);
  return { synced: Promise.race([synced, done]), done };
}

/** A full image id for an id-like reference (podman's events give the hex without `sha256:`). */
function imageId(ref: string): string | undefined {
  const m = /^(?:sha256:)?([0-9a-f]{64})$/.exec(ref);
  return m ? `sha256:${m[1]}` : undefined;
}

function stateHash(body: unknown): string {
  return createHash('sha256').update(JSON.stringify(body)).digest('hex').slice(0, 16);
}

function containerObject(sourceId: string, body: Record<string, any>): InventoryObject {
  return { sourceId, kind: 'Container', uid: String(body.Id), name: String(body.Name ?? '').replace(/^\//, '') || String(body.Id).slice(0, 12), resourceVersion: stateHash(body), body };
}

function imageObject(sourceId: string, body: Record<string, any>): InventoryObject {
  const name = body.RepoTags?.[0] ?? body.RepoDigests?.[0] ?? String(body.Id);
  return { sourceId, kind: 'Image', uid: String(body.Id), name, resourceVersion: stateHash(body), body };
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** The host's state from its two channels (polls, event stream), reported to the sink when it changes. */
class HostStatus {
  private readonly errors = new Map<'poll' | 'events', string>();
  private last: string | undefined;

  constructor(private readonly sourceId: string, private readonly sink: InventorySink) {}

  set(channel: 'poll' | 'events', error: string | undefined): void {
    if (error) this.errors.set(channel, error);
    else this.errors.delete(channel);
    const message = [...this.errors.values()].join('; ') || undefined;
    if ((message ?? '') === this.last) return;
    this.last = message ?? '';
    this.sink.status?.(this.sourceId, { up: !message, message });
  }
}
