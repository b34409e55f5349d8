/**
 * Triggers: the one entry point `respondTo(alertLike)` for alerts judged by runtime
 * policies (and, with the same shape, anomaly alerts, drift alerts and incidents). Each
 * enforcement a violated policy asks for (`kill`, `pause`, `stop`, `isolate`,
 * `scale-to-zero`, `label`) becomes an action from the injected action set, after these
 * guards, in order:
 *   1. the global kill switch (a flag set in code, or a file whose presence stops every action);
 *   2. never-touch namespaces, workloads and images (kube-system and Gatehouse itself by default);
 *   3. the cooldown: one action per target and action per cooldown period (an alert storm
 *      gives one action, not thousands);
 *   4. rate limits per target and per policy (at most N actions in a sliding window).
 * The decision is taken synchronously when the alert arrives — the cooldown slot is taken
 * before any await — so alerts arriving while an action is in flight never start a second
 * one. Time comes from an injected clock. Suppressed alerts are counted, not audited one by
 * one; refusals (kill switch, never-touch, rate limit) are audited once per target, action
 * and cooldown period; every attempted action is audited by runAction.
 */
import { existsSync } from 'node:fs';
import type { Enforcement } from '../policy/types.js';
import { globMatcher } from '../util/glob.js';
import { describeError } from '../util/errors.js';
import type { ActionSet } from './action-sets.js';
import type { AuditSink } from './audit.js';
import { resultNotice, type Notifier } from './notify/notice.js';
import { toRequest, type AlertLike, type ResponseRequest } from './request.js';
import { runAction } from './run.js';
import { targetKey, type ActionResult, type EvidenceCapture, type ResponseTarget, type Trigger } from './types.js';

/** The runtime enforcement values the responder carries out (`block` belongs to the engine proxy). */
export const RESPONSE_ENFORCEMENTS: readonly Enforcement[] = ['kill', 'stop', 'pause', 'isolate', 'scale-to-zero', 'label'];

export interface RateLimit {
  max: number;
  windowMs: number;
}

export interface NeverTouch {
  /** Namespace globs (default kube-system, kube-public, gatehouse, gatehouse-system). */
  namespaces?: string[];
  /** Pod or container name globs (default gatehouse, gatehouse-*). */
  workloads?: string[];
  /** Image globs (default Gatehouse's own images). */
  images?: string[];
}

export const DEFAULT_NEVER_TOUCH: Required<NeverTouch> = {
  namespaces: ['kube-system', 'kube-public', 'gatehouse', 'gatehouse-system'],
  workloads: ['gatehouse', 'gatehouse-*'],
  images: ['gatehouse', 'gatehouse:*', 'gatehouse@*', '**/gatehouse', '**/gatehouse:*', '**/gatehouse@*'],
};

export interface ResponderOptions {
  actions: ActionSet;
  /** Milliseconds since the epoch (tests inject a fake clock). */
  clock?: () => number;
  /** One action per target and action in this period (default 5 minutes). */
  cooldownMs?: number;
  /** Actions per target (default 10 an hour). */
  perTarget?: RateLimit;
  /** Actions per policy (default 100 an hour). */
  perPolicy?: RateLimit;
  killSwitch?: { file?: string; engaged?: boolean };
  /** Replaces the defaults when given; list the defaults too to extend them. */
  neverTouch?: NeverTouch;
  audit?: AuditSink;
  evidence?: EvidenceCapture;
  requireEvidence?: boolean;
  notifiers?: Notifier[];
  dryRun?: boolean;
  /** Who acts (the audit record's trigger.by for policy-driven actions): `sensor`, `central`, … */
  component?: string;
  /** Called with every decision (acted or not): for logs and tests. */
  onDecision?: (d: Decision) => void;
  /** Called when a notifier fails (the response itself goes on). */
  onNotifyError?: (notifier: string, error: string) => void;
}

export type Decision =
  | { kind: 'acting'; enforcement: Enforcement; target: ResponseTarget; policies: string[]; result: Promise<ActionResult> }
  | { kind: 'suppressed'; enforcement: Enforcement; reason: SuppressReason; detail: string; target?: ResponseTarget; policies: string[] };

export type SuppressReason = 'kill-switch' | 'never-touch' | 'cooldown' | 'rate-target' | 'rate-policy' | 'unsupported';

export interface ResponderStats {
  requests: number;
  acted: number;
  suppressed: Record<SuppressReason, number>;
}

