/**
 * What a notifier sends: one notice per response (an action's result) or per alert. Every
 * channel (webhook, Slack-compatible webhook, syslog, Falco JSON lines) renders this one shape.
 */
import { hostname } from 'node:os';
import type { Alert } from '../../runtime/alerts/alert.js';
import { isoNs } from '../../runtime/alerts/alert.js';
import type { Priority } from '../../runtime/rules/priority.js';
import { describeTarget, type ActionResult, type Trigger } from '../types.js';

export interface Notice {
  time: Date;
  /** Falco's priority scale (it maps one to one onto syslog severities). */
  priority: Priority;
  title: string;
  text: string;
  result?: ActionResult;
  trigger?: Trigger;
  /** The alert behind it, as Falco's JSON. */
  alert?: Alert;
}

export interface Notifier {
  readonly name: string;
  send(notice: Notice): Promise<void>;
  close?(): Promise<void>;
}

/** The notice for an action's result. */
export function resultNotice(result: ActionResult, trigger: Trigger, time: Date, alert?: Alert): Notice {
  const priority: Priority = result.outcome === 'failed' ? 'Error' : result.outcome === 'done' ? 'Warning' : 'Notice';
  const why = trigger.policies?.length ? ` (policy ${trigger.policies.join(', ')})` : trigger.incident ? ` (incident ${trigger.incident})` : trigger.user ? ` (by ${trigger.user})` : '';
  return {
    time,
    priority,
    title: `Gatehouse response: ${result.action} ${result.outcome}`,
    text: `${result.action} ${describeTarget(result.target)}: ${result.outcome}: ${result.detail}${why}`,
    result,
    trigger,
    ...(alert ? { alert } : {}),
  };
}

/** The notice as a Falco alert (rule `Gatehouse response`, source `gatehouse`) when it carries none. */
export function noticeAsAlert(n: Notice, host = hostname()): Alert {
  if (n.alert && !n.result) return n.alert;
  const time = isoNs(BigInt(n.time.getTime()) * 1_000_000n);
  const fields: Alert['output_fields'] = {
    'gatehouse.action': n.result?.action ?? null,
    'gatehouse.outcome': n.result?.outcome ?? null,
    'gatehouse.target': n.result ? describeTarget(n.result.target) : null,
    'gatehouse.policies': n.trigger?.policies?.join(',') ?? null,
    'gatehouse.incident': n.trigger?.incident ?? null,
    'gatehouse.alert.rule': n.alert?.rule ?? n.trigger?.alert?.rule ?? null,
  };
  if (n.result?.target.type === 'container') fields['container.id'] = n.result.target.container;
  if (n.result?.target.type === 'kube') {
    fields['k8s.ns.name'] = n.result.target.namespace ?? null;
    if (n.result.target.kind === 'Pod') fields['k8s.pod.name'] = n.result.target.name;
  }
  return {
    time,
    rule: 'Gatehouse response',
    priority: n.priority,
    source: 'gatehouse',
    hostname: host,
    output: `${time.slice(11, 29)}: ${n.priority} ${n.text}`,
    output_fields: fields,
    tags: ['gatehouse', 'response'],
  };
}

/** The JSON a generic webhook receives. */
export function noticeJson(n: Notice): Record<string, unknown> {
  return {
    time: n.time.toISOString(),
    priority: n.priority,
    title: n.title,
    text: n.text,
    ...(n.result ? { action: n.result.action, outcome: n.result.outcome, target: n.result.target, detail: n.result.detail, ...(n.result.evidence ? { evidence: n.result.evidence } : {}) } : {}),
    ...(n.trigger ? { trigger: n.trigger } : {}),
    ...(n.alert ? { alert: n.alert } : {}),
  };
}
