/**
 * Runtime policies over alerts: every alert is evaluated against a compiled policy set
 * (compiled once by the caller) at stage `runtime`, and carries the verdict under a
 * `gatehouse` key — decision, the enforcement actions to take and the violated policy ids
 * — so the response engine (and any webhook consumer) can act on it. No decision is made
 * here: this only calls evaluate().
 */
import type { Finding } from '../../findings/finding.js';
import { evaluate, type Decision, type PolicySet } from '../../policy/evaluate.js';
import type { Enforcement } from '../../policy/types.js';
import type { RuntimeEvent } from '../event.js';
import type { Alert } from './alert.js';

/** What an alert carries after evaluation (the `gatehouse` key of its JSON). */
export interface AlertVerdict {
  decision: Decision;
  enforcement: Enforcement[];
  /** Violated policy ids, in pack order. */
  policies: string[];
}

export interface JudgedAlert {
  alert: Alert & { gatehouse: AlertVerdict };
  /** One Finding per violated policy (kind runtime, fingerprinted). */
  violations: Finding[];
}

export interface AlertJudgeOptions {
  /** Cluster name for scope.clusters. */
  cluster?: string;
  /** Clock for exception expiry (tests). */
  now?: () => Date;
  /** Report decisions as warnings (audit mode). */
  informOnly?: boolean;
}

export class AlertJudge {
  readonly counts: Record<Decision, number> = { allow: 0, warn: 0, deny: 0 };

  constructor(private readonly set: PolicySet, private readonly opts: AlertJudgeOptions = {}) {}

  judge(alert: Alert, event?: RuntimeEvent): JudgedAlert {
    const verdict = evaluate(
      { kind: 'runtime', value: { alert, ...(event ? { event } : {}), ...(this.opts.cluster ? { cluster: this.opts.cluster } : {}) } },
      this.set,
      { stage: 'runtime', ...(this.opts.now ? { now: this.opts.now() } : {}), ...(this.opts.informOnly ? { informOnly: true } : {}) },
    );
    this.counts[verdict.decision]++;
    const policies = [...new Set(verdict.violations.map((v) => v.policy?.id ?? v.id))];
    return {
      alert: { ...alert, gatehouse: { decision: verdict.decision, enforcement: verdict.enforcement, policies } },
      violations: verdict.violations,
    };
  }
}
