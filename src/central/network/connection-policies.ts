/**
 * Connection policies, evaluated continuously: when a sensor's flows are stored (the
 * `event-batch` notice of POST /api/v1/ingest/events and of the bus), the observed edges of
 * that source (its network graph over the last 24 h) become `connection` subjects — the
 * source workload's service identity and the destination — and every policy of subject
 * `connection` at stage `runtime` judges them. Violations are kept like the other stages'
 * (src/central/store/violations.ts): one subject per edge (its graph id), opened while the
 * policy holds, resolved when it no longer does (an image got signed, the policy changed),
 * excepted while an exception covers it.
 *
 * Work is debounced per source (a sensor sends a batch per interval; one graph build covers
 * all of it) and serialised (one evaluation at a time). Policy and exception changes
 * re-evaluate every source evaluated before.
 */
import type { EventBatch } from '../client/ingest-types.js';
import type { CentralContext } from '../context.js';
import type { CentralJob } from '../jobs.js';
import { findViolations } from '../../policy/evaluate.js';
import { graphConnections } from '../../subjects/graph-connections.js';
import { reconcileViolations } from '../store/violations.js';
import { EVENT_BATCH_NOTICE } from '../incidents/service.js';
import { buildNetworkGraph } from './graph-service.js';
import { sourceIdentities } from './identities.js';

export interface ConnectionPolicyOptions {
  /** How long flows of one source gather before it is evaluated (default 1 s). */
  debounceMs?: number;
  /** The window of observed edges judged (default 24h, as the graph API). */
  since?: string;
  onError?: (e: unknown) => void;
}

export class ConnectionPolicyEvaluator {
  /** Sources (by id) evaluated at least once: re-evaluated when policies or exceptions change. */
  private readonly known = new Set<string>();
  private readonly due = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private chain: Promise<void> = Promise.resolve();
  evaluations = 0;

  /** Source ids by kind/name: a bus fetch brings a batch per node, each asked for its cluster's id (emptied when sources change). */
  private readonly ids = new Map<string, Promise<string | undefined>>();
  private readonly onBatch = (batch: EventBatch) => {
    if (batch.source.kind !== 'sensor' || !batch.events.some((e) => e.type === 'flow')) return;
    const name = batch.source.cluster ?? batch.source.host ?? batch.source.node;
    if (!name) return;
    const kind = batch.source.cluster ? 'cluster' : 'host';
    const key = `${kind}/${name}`;
    let id = this.ids.get(key);
    if (!id) {
      id = this.sourceIdOf(kind, name);
      this.ids.set(key, id);
      // Not found (yet) or failed: asked again next time.
      void id.then((v) => v ?? this.ids.delete(key), () => this.ids.delete(key));
    }
    void id.then((v) => v && this.mark(v), () => undefined);
  };
  private readonly onSources = () => this.ids.clear();
  private readonly onPolicies = () => {
    for (const id of this.known) this.mark(id);
  };

  constructor(private readonly ctx: CentralContext, private readonly options: ConnectionPolicyOptions = {}) {}

  start(): this {
    this.ctx.events.on(EVENT_BATCH_NOTICE, this.onBatch);
    this.ctx.events.on('sources', this.onSources);
    this.ctx.events.on('policies', this.onPolicies);
    this.ctx.events.on('exceptions', this.onPolicies);
    return this;
  }

  async stop(): Promise<void> {
    this.ctx.events.off(EVENT_BATCH_NOTICE, this.onBatch);
    this.ctx.events.off('sources', this.onSources);
    this.ctx.events.off('policies', this.onPolicies);
    this.ctx.events.off('exceptions', this.onPolicies);
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.idle();
  }

  /** Resolves once everything marked so far is evaluated. */
  async idle(): Promise<void> {
    while (this.timer || this.due.size) {
      if (this.timer) {
        clearTimeout(this.timer);
        this.timer = undefined;
        this.run();
      }
      await this.chain;
    }
    await this.chain;
  }

  private async sourceIdOf(kind: 'cluster' | 'host', name: string): Promise<string | undefined> {
    const r = await this.ctx.db.selectFrom('sources').select('id').where('kind', '=', kind).where('name', '=', name).executeTakeFirst();
    return r?.id;
  }

  private mark(sourceId: string): void {
    this.due.add(sourceId);
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.run();
    }, this.options.debounceMs ?? 1000);
    this.timer.unref();
  }

  private run(): void {
    const ids = [...this.due];
    this.due.clear();
    this.chain = this.chain.then(async () => {
      for (const id of ids) {
        try {
          await this.evaluate(id);
        } catch (e) {
          this.options.onError?.(e);
        }
      }
    });
  }

  /** Judges every observed edge of the source and records the outcome per edge. */
  async evaluate(sourceId: string): Promise<{ edges: number; opened: number; resolved: number }> {
    this.known.add(sourceId);
    this.evaluations++;
    const policies = this.ctx.policies;
    const open = new Set((await this.ctx.db.selectFrom('violations').select('subject_key').where('subject_kind', '=', 'connection').where('stage', '=', 'runtime')
      .where('state', '!=', 'resolved').execute()).map((r) => r.subject_key));
    // No connection policy and nothing to resolve (the usual case): no graph to build.
    if (!open.size && !policies.set.policiesFor('connection').some((p) => p.stages.includes('runtime'))) return { edges: 0, opened: 0, resolved: 0 };
    const graph = await buildNetworkGraph(this.ctx, { cluster: sourceId, since: this.options.since ?? '24h' });
    const identities = await sourceIdentities(this.ctx, sourceId);
    const now = this.ctx.now();
    const judged = graphConnections(graph, identities, { observedOnly: true }).map(({ edge, connection }) => ({
      edge,
      findings: findViolations({ kind: 'connection', value: connection }, policies.set, 'runtime'),
    }));
    // An edge with nothing to say and nothing on record costs no write: only edges with a
    // violation now, or an unresolved one before, are reconciled.
    let opened = 0;
    let resolved = 0;
    await this.ctx.db.transaction().execute(async (trx) => {
      for (const j of judged) {
        if (!j.findings.length && !open.has(j.edge.id)) continue;
        const r = await reconcileViolations(trx, { subjectKind: 'connection', subjectKey: j.edge.id, stage: 'runtime', findings: j.findings }, policies.exceptions, now);
        opened += r.opened;
        resolved += r.resolved;
      }
    });
    return { edges: judged.length, opened, resolved };
  }
}

const evaluators = new WeakMap<CentralContext, ConnectionPolicyEvaluator>();

/** The evaluator of a Central (made and started on first use). */
export function connectionPolicyEvaluator(ctx: CentralContext, options?: ConnectionPolicyOptions): ConnectionPolicyEvaluator {
  let e = evaluators.get(ctx);
  if (!e) {
    e = new ConnectionPolicyEvaluator(ctx, options).start();
    evaluators.set(ctx, e);
  }
  return e;
}

/** Evaluates connection policies on the flows every sensor sends, until Central stops. */
export const connectionPoliciesJob: CentralJob = async (ctx, signal, { log }) => {
  const e = connectionPolicyEvaluator(ctx, { onError: (err) => log.error({ error: String(err) }, 'connection policies: evaluation failed') });
  await new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true })));
  evaluators.delete(ctx);
  await e.stop();
};
