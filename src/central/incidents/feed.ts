/** What Central ingests, as correlator inputs: alert and decision batches (ingest/events) become alerts and denials. */
import type { EventBatch, IngestEvent } from '../client/ingest-types.js';
import type { CorrelationInput, FalcoAlert } from '../../runtime/incidents/types.js';
import type { Severity } from '../../findings/finding.js';

function rec(v: unknown): Record<string, unknown> | undefined {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v ? v : undefined;
}

/**
 * An alert event carries its Falco alert in `finding.data` (src/runtime/alerts/alert.ts's
 * alertToFinding: rule, priority, source, time, output_fields, tags); the host is the
 * finding's resource host or the batch's.
 */
function alertOf(e: IngestEvent, source: EventBatch['source']): FalcoAlert | undefined {
  const d = rec(e.finding?.data);
  const rule = str(d?.rule);
  const priority = str(d?.priority);
  if (!d || !rule || !priority) return undefined;
  const fields = rec(d.output_fields) ?? {};
  const host = str(e.finding?.resource?.host) ?? source.host ?? source.node;
  return {
    time: str(d.time) ?? e.time, rule, priority, ...(str(d.source) ? { source: str(d.source)! } : {}), ...(host ? { hostname: host } : {}),
    ...(e.finding?.detail ? { output: e.finding.detail } : {}),
    output_fields: fields as FalcoAlert['output_fields'],
    tags: Array.isArray(d.tags) ? d.tags.filter((t): t is string => typeof t === 'string') : [],
  };
}

export function batchInputs(batch: EventBatch): CorrelationInput[] {
  const out: CorrelationInput[] = [];
  const cluster = batch.source.cluster;
  for (const e of batch.events) {
    if (e.type === 'alert' && (batch.source.kind === 'sensor' || batch.source.kind === 'runtime-replay')) {
      const alert = alertOf(e, batch.source);
      const host = alert?.hostname;
      if (alert) out.push({ kind: 'alert', id: e.id, alert, ...(cluster ? { cluster } : {}), ...(host ? { host } : {}) });
      continue;
    }
    const d = rec(e.data) ?? {};
    if (e.type === 'decision' && d.decision === 'deny' && (batch.source.kind === 'admission' || batch.source.kind === 'engine-proxy')) {
      const host = batch.source.host ?? batch.source.node;
      const name = str(d.name) ?? str(d.container);
      out.push({
        kind: 'denial', id: e.id, ...(cluster ? { cluster } : {}),
        denial: {
          time: e.time, layer: batch.source.kind, rule: e.finding?.policy?.id ?? e.finding?.id ?? str(d.rule) ?? 'denied',
          severity: (e.finding?.severity ?? 'MEDIUM') as Severity,
          ...(str(d.message) ? { message: str(d.message)! } : {}), ...(str(d.namespace) ? { namespace: str(d.namespace)! } : {}), ...(name ? { name } : {}),
          ...(str(d.kind) ? { kind: str(d.kind)! } : {}), ...(str(d.user) ?? str(d.caller) ? { user: (str(d.user) ?? str(d.caller))! } : {}), ...(host ? { host } : {}),
        },
      });
    }
  }
  return out;
}
