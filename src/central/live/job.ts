/**
 * The live inventory job: one watcher per cluster or host in the store, all writing through
 * one StoreInventorySink into one LiveEvaluator. Sources added or removed through the API
 * start or stop their watcher; policy, exception and image changes re-evaluate everything.
 */
import type { CentralContext } from '../context.js';
import type { CentralJob } from '../jobs.js';
import { watchCluster } from '../inventory/kube-watch.js';
import { kubeConfigOf, type ClusterConfig } from '../api/sources.js';
import { listSources } from '../store/sources.js';
import { describeError } from '../../util/errors.js';
import { LiveEvaluator } from './evaluator.js';
import { StoreInventorySink } from './sink.js';
import { startHostWatch } from './host-source.js';

export interface LiveInventory {
  evaluator: LiveEvaluator;
  sink: StoreInventorySink;
  /** Starts or stops watchers to match the sources in the store. */
  sync(): Promise<void>;
  stop(): Promise<void>;
}

export function startLiveInventory(ctx: CentralContext, log: { warn(obj: object, msg?: string): void; info(obj: object, msg?: string): void }, options: { debounceMs?: number } = {}): LiveInventory {
  const evaluator = new LiveEvaluator(ctx.db, ctx.policies, ctx.now, { debounceMs: options.debounceMs, onError: (message) => log.warn({ message }, 'live evaluation failed'), onEvaluated: (count) => ctx.events.emit('deployments', String(count)) });
  const sink = new StoreInventorySink(ctx.db, evaluator, ctx.now);
  const watchers = new Map<string, { controller: AbortController; done: Promise<void> }>();

  const sync = async () => {
    const sources = await listSources(ctx.db);
    const wanted = new Set(sources.map((s) => s.id));
    for (const [id, w] of watchers) {
      if (wanted.has(id)) continue;
      w.controller.abort();
      watchers.delete(id);
      evaluator.forget(id);
      await w.done.catch(() => undefined);
    }
    for (const s of sources) {
      evaluator.track(s.id);
      if (watchers.has(s.id)) continue;
      const controller = new AbortController();
      try {
        const config = JSON.parse(ctx.secrets.open(s.config)) as Record<string, unknown>;
        const done = s.kind === 'cluster'
          ? watchCluster({ sourceId: s.id, kubeConfig: kubeConfigOf(config as ClusterConfig), sink, signal: controller.signal }).done
          : startHostWatch(s.id, config, sink, controller.signal);
        watchers.set(s.id, { controller, done });
        log.info({ source: s.name, kind: s.kind }, 'watching');
      } catch (e) {
        sink.status(s.id, { up: false, message: describeError(e) });
        log.warn({ source: s.name, message: describeError(e) }, 'cannot watch source');
      }
    }
  };

  const onSources = () => void sync().catch((e) => log.warn({ message: describeError(e) }, 'source sync failed'));
  const onPolicies = () => evaluator.invalidateAll('policies');
  // The pass reads the pushed digests' references, all of a pass's pushes with one query.
  const onImage = (digest?: unknown) => (typeof digest === 'string' ? evaluator.imagePushed(digest) : evaluator.invalidateAll('images'));
  const onImages = () => evaluator.invalidateAll('images');
  const onAlerts = (ids: string[]) => evaluator.alertsChanged(ids);
  ctx.events.on('sources', onSources);
  ctx.events.on('policies', onPolicies);
  ctx.events.on('exceptions', onPolicies);
  ctx.events.on('image', onImage);
  ctx.events.on('images', onImages);
  ctx.events.on('alerts', onAlerts);

  return {
    evaluator, sink, sync,
    stop: async () => {
      ctx.events.off('sources', onSources);
      ctx.events.off('policies', onPolicies);
      ctx.events.off('exceptions', onPolicies);
      ctx.events.off('image', onImage);
      ctx.events.off('images', onImages);
      ctx.events.off('alerts', onAlerts);
      for (const w of watchers.values()) w.controller.abort();
      await Promise.all([...watchers.values()].map((w) => w.done.catch(() => undefined)));
      watchers.clear();
      evaluator.stop();
      await evaluator.idle();
    },
  };
}

/** The job form for CENTRAL_JOBS. */
export const liveInventoryJob: CentralJob = async function liveInventory(ctx, signal, tools) {
  const live = startLiveInventory(ctx, tools.log);
  await live.sync();
  await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
  await live.stop();
};