class Window {
  private readonly times = new Map<string, number[]>();
  constructor(private readonly limit: RateLimit) {}
  allows(key: string, now: number): boolean {
    const list = this.prune(key, now);
    return list.length < this.limit.max;
  }
  take(key: string, now: number): void {
    if (this.times.size >= 50_000) for (const k of [...this.times.keys()]) this.prune(k, now);
    const list = this.prune(key, now);
    list.push(now);
    this.times.set(key, list);
  }
  private prune(key: string, now: number): number[] {
    const list = this.times.get(key) ?? [];
    while (list.length && list[0]! <= now - this.limit.windowMs) list.shift();
    if (list.length === 0) this.times.delete(key);
    return list;
  }
}

export class Responder {
  readonly stats: ResponderStats = {
    requests: 0,
    acted: 0,
    suppressed: { 'kill-switch': 0, 'never-touch': 0, cooldown: 0, 'rate-target': 0, 'rate-policy': 0, unsupported: 0 },
  };
  private readonly clock: () => number;
  private readonly cooldownMs: number;
  private readonly perTarget: Window;
  private readonly perPolicy: Window;
  private readonly lastAction = new Map<string, number>();
  private readonly lastRefusal = new Map<string, number>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private switchEngaged: boolean;
  private switchCheckedAt = -Infinity;
  private switchFilePresent = false;
  private readonly never: { ns: (s: string) => boolean; workload: (s: string) => boolean; image: (s: string) => boolean };

  constructor(private readonly opts: ResponderOptions) {
    this.clock = opts.clock ?? Date.now;
    this.cooldownMs = opts.cooldownMs ?? 300_000;
    this.perTarget = new Window(opts.perTarget ?? { max: 10, windowMs: 3_600_000 });
    this.perPolicy = new Window(opts.perPolicy ?? { max: 100, windowMs: 3_600_000 });
    this.switchEngaged = opts.killSwitch?.engaged ?? false;
    const nt = opts.neverTouch ?? DEFAULT_NEVER_TOUCH;
    const m = (globs: string[] | undefined) => (globs?.length ? globMatcher(globs) : () => false);
    this.never = { ns: m(nt.namespaces), workload: m(nt.workloads), image: m(nt.images) };
  }

  /** Engages (true) or releases (false) the in-process kill switch; the file switch is separate. */
  setKillSwitch(engaged: boolean): void {
    this.switchEngaged = engaged;
  }

  /** True when no action may run: the flag is set, or the kill-switch file exists (checked at most once a second). */
  killSwitchEngaged(): boolean {
    if (this.switchEngaged) return true;
    const file = this.opts.killSwitch?.file;
    if (!file) return false;
    const now = this.clock();
    if (now - this.switchCheckedAt >= 1000 || now < this.switchCheckedAt) {
      this.switchFilePresent = existsSync(file);
      this.switchCheckedAt = now;
    }
    return this.switchFilePresent;
  }

  /**
   * Answers an alert (or anomaly, drift alert, incident): the decisions are made now; the
   * actions run in the background and each decision's `result` resolves when it is done.
   */
  respondTo(input: AlertLike): Decision[] {
    const req = toRequest(input);
    this.stats.requests++;
    const decisions: Decision[] = [];
    // Each enforcement once per request, on behalf of every policy that asked for it.
    const wanted = new Map<Enforcement, string[]>();
    for (const p of req.policies) {
      for (const e of p.enforcement) {
        if (!RESPONSE_ENFORCEMENTS.includes(e)) continue;
        const list = wanted.get(e) ?? [];
        list.push(p.id);
        wanted.set(e, list);
      }
    }
    for (const [e, policies] of wanted) decisions.push(this.decide(e, policies, req));
    for (const d of decisions) this.opts.onDecision?.(d);
    return decisions;
  }

  /** Resolves when every action started so far has finished (and been audited and notified). */
  async idle(): Promise<void> {
    while (this.inFlight.size) await Promise.allSettled([...this.inFlight]);
  }

