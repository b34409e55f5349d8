/**
 * Whether the session's token is an admin's, for showing controls only admins may use.
 * Central has no "who am I" route yet, so this asks an admin-only list (`GET /api/v1/tokens`):
 * 200 = admin, 403 = not. Asked once per token. The API still decides every write.
 */
import { useEffect, useState } from 'react';
import { api, ApiError } from './client';
import { session } from './session';

const known = new Map<string, Promise<boolean>>();

function probe(token: string): Promise<boolean> {
  let p = known.get(token);
  if (!p) {
    p = api('GET', '/api/v1/tokens').then(() => true, (e: unknown) => {
      if (e instanceof ApiError && e.status === 403) return false;
      known.delete(token); // unreachable or the like: ask again next time
      return false;
    });
    known.set(token, p);
  }
  return p;
}

export function useIsAdmin(): boolean {
  const [admin, setAdmin] = useState(false);
  useEffect(() => {
    const token = session.token();
    if (!token) return;
    let live = true;
    void probe(token).then((a) => { if (live) setAdmin(a); });
    return () => { live = false; };
  }, []);
  return admin;
}
