/**
 * Kubernetes audit input: the audit.k8s.io/v1 EventList the apiserver's webhook backend
 * posts, or its log backend's file (one Event per line).
 */
import { UserError } from '../../util/errors.js';
import type { AuditEvent } from './types.js';

function isEvent(v: unknown): v is AuditEvent {
  const e = v as Record<string, unknown> | null;
  return !!e && typeof e === 'object' && typeof e.auditID === 'string' && typeof e.stage === 'string' && typeof e.verb === 'string' && typeof e.requestURI === 'string';
}

/** The events of an EventList (or of one Event); anything else is a UserError. */
export function auditEventsOf(body: unknown): AuditEvent[] {
  const b = body as Record<string, unknown> | null;
  if (b && typeof b === 'object' && b.kind === 'EventList' && Array.isArray(b.items)) {
    b.items.forEach((e, i) => {
      if (!isEvent(e)) throw new UserError(`audit EventList item ${i} is not an audit.k8s.io/v1 Event (needs auditID, stage, verb, requestURI)`, 'bad-audit');
    });
    return b.items as AuditEvent[];
  }
  if (isEvent(b)) return [b];
  throw new UserError('not an audit.k8s.io/v1 EventList or Event', 'bad-audit');
}

/** The events of an audit log file (the log backend's JSON lines); a bad line is an error naming it. */
export function auditLogEvents(text: string): AuditEvent[] {
  const out: AuditEvent[] = [];
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      throw new UserError(`audit log line ${i + 1} is not JSON`, 'bad-audit');
    }
    if (!isEvent(v)) throw new UserError(`audit log line ${i + 1} is not an audit.k8s.io/v1 Event`, 'bad-audit');
    out.push(v);
  });
  return out;
}
