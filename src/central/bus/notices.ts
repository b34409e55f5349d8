/**
 * Change notices between Central instances (`--nats`): ctx.events is per process, but with
 * several Centrals a leased job may run on another instance than the one whose API saw the
 * change (a policy edited through A, the live inventory held by B). Each instance publishes
 * the notices its own code raises on the core NATS subject `gatehouse.central.notices` and
 * re-emits the others' locally; policies and exceptions are reloaded from the store first,
 * since every instance keeps them compiled in memory.
 *
 * Best effort, by design: a notice lost while NATS is down only delays work that the jobs'
 * own periodic passes do anyway; nothing stored depends on it.
 */
import { randomBytes } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import { describeError } from '../../util/errors.js';
import { POLICIES_EVALUATED } from '../images/image-policies.js';
import { parseNatsUrl } from '../client/bus-stream.js';
import { connectBusWithAccess } from './access.js';
import type { CentralContext } from '../context.js';
import type { CentralJob, CentralJobTools } from '../jobs.js';

export const NOTICES_SUBJECT = 'gatehouse.central.notices';

/** Notices worth sharing, and what of their arguments crosses (JSON-safe, small). */
const SHARED: Record<string, (args: unknown[]) => unknown[] | undefined> = {
  sources: () => [],
  policies: () => [],
  exceptions: () => [],
  'registry-watches': () => [],
  db: () => [],
  images: (a) => [a[0]],
  // The instance that stored the image evaluated its policies; elsewhere only risk and live views need it.
  image: (a) => (typeof a[0] === 'string' ? [a[0]] : undefined),
  alerts: (a) => (Array.isArray(a[0]) ? [a[0].filter((x) => typeof x === 'string').slice(0, 10_000)] : undefined),
};

interface Notice {
  from: string;
  name: string;
  args: unknown[];
}

/** The job form for startCentral (`--nats`). */
export function busNoticesJob(url: string): CentralJob {
  const servers = parseNatsUrl(url);
  const job = async (ctx: CentralContext, signal: AbortSignal, tools: CentralJobTools): Promise<void> => {
    const connecting = connectBusWithAccess(servers, `gatehouse-central-notices ${process.pid}`);
    const nc = await Promise.race([connecting, new Promise<undefined>((r) => (signal.aborted ? r(undefined) : signal.addEventListener('abort', () => r(undefined), { once: true })))]);
    if (!nc) {
      void connecting.then((c) => c.close()).catch(() => undefined);
      return;
    }
    const relay = shareNotices(ctx, nc, tools);
    await new Promise<void>((r) => (signal.aborted ? r() : signal.addEventListener('abort', () => r(), { once: true })));
    relay.stop();
    await nc.drain().catch(() => nc.close());
  };
  Object.defineProperty(job, 'name', { value: 'busNotices' });
  return job;
}

/** Publishes this instance's notices and re-emits the others'; stop() detaches. */
export function shareNotices(ctx: CentralContext, nc: NatsConnection, tools: CentralJobTools): { stop(): void; instance: string } {
  const instance = `${process.pid}-${randomBytes(6).toString('hex')}`;
  let relaying = false;
  const listeners: Array<[string, (...args: unknown[]) => void]> = [];
  const publish = (name: string, args: unknown[]) => {
    try {
      nc.publish(NOTICES_SUBJECT, JSON.stringify({ from: instance, name, args } satisfies Notice));
    } catch {
      // Closed or reconnecting: best effort (see the top of this file).
    }
  };
  // A bus fetch raises one `alerts` notice per node's batch (up to 1,000): their deployment ids
  // cross together, one message per turn of the event loop.
  let alertIds = new Set<string>();
  let alertsQueued: NodeJS.Immediate | undefined;
  const flushAlerts = () => {
    alertsQueued = undefined;
    const ids = [...alertIds];
    alertIds = new Set();
    for (let i = 0; i < ids.length; i += 10_000) publish('alerts', [ids.slice(i, i + 10_000)]);
  };
  for (const [name, pick] of Object.entries(SHARED)) {
    const listener = (...args: unknown[]) => {
      if (relaying) return; // a notice from another instance is not sent back
      const shared = pick(args);
      if (!shared) return;
      if (name !== 'alerts') return publish(name, shared);
      for (const id of shared[0] as string[]) alertIds.add(id);
      alertsQueued ??= setImmediate(flushAlerts);
    };
    ctx.events.on(name, listener);
    listeners.push([name, listener]);
  }
  // Applied one at a time, in order: a policy reload finishes before the next notice is emitted.
  let chain = Promise.resolve();
  const sub = nc.subscribe(NOTICES_SUBJECT, {
    callback: (err, msg) => {
      if (err) return;
      let n: Notice;
      try {
        n = msg.json<Notice>();
      } catch {
        return;
      }
      if (n.from === instance || !(n.name in SHARED) || !Array.isArray(n.args)) return;
      chain = chain.then(async () => {
        if (n.name === 'policies' || n.name === 'exceptions') await ctx.policies.reload();
        relaying = true;
        try {
          if (n.name === 'image') ctx.events.emit('image', n.args[0], POLICIES_EVALUATED);
          else ctx.events.emit(n.name, ...n.args);
        } finally {
          relaying = false;
        }
      }).catch((e: unknown) => tools.log.warn({ notice: n.name, error: describeError(e) }, 'notice from another Central: cannot apply'));
    },
  });
  return {
    instance,
    stop() {
      if (alertsQueued) {
        clearImmediate(alertsQueued);
        flushAlerts();
      }
      sub.unsubscribe();
      for (const [name, listener] of listeners) ctx.events.off(name, listener);
    },
  };
}
