/**
 * Re-opens violations whose exception has expired: checks every `intervalMs` whether any
 * exception's expiry passed since the last check, and re-applies exceptions only then.
 */
import { expiryTime } from '../../policy/exceptions.js';
import type { CentralContext } from '../context.js';
import { refreshExceptionStates } from '../store/violations.js';

export async function checkExpiredExceptions(ctx: CentralContext, since: number): Promise<{ checkedAt: number; changed: number }> {
  const now = ctx.now();
  const t = now.getTime();
  const lapsed = ctx.policies.exceptions.some((e) => {
    const exp = expiryTime(e);
    return exp >= since && exp < t;
  });
  if (!lapsed) return { checkedAt: t, changed: 0 };
  const { changed } = await refreshExceptionStates(ctx.db, ctx.policies.exceptions, now);
  return { checkedAt: t, changed };
}

export function exceptionExpiryJob(intervalMs = 15_000) {
  return async (ctx: CentralContext, signal: AbortSignal): Promise<void> => {
    let since = ctx.now().getTime();
    while (!signal.aborted) {
      await new Promise((r) => setTimeout(r, intervalMs).unref());
      if (signal.aborted) break;
      try {
        since = (await checkExpiredExceptions(ctx, since)).checkedAt;
      } catch {
        // A failed check (store briefly unavailable) is retried at the next tick from the same point.
      }
    }
  };
}
