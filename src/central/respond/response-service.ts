/**
 * Central's cluster response: alerts that sensors on a cluster push are judged again by
 * Central's own runtime policies (the sensor's verdict is not trusted: a sensor token must
 * not be able to order a pod deleted), and the enforcement they ask for — isolate, label,
 * scale-to-zero, kill/stop (delete the pod, its controller replaces it) — is carried out on
 * that cluster through the response engine (src/respond: cluster action set, cooldowns,
 * rate limits, never-touch, kill switch), with every attempt, refusal and dry run stored in
 * `response_actions` (the audit trail an incident's page shows).
 *
 * Host actions (kill a process, pause a container) stay with the sensor's `--respond` on
 * its own host: Central acts only through the Kubernetes API. Off unless `gatehouse server
 * --respond`: a response is destructive, so it is asked for.
 */
import { join } from 'node:path';
import type { EventBatch, IngestEvent } from '../client/ingest-types.js';
import type { CentralContext } from '../context.js';
import type { CentralJob } from '../jobs.js';
import { EVENT_BATCH_NOTICE } from '../incidents/service.js';
import { kubeConfigOf, type ClusterConfig } from '../api/sources.js';
import { StoreAuditSink } from '../store/response-actions.js';
import type { Alert } from '../../runtime/alerts/alert.js';
import { evaluate } from '../../policy/evaluate.js';
import { clusterResponder } from '../../respond/cluster-responder.js';
import { KubeApi } from '../../respond/kube-api.js';
import { toRequest, type ResponseRequest } from '../../respond/request.js';
import type { Decision, NeverTouch, RateLimit, Responder } from '../../respond/responder.js';
import { describeError } from '../../util/errors.js';
import { podEvidenceCapture } from '../../respond/evidence-hook.js';
import { centralEvidenceKey } from './evidence-key.js';

export interface CentralResponseOptions {
  /** Decide and audit, change nothing. */
  dryRun?: boolean;
  /** One action per target and action in this period (default 5 minutes). */
  cooldownMs?: number;
  /** No action runs while this file exists. */
  killSwitchFile?: string;
  neverTouch?: NeverTouch;
  perTarget?: RateLimit;
  perPolicy?: RateLimit;
  /** Every decision, acted or suppressed (logs, tests). */
  onDecision?: (cluster: string, d: Decision) => void;
  onError?: (message: string) => void;
  /**
   * Where evidence bundles of pods go before a destructive action (default DATA_DIR/evidence;
   * none without a data directory). Signed with Central's evidence key (evidence-key.ts).
   */
  evidenceDir?: string;
}

