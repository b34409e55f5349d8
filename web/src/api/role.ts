/**
 * Who the session's token is (`GET /api/v1/whoami`), for showing controls only admins may use.
 * Asked once per token. The API still decides every write.
 */
import { useEffect, useState } from 'react';
import { api } from './client';
import { session } from './session';

export interface Whoami { role: string; name: string; id: string; expiresAt?: string }

const known = new Map<string, Promise<Whoami | null>>();

function ask(token: string): Promise<Whoami | null> {
  let p = known.get(token);
  if (!p) {
    p = api<Whoami>('GET', '/api/v1/whoami').catch(() => {
      known.delete(token); // unreachable, expired or refused: ask again next time
      return null;
    });
    known.set(token, p);
  }
  return p;
}

/** The calling token, or null until known (or when Central cannot say). */
export function useWhoami(): Whoami | null {
  const [me, setMe] = useState<Whoami | null>(null);
  useEffect(() => {
    const token = session.token();
    if (!token) return;
    let live = true;
    void ask(token).then((w) => { if (live) setMe(w); });
    return () => { live = false; };
  }, []);
  return me;
}

export function useIsAdmin(): boolean {
  return useWhoami()?.role === 'admin';
}
