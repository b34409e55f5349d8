/**
 * The live inventory of one cluster: for each kind, a paged list handed to the sink as a
 * whole (`replaceKind`), then a watch from the list's resourceVersion with bookmarks whose
 * events become upserts and removals. A broken watch resumes from the last resourceVersion
 * seen after a jittered backoff (capped at 5 s), so an apiserver restart costs no re-list
 * unless the server no longer has that version (410 Gone), which re-lists. Kinds the server
 * does not serve (404) or RBAC forbids (403) are reported through `sink.status` and tried
 * again later, never fatal.
 */
import { setMaxListeners } from 'node:events';
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { describeError } from '../../util/errors.js';
import { SerialQueue, backoffDelay, sleep } from './backoff.js';
import { KIND_RESOURCES, collectionPath } from './kube/resources.js';
import { ApiStatusError, listAll } from './kube/list.js';
import { watchOnce } from './kube/watch-once.js';
import { CLUSTER_KINDS, type ClusterKind, type InventoryObject, type InventorySink } from './types.js';

export { kubeConfigFrom, type KubeConfigOptions } from './kube-config.js';

/** What happened to one kind's list/watch loop (for logs and tests). */
export type KindEvent =
  | { kind: ClusterKind; type: 'listed'; count: number; resourceVersion: string }
  | { kind: ClusterKind; type: 'watching'; resourceVersion: string }
  | { kind: ClusterKind; type: 'gone'; resourceVersion: string }
  | { kind: ClusterKind; type: 'skipped'; reason: string }
  | { kind: ClusterKind; type: 'error'; message: string; retryInMs: number };

export interface WatchClusterOptions {
  sourceId: string;
  kubeConfig: KubeConfig;
  sink: InventorySink;
  /** Default: every kind of CLUSTER_KINDS. */
  kinds?: readonly ClusterKind[];
  signal: AbortSignal;
  /** List page size (default 500). */
  pageSize?: number;
  /** How long before a kind that was not served or forbidden is tried again (default 5 min). */
  recheckMs?: number;
  /** Longest retry delay (default 5 s). */
  maxBackoffMs?: number;
  /** Every list, watch start, 410, skip and error, per kind. */
  onKindEvent?: (e: KindEvent) => void;
}

export interface ClusterWatch {
  /** Resolves once every kind has been listed into the sink or skipped (or the watch was stopped). */
  synced: Promise<void>;
  /** Resolves when `signal` aborted and every loop has ended. */
  done: Promise<void>;
}

export function watchCluster(opts: WatchClusterOptions): ClusterWatch {
  const kinds = opts.kinds ?? CLUSTER_KINDS;
  // One listener on the caller's signal; the kinds' loops (a few listeners each) listen to ours.
  const stopAll = new AbortController();
  setMaxListeners(0, stopAll.signal);
  if (opts.signal.aborted) stopAll.abort();
  else opts.signal.addEventListener('abort', () => stopAll.abort(), { once: true });
  const status = new SourceStatus(opts.sourceId, opts.sink);
  const firstPasses: Promise<void>[] = [];
  const loops = kinds.map((kind) => {
    let passed!: () => void;
    firstPasses.push(new Promise<void>((r) => (passed = r)));
    return watchKind(kind, { ...opts, signal: stopAll.signal }, status, passed).finally(passed);
  });
  return { synced: Promise.all(firstPasses).then(() => undefined), done: Promise.all(loops).then(() => undefined) };
}