function rec(v: unknown): Record<string, unknown> | undefined {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

/** The Falco alert an ingest event carries in finding.data (alertToFinding's shape), without the sender's verdict. */
export function alertOfEvent(e: IngestEvent, batch: EventBatch): Alert | undefined {
  const d = rec(e.finding?.data);
  const fields = rec(d?.output_fields);
  if (!d || typeof d.rule !== 'string' || typeof d.priority !== 'string' || !fields) return undefined;
  return {
    time: typeof d.time === 'string' ? d.time : e.time,
    rule: d.rule,
    priority: d.priority as Alert['priority'],
    source: typeof d.source === 'string' ? d.source : 'syscall',
    hostname: e.finding?.resource?.host ?? batch.source.host ?? batch.source.node ?? '',
    output: e.finding?.detail ?? '',
    output_fields: fields as Alert['output_fields'],
    tags: Array.isArray(d.tags) ? d.tags.filter((t): t is string => typeof t === 'string') : [],
  };
}

export class CentralResponse {
  /** Per cluster name: its responder (cooldowns and rate limits live there), or why there is none. */
  private readonly responders = new Map<string, Promise<Responder | string>>();
  private readonly pending = new Set<Promise<unknown>>();
  private readonly listener = (batch: EventBatch) => {
    const p = this.handle(batch).catch((e) => this.options.onError?.(`response: ${describeError(e)}`));
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  };

  constructor(private readonly ctx: CentralContext, private readonly options: CentralResponseOptions = {}) {}

  start(): this {
    this.ctx.events.on(EVENT_BATCH_NOTICE, this.listener);
    return this;
  }

  async stop(): Promise<void> {
    this.ctx.events.off(EVENT_BATCH_NOTICE, this.listener);
    await this.idle();
  }

  /** Resolves when every batch seen so far was decided and every action it started has finished and been stored. */
  async idle(): Promise<void> {
    while (this.pending.size) await Promise.allSettled([...this.pending]);
    for (const r of this.responders.values()) {
      const responder = await r;
      if (typeof responder !== 'string') await responder.idle();
    }
  }

  /** Judges one pushed batch's alerts and answers those whose policies ask for a cluster action. */
  async handle(batch: EventBatch): Promise<void> {
    const cluster = batch.source.cluster;
    // Only a sensor's live alerts: a replay is an analysis of the past, not something to act on now.
    if (!cluster || batch.source.kind !== 'sensor') return;
    const alerts = batch.events.filter((e) => e.type === 'alert');
    if (!alerts.length) return;
    const wanted: ResponseRequest[] = [];
    for (const e of alerts) {
      const alert = alertOfEvent(e, batch);
      if (!alert) continue;
      // Central's exceptions (accepted risks) hold here as they do for its violations.
      const verdict = evaluate({ kind: 'runtime', value: { alert, cluster } }, this.ctx.policies.set, { stage: 'runtime', now: this.ctx.now(), exceptions: this.ctx.policies.exceptions });
      if (!verdict.violations.length) continue;
      const policies = [...new Set(verdict.violations.map((v) => v.policy?.id ?? v.id))];
      const judged = { alert: { ...alert, gatehouse: { decision: verdict.decision, enforcement: verdict.enforcement, policies } }, violations: verdict.violations };
      wanted.push({ ...toRequest(judged), cluster, ref: e.id });
    }
    if (!wanted.length) return;
    const responder = await this.responderFor(cluster);
    if (typeof responder === 'string') {
      this.options.onError?.(responder);
      return;
    }
    for (const request of wanted) {
      for (const d of responder.respondTo(request)) this.options.onDecision?.(cluster, d);
    }
  }

  private responderFor(cluster: string): Promise<Responder | string> {
    let r = this.responders.get(cluster);
    if (!r) {
      r = this.makeResponder(cluster);
      this.responders.set(cluster, r);
      // A cluster Central does not know (yet) is looked up again next time.
      void r.then((x) => { if (typeof x === 'string') this.responders.delete(cluster); });
    }
    return r;
  }

  private async makeResponder(cluster: string): Promise<Responder | string> {
    const source = await this.ctx.db.selectFrom('sources').select('config').where('kind', '=', 'cluster').where('name', '=', cluster).executeTakeFirst();
    if (!source) return `response: alerts from cluster ${cluster}, which Central does not know (gatehouse cluster add ${cluster} …): no action`;
    let api: KubeApi;
    try {
      api = new KubeApi(kubeConfigOf(JSON.parse(this.ctx.secrets.open(source.config)) as ClusterConfig));
    } catch (e) {
      return `response: cluster ${cluster}: ${describeError(e)}`;
    }
    const o = this.options;
    const evidenceDir = o.evidenceDir ?? (this.ctx.dataDir ? join(this.ctx.dataDir, 'evidence') : undefined);
    return clusterResponder({
      api,
      audit: new StoreAuditSink(this.ctx.db, cluster, () => this.ctx.events.emit('response-actions')),
      responder: {
        ...(evidenceDir ? { evidence: podEvidenceCapture({ dir: evidenceDir, api, signingKey: centralEvidenceKey(evidenceDir), now: this.ctx.now }) } : {}),
        clock: () => this.ctx.now().getTime(),
        ...(o.dryRun ? { dryRun: true } : {}),
        ...(o.cooldownMs !== undefined ? { cooldownMs: o.cooldownMs } : {}),
        ...(o.killSwitchFile ? { killSwitch: { file: o.killSwitchFile } } : {}),
        ...(o.neverTouch ? { neverTouch: o.neverTouch } : {}),
        ...(o.perTarget ? { perTarget: o.perTarget } : {}),
        ...(o.perPolicy ? { perPolicy: o.perPolicy } : {}),
      },
    });
  }
}

/** The response as one of Central's background jobs (every instance runs it: each answers the batches it ingests). */
export function centralResponseJob(options: CentralResponseOptions = {}): CentralJob {
  return async function centralResponse(ctx, signal, tools) {
    const service = new CentralResponse(ctx, {
      onError: (message) => tools.log.warn({ message }, 'response'),
      onDecision: (cluster, d) => {
        if (d.kind === 'acting') tools.log.info({ cluster, action: d.enforcement, target: d.target, policies: d.policies }, 'response action');
      },
      ...options,
    }).start();
    await new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true })));
    await service.stop();
  };
}
