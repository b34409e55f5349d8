/**
 * Rate limit on failed logins per client address: after `max` failures within `windowMs`,
 * that address is refused (429) until the window passes. @fastify/rate-limit counts every
 * request; this counts only failures, so a busy sensor with a good token is never slowed.
 * Memory is bounded: at most `maxClients` addresses are tracked (oldest dropped first).
 */
export class FailureLimiter {
  private readonly failures = new Map<string, { count: number; since: number }>();

  constructor(private readonly max = 10, private readonly windowMs = 60_000, private readonly maxClients = 10_000) {}

  /** Seconds to wait when `client` is blocked, else 0. */
  blockedFor(client: string, now = Date.now()): number {
    const f = this.failures.get(client);
    if (!f) return 0;
    if (now - f.since >= this.windowMs) {
      this.failures.delete(client);
      return 0;
    }
    return f.count >= this.max ? Math.ceil((f.since + this.windowMs - now) / 1000) : 0;
  }

  fail(client: string, now = Date.now()): void {
    const f = this.failures.get(client);
    if (f && now - f.since < this.windowMs) {
      f.count++;
      return;
    }
    this.failures.delete(client);
    if (this.failures.size >= this.maxClients) this.failures.delete(this.failures.keys().next().value!);
    this.failures.set(client, { count: 1, since: now });
  }
}