/** The list-then-watch loop of one kind, until the signal aborts. */
async function watchKind(kind: ClusterKind, opts: WatchClusterOptions, status: SourceStatus, firstPass: () => void): Promise<void> {
  const { sourceId, sink, signal, kubeConfig: kc } = opts;
  const path = collectionPath(KIND_RESOURCES[kind]);
  const apiVersion = KIND_RESOURCES[kind].apiVersion;
  const emit = (e: KindEvent) => opts.onKindEvent?.(e);
  let resourceVersion: string | undefined; // undefined: list first
  let failures = 0;
  while (!signal.aborted) {
    try {
      if (resourceVersion === undefined) {
        const list = await listAll(kc, path, opts.pageSize ?? 500, signal);
        if (signal.aborted) break;
        await sink.replaceKind(sourceId, kind, list.items.map((item) => inventoryObject(sourceId, kind, apiVersion, item)));
        resourceVersion = list.resourceVersion;
        emit({ kind, type: 'listed', count: list.items.length, resourceVersion });
        firstPass();
      }
      // A failed sink call ends this watch: the sink is behind the cluster, and only a re-list repairs it.
      const stopWatch = new AbortController();
      const onAbort = () => stopWatch.abort();
      signal.addEventListener('abort', onAbort, { once: true });
      const queue = new SerialQueue(() => stopWatch.abort());
      const from = resourceVersion;
      const started = Date.now();
      const result = await watchOnce({
        kc,
        path,
        resourceVersion: from,
        signal: stopWatch.signal,
        // Spread the server-side timeouts so a cluster's watches do not all end together.
        timeoutSeconds: 300 + Math.floor(Math.random() * 300),
        onConnected: () => {
          failures = 0;
          status.set(kind, undefined);
          emit({ kind, type: 'watching', resourceVersion: from });
        },
        onEvent: (type, obj) => {
          const o = inventoryObject(sourceId, kind, apiVersion, obj);
          queue.push(() => (type === 'DELETED' ? sink.remove(sourceId, kind, o.uid) : sink.upsert(o)));
        },
      }).finally(() => signal.removeEventListener('abort', onAbort));
      try {
        await queue.drain();
      } catch (e) {
        resourceVersion = undefined;
        throw e;
      }
      resourceVersion = result.resourceVersion;
      if (result.error) throw result.error;
      if (result.gone) {
        emit({ kind, type: 'gone', resourceVersion });
        resourceVersion = undefined;
      } else if (Date.now() - started < 1000 && !signal.aborted) {
        // A server that closes every watch at once must not make this loop spin.
        await sleep(backoffDelay(failures++, opts.maxBackoffMs ?? 5000), signal);
      }
    } catch (e) {
      if (signal.aborted) break;
      const code = e instanceof ApiStatusError ? e.statusCode : undefined;
      if (code === 404 || code === 403) {
        const reason = code === 404 ? `${kind}: not served by this cluster` : `${kind}: not allowed to list or watch (RBAC)`;
        // An optional kind (a CRD such as Istio's) that is not installed is normal, not news for the source's state.
        if (code === 404 && KIND_RESOURCES[kind].optional) status.set(kind, undefined);
        else status.set(kind, { skipped: reason });
        emit({ kind, type: 'skipped', reason });
        firstPass();
        resourceVersion = undefined;
        await sleep(opts.recheckMs ?? 300_000, signal);
        continue;
      }
      if (code === 410) {
        // A list's continue token expired: list again from the start.
        emit({ kind, type: 'gone', resourceVersion: resourceVersion ?? '' });
        resourceVersion = undefined;
        continue;
      }
      const retryInMs = backoffDelay(failures++, opts.maxBackoffMs ?? 5000);
      const message = `${kind}: ${describeError(e)}`;
      status.set(kind, { error: message });
      emit({ kind, type: 'error', message, retryInMs });
      await sleep(retryInMs, signal);
    }
  }
}

/** An API object as the sink stores it: kind and apiVersion set (list items lack them), managedFields dropped (bulky, never read). */
function inventoryObject(sourceId: string, kind: ClusterKind, apiVersion: string, item: KubernetesObject): InventoryObject {
  const body: Record<string, any> = { ...item, apiVersion, kind };
  const meta = { ...(body.metadata ?? {}) };
  delete meta.managedFields;
  body.metadata = meta;
  return {
    sourceId,
    kind,
    uid: String(meta.uid ?? `${meta.namespace ?? ''}/${meta.name ?? ''}`),
    namespace: meta.namespace || undefined,
    name: String(meta.name ?? ''),
    resourceVersion: meta.resourceVersion,
    body,
  };
}

type KindState = { skipped: string } | { error: string } | undefined;

/** One state per source from its kinds' states, reported to the sink only when it changes. */
class SourceStatus {
  private readonly kinds = new Map<ClusterKind, KindState>();
  private last = '';

  constructor(private readonly sourceId: string, private readonly sink: InventorySink) {}

  set(kind: ClusterKind, state: KindState): void {
    if (state) this.kinds.set(kind, state);
    else this.kinds.delete(kind);
    const errors = [...this.kinds.values()].flatMap((s) => (s && 'error' in s ? [s.error] : []));
    const skipped = [...this.kinds.values()].flatMap((s) => (s && 'skipped' in s ? [s.skipped] : []));
    const up = errors.length === 0;
    const message = [...errors, ...skipped].join('; ') || undefined;
    const key = `${up} ${message ?? ''}`;
    if (key === this.last) return;
    this.last = key;
    this.sink.status?.(this.sourceId, { up, message });
  }
}
