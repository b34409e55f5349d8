/**
 * What the response engine answers: an alert judged by runtime policies, an anomaly alert,
 * an incident or a drift alert — all brought to one `ResponseRequest` (who is affected,
 * which policies ask for which enforcement). `respondTo` accepts any of these shapes.
 */
import type { Finding } from '../findings/finding.js';
import { enforcementOf } from '../policy/evaluate.js';
import type { Enforcement } from '../policy/types.js';
import type { Alert } from '../runtime/alerts/alert.js';
import type { JudgedAlert } from '../runtime/alerts/verdict.js';
import type { RuntimeEvent } from '../runtime/event.js';
import { alertResource } from '../runtime/subject.js';
import { UserError } from '../util/errors.js';

export interface ResponseRequest {
  /** What raised it. */
  source: 'alert' | 'anomaly' | 'incident' | 'drift';
  /** The rule, anomaly or incident name. */
  name: string;
  /** ISO time of the event behind it. */
  time?: string;
  container?: { id: string; name?: string; image?: string };
  pod?: { namespace?: string; name: string };
  host?: string;
  cluster?: string;
  /** The policies that were violated, each with the enforcement it asks for. */
  policies: { id: string; enforcement: readonly Enforcement[] }[];
  incident?: string;
  /** The id of the record behind it where it was stored (Central's ingest event id), for the audit trail. */
  ref?: string;
  /** Host process id (the sensor's proc.pid) and in-container id (proc.vpid), when known. */
  process?: { hostPid?: number; pid?: number };
  alert?: Alert;
}

/** An alert as the sensor, `runtime replay` or Falco emit it, with its policy verdict. */
export type AlertLike = ResponseRequest | JudgedAlert | (JudgedAlert & { event?: RuntimeEvent }) | Alert;

function isRequest(x: AlertLike): x is ResponseRequest {
  return typeof (x as ResponseRequest).source === 'string' && Array.isArray((x as ResponseRequest).policies);
}

function isJudged(x: AlertLike): x is JudgedAlert & { event?: RuntimeEvent } {
  return typeof (x as JudgedAlert).alert === 'object' && Array.isArray((x as JudgedAlert).violations);
}

const num = (v: unknown): number | undefined => {
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : undefined;
  return n !== undefined && Number.isSafeInteger(n) && n > 0 ? n : undefined;
};

export function toRequest(input: AlertLike): ResponseRequest {
  if (isRequest(input)) return input;
  let alert: Alert;
  let violations: readonly Finding[] | undefined;
  let event: RuntimeEvent | undefined;
  if (isJudged(input)) {
    alert = input.alert;
    violations = input.violations;
    event = input.event;
  } else if (typeof (input as Alert).rule === 'string' && typeof (input as Alert).output_fields === 'object') {
    alert = input as Alert;
  } else {
    throw new UserError('not an alert, a judged alert or a response request', 'bad-input');
  }
  const policies: ResponseRequest['policies'] = [];
  if (violations?.length) {
    const byId = new Map<string, Set<Enforcement>>();
    for (const v of violations) {
      const id = v.policy?.id ?? v.id;
      const set = byId.get(id) ?? new Set<Enforcement>();
      for (const e of enforcementOf(v)) set.add(e);
      byId.set(id, set);
    }
    for (const [id, set] of byId) policies.push({ id, enforcement: [...set] });
  } else if (alert.gatehouse?.policies.length) {
    // Falco-JSON alerts carry the merged verdict only: each policy is counted for all of it.
    for (const id of alert.gatehouse.policies) policies.push({ id, enforcement: alert.gatehouse.enforcement });
  }
  const resource = alertResource(alert, event);
  const f = alert.output_fields;
  const hostPid = num(event?.['proc.pid'] ?? f['proc.pid']);
  const pid = num(event?.['proc.vpid'] ?? f['proc.vpid']);
  return {
    source: alert.source === 'anomaly' ? 'anomaly' : alert.source === 'drift' ? 'drift' : 'alert',
    name: alert.rule,
    time: alert.time,
    ...(resource.container ? { container: resource.container } : {}),
    ...(resource.k8s ? { pod: { ...(resource.k8s.namespace ? { namespace: resource.k8s.namespace } : {}), name: resource.k8s.name } } : {}),
    host: alert.hostname,
    policies,
    ...(hostPid || pid ? { process: { ...(hostPid ? { hostPid } : {}), ...(pid ? { pid } : {}) } } : {}),
    alert,
  };
}
