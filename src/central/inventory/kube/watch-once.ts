/**
 * One watch connection through client-node's Watch: from a resourceVersion, with bookmarks,
 * until the server closes it, an error, 410 Gone, or the caller aborts. client-node's
 * ListWatch is not used: it lists without paging, keys objects by name rather than uid,
 * asks for no bookmarks and stops for good on the first non-410 error.
 */
import { Watch, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { ApiStatusError } from './list.js';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface WatchOnceResult {
  /** The last resourceVersion seen (an event's or a bookmark's): where the next watch resumes. */
  resourceVersion: string;
  /** The server said the resourceVersion is too old (410 Gone): re-list. */
  gone: boolean;
  /** Why the watch ended, when it was not a normal close, a 410 or the caller's abort. */
  error?: unknown;
}

export interface WatchOnceOptions {
  kc: KubeConfig;
  path: string;
  resourceVersion: string;
  onEvent: (type: WatchEventType, obj: KubernetesObject) => void;
  signal: AbortSignal;
  /** Server-side watch timeout; a connection silent for longer than this (plus a margin) is taken as dead. */
  timeoutSeconds: number;
  /** Called once the server has accepted the watch (HTTP 200). */
  onConnected?: () => void;
}

const CONNECT_TIMEOUT_MS = 30_000;

/** Never rejects: a failure is the result's `error`, with the resourceVersion reached before it. */
export function watchOnce(o: WatchOnceOptions): Promise<WatchOnceResult> {
  return new Promise((resolve) => {
    let resourceVersion = o.resourceVersion;
    let settled = false;
    let controller: AbortController | undefined;
    let idle: NodeJS.Timeout | undefined;
    const finish = (err: unknown, gone = false) => {
      if (settled) return;
      settled = true;
      clearTimeout(idle);
      o.signal.removeEventListener('abort', onAbort);
      controller?.abort();
      resolve(err ? { resourceVersion, gone, error: err } : { resourceVersion, gone });
    };
    const onAbort = () => finish(null);
    // A half-open connection (apiserver host gone without a FIN) would otherwise wait forever.
    const armIdle = (ms: number, what: string) => {
      clearTimeout(idle);
      idle = setTimeout(() => finish(new Error(what)), ms);
    };
    if (o.signal.aborted) return finish(null);
    o.signal.addEventListener('abort', onAbort, { once: true });
    armIdle(CONNECT_TIMEOUT_MS, `the watch of ${o.path} was not answered within ${CONNECT_TIMEOUT_MS / 1000} s`);
    const params = { resourceVersion, allowWatchBookmarks: true, timeoutSeconds: o.timeoutSeconds };
    new Watch(o.kc)
      .watch(
        o.path,
        params,
        (type: string, obj: any) => {
          if (settled) return;
          armIdle((o.timeoutSeconds + 60) * 1000, `the watch of ${o.path} went silent`);
          if (type === 'ERROR') {
            // A Status object: 410 (Expired/Gone) means the resourceVersion left the server's window.
            const code = Number(obj?.code);
            if (code === 410) finish(null, true);
            else finish(new ApiStatusError(code || 500, String(obj?.message ?? 'watch error')));
            return;
          }
          const rv = obj?.metadata?.resourceVersion;
          if (type === 'ADDED' || type === 'MODIFIED' || type === 'DELETED') o.onEvent(type, obj as KubernetesObject);
          if (typeof rv === 'string' && rv) resourceVersion = rv;
        },
        (err: any) => {
          if (err && (err.statusCode === 410 || err.code === 410)) finish(null, true);
          else if (err && typeof err.statusCode === 'number') finish(new ApiStatusError(err.statusCode, `watch of ${o.path}: ${err.message}`));
          else finish(err ?? null);
        },
      )
      .then(
        (c) => {
          controller = c;
          if (settled) c.abort();
          else {
            armIdle((o.timeoutSeconds + 60) * 1000, `the watch of ${o.path} went silent`);
            o.onConnected?.();
          }
        },
        (e) => finish(e),
      );
  });
}
