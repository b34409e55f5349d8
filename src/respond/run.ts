/**
 * Runs one action the same way for every action: read the target's state (`plan`), answer
 * `already` when there is nothing to do, describe it in a dry run, capture evidence before a
 * destructive change, apply, and append one audit record whatever happened.
 */
import { describeError, isUserError } from '../util/errors.js';
import type { AuditSink } from './audit.js';
import type { ActionContext, ActionResult, EvidenceCapture, ResponseAction, ResponseTarget, Trigger } from './types.js';

export interface RunOptions {
  dryRun?: boolean;
  trigger: Trigger;
  audit?: AuditSink;
  evidence?: EvidenceCapture;
  /** Refuse a destructive action when evidence capture fails (default: record the failure and go on). */
  requireEvidence?: boolean;
  signal?: AbortSignal;
  /** The alerts or events behind the action, handed to the evidence capture. */
  events?: unknown[];
  /** Wall clock for records (tests inject one). */
  now?: () => Date;
}

export async function runAction<T extends ResponseTarget>(action: ResponseAction<T>, target: T, opts: RunOptions): Promise<ActionResult> {
  const now = opts.now ?? (() => new Date());
  const started = now().getTime();
  const ctx: ActionContext = { dryRun: opts.dryRun ?? false, trigger: opts.trigger, ...(opts.signal ? { signal: opts.signal } : {}) };
  let result: ActionResult;
  let thrown: unknown;
  try {
    result = await execute(action, target, ctx, opts);
  } catch (e) {
    thrown = e;
    result = { action: action.name, target, outcome: 'failed', detail: describeError(e) };
  }
  if (opts.audit) {
    const end = now();
    await opts.audit.append({
      time: end.toISOString(),
      action: result.action,
      target,
      trigger: opts.trigger,
      dryRun: ctx.dryRun,
      outcome: result.outcome,
      detail: result.detail,
      ...(result.data ? { data: result.data } : {}),
      ...(result.evidence ? { evidence: result.evidence } : {}),
      durationMs: end.getTime() - started,
    });
  }
  // Bad input (no such container, malformed target) is the caller's one-line error; a
  // failure of the engine is a `failed` result.
  if (thrown && isUserError(thrown)) throw thrown;
  return result;
}

async function execute<T extends ResponseTarget>(action: ResponseAction<T>, target: T, ctx: ActionContext, opts: RunOptions): Promise<ActionResult> {
  const plan = await action.plan(target, ctx);
  if (plan.state === 'already') return { action: action.name, target, outcome: 'already', detail: plan.detail, ...(plan.data ? { data: plan.data } : {}) };
  if (plan.state === 'refused') return { action: action.name, target, outcome: 'refused', detail: plan.detail };
  if (ctx.dryRun) return { action: action.name, target, outcome: 'dry-run', detail: `would ${plan.detail}`, ...(plan.data ? { data: plan.data } : {}) };
  let evidence: string | undefined;
  let evidenceError: string | undefined;
  if (action.destructive && opts.evidence) {
    try {
      evidence = (await opts.evidence({ target, action: action.name, trigger: ctx.trigger, ...(opts.events ? { events: opts.events } : {}) }))?.location;
    } catch (e) {
      evidenceError = describeError(e);
      if (opts.requireEvidence) return { action: action.name, target, outcome: 'refused', detail: `evidence capture failed, and evidence is required: ${evidenceError}` };
    }
  }
  const done = await plan.apply();
  const data = { ...plan.data, ...done.data, ...(evidenceError ? { evidenceError } : {}) };
  return { action: action.name, target, outcome: 'done', detail: done.detail, ...(Object.keys(data).length ? { data } : {}), ...(evidence ? { evidence } : {}) };
}