  private decide(e: Enforcement, policies: string[], req: ResponseRequest): Decision {
    const now = this.clock();
    const suppressed = (reason: SuppressReason, detail: string, target?: ResponseTarget): Decision => {
      this.stats.suppressed[reason]++;
      if (target && reason !== 'cooldown') this.auditRefusal(e, target, policies, req, reason, detail, now);
      return { kind: 'suppressed', enforcement: e, reason, detail, ...(target ? { target } : {}), policies };
    };
    const resolved = this.opts.actions.resolve(e, req);
    if (resolved === undefined) return suppressed('unsupported', `${e} is not carried out here`);
    if (typeof resolved === 'string') return suppressed('unsupported', resolved);
    const { action, target } = resolved;
    if (this.killSwitchEngaged()) return suppressed('kill-switch', `the response kill switch is engaged${this.opts.killSwitch?.file ? ` (${this.opts.killSwitch.file})` : ''}: no action runs`, target);
    const protectedBy = this.protectedBy(req);
    if (protectedBy) return suppressed('never-touch', `${protectedBy} is never touched`, target);
    const tKey = targetKey(target);
    const cKey = `${tKey}\u0000${action.name}`;
    const last = this.lastAction.get(cKey);
    if (last !== undefined && now - last < this.cooldownMs) return suppressed('cooldown', `${action.name} ran on this target ${Math.round((now - last) / 1000)} s ago (cooldown ${Math.round(this.cooldownMs / 1000)} s)`);
    if (!this.perTarget.allows(tKey, now)) return suppressed('rate-target', `rate limit: this target had its maximum of actions in the window`, target);
    const overPolicy = policies.find((p) => !this.perPolicy.allows(p, now));
    if (overPolicy) return suppressed('rate-policy', `rate limit: policy ${overPolicy} had its maximum of actions in the window`, target);
    // Take the slot before anything asynchronous happens.
    if (this.lastAction.size >= 50_000) this.forgetOlderThan(now - this.cooldownMs);
    this.lastAction.set(cKey, now);
    this.perTarget.take(tKey, now);
    for (const p of policies) this.perPolicy.take(p, now);
    this.stats.acted++;
    const trigger = this.trigger(policies, req);
    const result = this.run(action, target, trigger, req);
    return { kind: 'acting', enforcement: e, target, policies, result };
  }

  /** Keeps the cooldown maps bounded: entries past their cooldown decide nothing any more. */
  private forgetOlderThan(limit: number): void {
    for (const m of [this.lastAction, this.lastRefusal]) for (const [k, t] of m) if (t < limit) m.delete(k);
  }

  private trigger(policies: string[], req: ResponseRequest): Trigger {
    return {
      by: this.opts.component ?? 'policy',
      policies,
      ...(req.incident ? { incident: req.incident } : {}),
      ...(req.ref ? { ref: req.ref } : {}),
      ...(req.alert || req.time ? { alert: { rule: req.name, time: req.time ?? req.alert?.time ?? '', source: req.source } } : {}),
    };
  }

  private run(action: Parameters<typeof runAction>[0], target: ResponseTarget, trigger: Trigger, req: ResponseRequest): Promise<ActionResult> {
    const p = (async () => {
      const result = await runAction(action, target, {
        trigger,
        dryRun: this.opts.dryRun ?? false,
        ...(this.opts.audit ? { audit: this.opts.audit } : {}),
        ...(this.opts.evidence ? { evidence: this.opts.evidence } : {}),
        ...(this.opts.requireEvidence ? { requireEvidence: true } : {}),
        now: () => new Date(this.clock()),
        ...(req.alert ? { events: [req.alert] } : {}),
      }).catch((e: unknown): ActionResult => ({ action: action.name, target, outcome: 'failed', detail: describeError(e) }));
      await this.notify(result, trigger, req);
      return result;
    })();
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
    return p;
  }

  private async notify(result: ActionResult, trigger: Trigger, req: ResponseRequest): Promise<void> {
    const list = this.opts.notifiers ?? [];
    if (!list.length) return;
    const notice = resultNotice(result, trigger, new Date(this.clock()), req.alert);
    await Promise.all(
      list.map((n) => n.send(notice).catch((e: unknown) => this.opts.onNotifyError?.(n.name, describeError(e)))),
    );
  }

  private auditRefusal(e: Enforcement, target: ResponseTarget, policies: string[], req: ResponseRequest, reason: SuppressReason, detail: string, now: number): void {
    if (!this.opts.audit) return;
    const key = `${targetKey(target)}\u0000${e}\u0000${reason}`;
    if (this.lastRefusal.size >= 50_000) this.forgetOlderThan(now - this.cooldownMs);
    const last = this.lastRefusal.get(key);
    if (last !== undefined && now - last < this.cooldownMs) return;
    this.lastRefusal.set(key, now);
    const p = this.opts.audit
      .append({ time: new Date(now).toISOString(), action: e, target, trigger: this.trigger(policies, req), dryRun: this.opts.dryRun ?? false, outcome: 'refused', detail, data: { reason }, durationMs: 0 })
      .catch(() => undefined);
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  /** Why the request's target is never touched, or undefined. */
  private protectedBy(req: ResponseRequest): string | undefined {
    const ns = req.pod?.namespace;
    if (ns && this.never.ns(ns)) return `namespace ${ns}`;
    if (req.pod && this.never.workload(req.pod.name)) return `workload ${req.pod.name}`;
    if (req.container?.name && this.never.workload(req.container.name)) return `container ${req.container.name}`;
    if (req.container?.image && this.never.image(req.container.image)) return `image ${req.container.image}`;
    return undefined;
  }
}
