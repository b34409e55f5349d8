/**
 * Alerts in Falco's JSON output format: time, rule, priority, source, hostname, output
 * (the rule's output with %field substituted, prefixed by time and priority as Falco does),
 * output_fields and tags.
 */
import { hostname as osHostname } from 'node:os';
import type { FieldValue, RuntimeEvent } from '../event.js';
import type { Finding } from '../../findings/finding.js';
import { withFingerprint } from '../../findings/fingerprint.js';
import { readField, type FieldRegistry } from '../rules/fields.js';
import { prioritySeverity, type Priority } from '../rules/priority.js';
import type { AlertVerdict } from './verdict.js';
import { alertResource } from '../subject.js';

export interface Alert {
  time: string;
  rule: string;
  priority: Priority;
  source: string;
  hostname: string;
  output: string;
  output_fields: Record<string, string | number | boolean | null>;
  tags: string[];
  /** The policy verdict, when runtime policies were given (src/runtime/alerts/verdict.ts). */
  gatehouse?: AlertVerdict;
}

const FIELD_REF = /%([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)+)(\[[^\]]*\])?/g;

/** A compiled output template: the fields it names and a formatter. */
export interface OutputTemplate {
  fields: Array<{ key: string; name: string; arg?: string }>;
  render(ev: RuntimeEvent): { text: string; fields: Alert['output_fields'] };
}

function jsonValue(v: FieldValue | undefined): string | number | boolean | null {
  if (v === undefined || v === null) return null;
  if (typeof v === 'bigint') return Number(v);
  if (Array.isArray(v)) return v.join(',');
  return v;
}

export function compileOutput(template: string, registry: FieldRegistry): OutputTemplate {
  const fields: OutputTemplate['fields'] = [];
  for (const m of template.matchAll(FIELD_REF)) {
    const name = m[1]!;
    const arg = m[2] ? m[2].slice(1, -1) : undefined;
    fields.push({ key: `${name}${m[2] ?? ''}`, name, ...(arg !== undefined ? { arg } : {}) });
  }
  return {
    fields,
    render(ev) {
      const values: Alert['output_fields'] = {};
      for (const f of fields) values[f.key] = jsonValue(readField(registry.lookup(f.name), ev, f.name, f.arg));
      const text = template.replace(FIELD_REF, (_all, name: string, idx: string | undefined) => {
        const v = values[`${name}${idx ?? ''}`];
        return v === null || v === undefined ? '<NA>' : String(v);
      });
      return { text, fields: values };
    },
  };
}

/** Event time in ns: the source's evt.rawtime/evt.outputtime, else now. */
export function eventTimeNs(ev: RuntimeEvent): bigint {
  const t = ev['evt.rawtime'] ?? ev['evt.outputtime'];
  if (typeof t === 'bigint') return t;
  if (typeof t === 'number') return BigInt(Math.round(t));
  if (typeof t === 'string' && /^\d+$/.test(t)) return BigInt(t);
  return BigInt(Date.now()) * 1_000_000n;
}

/** ISO time with nanoseconds, as Falco's JSON `time`. */
export function isoNs(ns: bigint): string {
  const ms = Number(ns / 1_000_000n);
  const frac = (ns % 1_000_000_000n).toString().padStart(9, '0');
  return `${new Date(ms).toISOString().slice(0, 19)}.${frac}Z`;
}

let cachedHost: string | undefined;
export function defaultHostname(): string {
  cachedHost ??= osHostname();
  return cachedHost;
}

export function makeAlert(
  rule: { name: string; priority: Priority; source: string; tags: string[] },
  template: OutputTemplate,
  ev: RuntimeEvent,
  host = defaultHostname(),
): Alert {
  const ns = eventTimeNs(ev);
  const { text, fields } = template.render(ev);
  const time = isoNs(ns);
  return {
    time,
    rule: rule.name,
    priority: rule.priority,
    source: rule.source,
    hostname: typeof ev['evt.hostname'] === 'string' ? ev['evt.hostname'] : host,
    output: `${time.slice(11, 29)}: ${rule.priority} ${text}`,
    output_fields: fields,
    tags: rule.tags,
  };
}

/**
 * The shared Finding shape for an alert (kind runtime, fingerprinted by rule and container
 * or host). The container comes from the output fields, else from the event that raised it.
 */
export function alertToFinding(a: Alert, event?: RuntimeEvent): Finding {
  return withFingerprint({
    id: a.rule,
    kind: 'runtime',
    severity: prioritySeverity(a.priority),
    title: a.rule,
    detail: a.output,
    resource: alertResource(a, event),
    data: { rule: a.rule, priority: a.priority, source: a.source, time: a.time, output_fields: a.output_fields, tags: a.tags, ...(a.gatehouse ? { gatehouse: a.gatehouse } : {}) },
  });
}
