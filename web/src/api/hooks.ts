/** Small data hooks over api(): one GET with loading/error state, and live change notices. */
import { useCallback, useEffect, useRef, useState } from 'react';
import { api, ApiError, connection } from './client';

export interface Loaded<T> { data: T | undefined; error: ApiError | undefined; loading: boolean; reload: () => void }

/** GETs `path` (none when null); re-fetches when the path changes or reload() is called. */
export function useApi<T>(path: string | null): Loaded<T> {
  const [state, setState] = useState<{ data?: T; error?: ApiError; loading: boolean }>({ loading: path !== null });
  const [generation, setGeneration] = useState(0);
  useEffect(() => {
    if (path === null) return;
    let cancelled = false;
    setState((s) => ({ ...s, loading: true }));
    api<T>('GET', path).then(
      (data) => { if (!cancelled) setState({ data, loading: false }); },
      (error: unknown) => { if (!cancelled) setState((s) => ({ data: s.data, error: error instanceof ApiError ? error : new ApiError(0, 'error', String(error)), loading: false })); },
    );
    return () => { cancelled = true; };
  }, [path, generation]);
  const reload = useCallback(() => setGeneration((g) => g + 1), []);
  // Central back after being unreachable: what failed to load is read again.
  const failed = state.error?.code === 'unreachable';
  useEffect(() => (failed ? connection.onReachability(() => { if (connection.reachable) reload(); }) : undefined), [failed, reload]);
  return { data: state.data, error: state.error, loading: state.loading, reload };
}

export interface ChangeNotice { topic: string; subject?: string }
type ChangeListener = (n: ChangeNotice) => void;

/**
 * One EventSource for the whole app. It is opened with a single-use ticket (EventSource
 * sends no Authorization header, and the token never goes in a URL); when it drops, a new
 * ticket is fetched and it reopens, with a growing delay.
 */
const changeListeners = new Set<ChangeListener>();
let source: EventSource | null = null;
let retryMs = 1000;
let opening = false;

async function openStream(): Promise<void> {
  if (source || opening || changeListeners.size === 0) return;
  opening = true;
  try {
    const { ticket } = await api<{ ticket: string }>('POST', '/api/v1/stream/tickets');
    const es = new EventSource(`/api/v1/stream?ticket=${encodeURIComponent(ticket)}`);
    source = es;
    es.addEventListener('open', () => { retryMs = 1000; });
    es.addEventListener('change', (e) => {
      const notice = JSON.parse((e as MessageEvent<string>).data) as ChangeNotice;
      for (const l of changeListeners) l(notice);
    });
    es.addEventListener('error', () => {
      // The ticket was single-use: EventSource's own retry would be refused, so start over.
      es.close();
      if (source === es) source = null;
      setTimeout(() => void openStream(), retryMs);
      retryMs = Math.min(retryMs * 2, 30_000);
    });
  } catch {
    setTimeout(() => void openStream(), retryMs);
    retryMs = Math.min(retryMs * 2, 30_000);
  } finally {
    opening = false;
  }
}

/** Calls `onChange` for every change notice whose topic is in `topics`. */
export function useLiveChanges(topics: string[], onChange: (n: ChangeNotice) => void): void {
  const handler = useRef(onChange);
  handler.current = onChange;
  const key = topics.join(',');
  useEffect(() => {
    const wanted = new Set(key.split(','));
    const listener: ChangeListener = (n) => { if (wanted.has(n.topic)) handler.current(n); };
    changeListeners.add(listener);
    void openStream();
    return () => {
      changeListeners.delete(listener);
      if (changeListeners.size === 0 && source) { source.close(); source = null; }
    };
  }, [key]);
}

/** Closes the stream (signing out). */
export function closeLiveChanges(): void {
  source?.close();
  source = null;
}
