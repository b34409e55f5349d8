/** Builds CheckResults; a failed check carries its Finding (kind misconfiguration). */
import type { CheckResult, CheckStatus } from '../findings/check-result.js';
import type { Finding, Severity } from '../findings/finding.js';
import { withFingerprint } from '../findings/fingerprint.js';

export interface CheckDef {
  id: string;
  title: string;
  severity: Severity;
  remediation?: string;
  /** CIS / NIST references shown on the finding (`CIS Kubernetes 1.2.1`). */
  references?: string[];
}

export interface Outcome {
  status: CheckStatus;
  evidence: string[];
  reason?: string;
  /** The file the check read, for the finding's resource. */
  file?: string;
  /** What is wrong, in one line, for a failed check. */
  detail?: string;
}

export function makeResult(def: CheckDef, o: Outcome, host: string): CheckResult {
  const r: CheckResult = { id: def.id, title: def.title, status: o.status, severity: def.severity, evidence: o.evidence };
  if (o.reason) r.reason = o.reason;
  if (def.remediation) r.remediation = def.remediation;
  if (o.status === 'fail') {
    const f: Finding = {
      id: def.id,
      kind: 'misconfiguration',
      severity: def.severity,
      title: def.title,
      detail: o.detail ?? o.evidence.join('; '),
      resource: { host, ...(o.file ? { file: { path: o.file } } : {}) },
      ...(def.remediation ? { remediation: def.remediation } : {}),
      ...(def.references?.length ? { references: def.references } : {}),
      data: { check: def.id, evidence: o.evidence },
    };
    r.finding = withFingerprint(f);
  }
  return r;
}

export const pass = (evidence: string[], file?: string): Outcome => ({ status: 'pass', evidence, file });
export const fail = (evidence: string[], detail?: string, file?: string): Outcome => ({ status: 'fail', evidence, detail, file });
export const unknown = (reason: string, evidence: string[] = []): Outcome => ({ status: 'unknown', evidence, reason });
export const notApplicable = (reason: string, evidence: string[] = []): Outcome => ({ status: 'not-applicable', evidence, reason });
