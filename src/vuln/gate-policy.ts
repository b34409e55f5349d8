/**
 * The gate flags as a policy: `--severity LIST`, `--ignore-unfixed` and `--exit-code N`
 * are shorthand for policies over the image subject, evaluated by the same engine as any
 * pack. They fail the build when a scan finding the flags would show remains: a
 * vulnerability (fixable only, with --ignore-unfixed), a secret or a hygiene check whose
 * severity is in the list (any severity without one).
 */
import type { Severity } from '../findings/finding.js';
import type { Criterion, Policy } from '../policy/types.js';

export interface GateFlags {
  /** Exactly these levels (Trivy's --severity); all when absent or empty. */
  severities?: readonly Severity[];
  ignoreUnfixed?: boolean;
}

/** Policy ids of the shorthand gate (category `gate-flags`). */
export const GATE_POLICY_IDS = ['scan-gate-vulnerability', 'scan-gate-secret', 'scan-gate-hygiene'] as const;
export const GATE_CATEGORY = 'gate-flags';

export function gatePolicies(flags: GateFlags): Policy[] {
  const levels = flags.severities?.length ? [...new Set(flags.severities)] : undefined;
  const sev = (field: string): Criterion => (levels ? { field, op: 'in', value: levels } : { field, op: 'exists' });
  const which = levels ? levels.join(',') : 'any severity';
  const base = (id: string, name: string, criteria: Criterion): Policy => ({
    id,
    name,
    description: `a scan finding of ${which} remains (--severity/--ignore-unfixed/--exit-code)`,
    severity: 'UNKNOWN',
    subject: 'image',
    stages: ['build'],
    scope: {},
    criteria,
    enforcement: ['fail-build'],
    mappings: {},
    enabled: true,
    category: GATE_CATEGORY,
  });
  return [
    base(GATE_POLICY_IDS[0], `Vulnerability of ${which}${flags.ignoreUnfixed ? ' with a fix' : ''}`,
      flags.ignoreUnfixed ? { all: [sev('vulnerability.severity'), { field: 'vulnerability.fixable', op: 'equals', value: true }] } : sev('vulnerability.severity')),
    base(GATE_POLICY_IDS[1], `Secret of ${which}`, sev('secret.severity')),
    base(GATE_POLICY_IDS[2], `Hygiene problem of ${which}`, sev('check.severity')),
  ];
}
