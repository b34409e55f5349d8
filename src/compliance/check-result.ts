/** Helpers shared by the cluster-level checks: a CheckResult with its Finding, object labels. */
import type { CheckResult } from '../findings/check-result.js';
import type { Finding, Severity } from '../findings/finding.js';
import { withFingerprint } from '../findings/fingerprint.js';
import type { ManifestObject } from '../kube/manifests.js';

export interface ClusterCheckDef {
  id: string;
  title: string;
  /** The title of the Finding a failure produces. */
  failTitle: string;
  severity: Severity;
  remediation: string;
}

export const describeObject = (o: ManifestObject): string => `${o.kind} ${o.namespace ? `${o.namespace}/` : ''}${o.name}`;

/** Where an object is, for evidence: `deploy.yaml:12`, or nothing for live objects. */
export const whereIs = (o: ManifestObject): string => (o.source.file && o.source.line > 0 ? ` (${o.source.file}:${o.source.line})` : '');

export interface Subject {
  kind: string;
  name: string;
  namespace?: string;
  object?: ManifestObject;
}

/** A CheckResult with its Finding when it failed. */
export function result(def: ClusterCheckDef, subject: Subject, pass: boolean, evidence: string[], detail?: string): CheckResult {
  const label = `${subject.kind} ${subject.namespace ? `${subject.namespace}/` : ''}${subject.name}`;
  const out: CheckResult = { id: def.id, title: `${def.title}: ${label}`, status: pass ? 'pass' : 'fail', severity: def.severity, evidence, remediation: def.remediation };
  if (!pass) {
    const pos = subject.object && subject.object.source.line > 0 ? subject.object.source : undefined;
    const finding: Omit<Finding, 'fingerprint'> = {
      id: def.id,
      kind: 'misconfiguration',
      severity: def.severity,
      title: def.failTitle,
      detail: `${label}: ${detail ?? evidence.join('; ')}`,
      resource: { k8s: { kind: subject.kind, namespace: subject.namespace, name: subject.name, ...(pos ? { file: pos.file, line: pos.line } : {}) }, ...(pos ? { file: { path: pos.file, line: pos.line } } : {}) },
      remediation: def.remediation,
      data: { check: def.id },
    };
    out.finding = withFingerprint(finding);
  }
  return out;
}

