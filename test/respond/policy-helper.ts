/** Real runtime policies for the response tests: a pack compiled by the policy engine, alerts judged by the runtime engine. */
import { compilePolicySet } from '../../src/policy/evaluate.js';
import { readPackText } from '../../src/policy/pack.js';
import { subjects } from '../../src/subjects/index.js';
import type { Alert } from '../../src/runtime/alerts/alert.js';
import { AlertJudge, type JudgedAlert } from '../../src/runtime/alerts/verdict.js';

/** A pack of runtime policies: one per [rule, enforcement…], id respond-<rule as a slug>. */
export function packText(entries: [rule: string, enforcement: string[], extra?: string][]): string {
  const policies = entries
    .map(
      ([rule, enforcement, extra]) => `  - id: ${policyId(rule)}
    name: ${rule}
    description: response test policy for ${rule}
    severity: HIGH
    stages: [runtime]
    criteria:
      all:
        - { field: alert.rule, op: equals, value: "${rule}" }
        - { field: container.id, op: notEquals, value: host }
    enforcement: [${enforcement.join(', ')}]
${extra ?? ''}`,
    )
    .join('\n');
  return `apiVersion: gatehouse.dev/v1\nkind: PolicyPack\nsubject: runtime\npolicies:\n${policies}\n`;
}

export const policyId = (rule: string) => `respond-${rule.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`;

export function judgeFor(text: string): AlertJudge {
  const registry = subjects();
  const loaded = readPackText(text, 'respond-test.yaml', registry);
  return new AlertJudge(compilePolicySet(loaded.policies, registry, { exceptions: loaded.exceptions }));
}

export function alertFor(rule: string, fields: Alert['output_fields'], time = '2026-12-07T06:00:00.000000000Z'): Alert {
  return { time, rule, priority: 'Critical', source: 'syscall', hostname: 'node1', output: `${time.slice(11, 29)}: Critical ${rule}`, output_fields: fields, tags: ['test'] };
}

export function judged(judge: AlertJudge, rule: string, fields: Alert['output_fields']): JudgedAlert {
  return judge.judge(alertFor(rule, fields));
}
