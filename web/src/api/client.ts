/**
 * Every call to Central's API goes through `api()`: the bearer token from the session, one
 * error type with the API's one-line message, and two app-wide signals — the token was
 * refused (back to /login) and Central cannot be reached (a banner).
 */
import { session } from './session';

export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

type Listener = () => void;
const listeners = { unauthorized: new Set<(message: string) => void>(), reachability: new Set<Listener>() };
let reachable = true;

export const connection = {
  get reachable(): boolean { return reachable; },
  onReachability(l: Listener): () => void { listeners.reachability.add(l); return () => listeners.reachability.delete(l); },
  onUnauthorized(l: (message: string) => void): () => void { listeners.unauthorized.add(l); return () => listeners.unauthorized.delete(l); },
};

function setReachable(value: boolean): void {
  if (value === reachable) return;
  reachable = value;
  for (const l of listeners.reachability) l();
}

/** Calls the API with the session's token (or `token`, when checking one at login). */
export async function api<T>(method: string, path: string, body?: unknown, token = session.token()): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}), accept: 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    setReachable(false);
    throw new ApiError(0, 'unreachable', 'Central cannot be reached');
  }
  // A proxy in front of a stopped Central answers 502-504: that is "unreachable" too.
  if (res.status >= 502 && res.status <= 504) {
    setReachable(false);
    throw new ApiError(res.status, 'unreachable', 'Central cannot be reached');
  }
  setReachable(true);
  const text = await res.text();
  let parsed: unknown = undefined;
  try { parsed = text ? JSON.parse(text) : undefined; } catch { /* not JSON */ }
  if (!res.ok) {
    const err = parsed as { error?: string; message?: string } | undefined;
    const e = new ApiError(res.status, err?.error ?? 'error', err?.message ?? `HTTP ${res.status}`);
    if (res.status === 401 && token === session.token()) for (const l of listeners.unauthorized) l(e.message);
    throw e;
  }
  return parsed as T;
}

/** A query string from the set values of `params`. */
export function query(params: Record<string, string | number | undefined | null>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

export interface Page<T> { items: T[]; nextCursor: string | null }
