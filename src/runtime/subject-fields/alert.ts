/** Fields of the alert itself: which rule fired, how severe, with which tags. */
import { hit } from '../../policy/fields.js';
import { PRIORITIES } from '../rules/priority.js';
import type { FieldDef } from './context.js';

/** ATT&CK technique and tactic ids as Falco rules tag them (T1059, T1059.004, TA0003). */
export const MITRE_TAG = /^T(A\d{4}|\d{4}(\.\d{3})?)$/;

export const alertFields: FieldDef[] = [
  {
    name: 'alert.rule', target: 'alert', type: 'string', description: 'name of the Falco rule that fired',
    extract: (ctx) => [hit(ctx.alert.rule, ['rule'])],
  },
  {
    name: 'alert.priority', target: 'alert', type: 'string', description: 'Falco priority name (Emergency, Alert, Critical, Error, Warning, Notice, Informational, Debug)',
    extract: (ctx) => [hit(ctx.alert.priority, ['priority'])],
  },
  {
    name: 'alert.priorityLevel', target: 'alert', type: 'number', description: 'Falco priority as a syslog level: 0 Emergency … 3 Error, 4 Warning, 5 Notice, 6 Informational, 7 Debug (lower is more severe)',
    extract: (ctx) => [hit(PRIORITIES.indexOf(ctx.alert.priority), ['priority'])],
  },
  {
    name: 'alert.tags', target: 'alert', type: 'list', description: "the rule's tags (container, shell, mitre_execution, T1059, …)",
    extract: (ctx) => ctx.alert.tags.map((t, i) => hit(t, ['tags', i])),
  },
  {
    name: 'alert.mitre', target: 'alert', type: 'list', description: 'MITRE ATT&CK technique and tactic ids among the tags (T1059.004, TA0003)',
    extract: (ctx) => ctx.alert.tags.flatMap((t, i) => (MITRE_TAG.test(t) ? [hit(t, ['tags', i])] : [])),
  },
  {
    name: 'alert.source', target: 'alert', type: 'string', description: "event source of the rule (syscall, k8s_audit, internal, …)",
    extract: (ctx) => [hit(ctx.alert.source, ['source'])],
  },
  {
    name: 'alert.hostname', target: 'alert', type: 'string', description: 'host the alert was raised on',
    extract: (ctx) => (ctx.alert.hostname ? [hit(ctx.alert.hostname, ['hostname'])] : []),
  },
  {
    name: 'alert.output', target: 'alert', type: 'string', description: "the alert's rendered output line",
    extract: (ctx) => [hit(ctx.alert.output, ['output'])],
  },
];
