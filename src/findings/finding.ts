/**
 * The one result shape every engine emits and every formatter consumes
 * (vulnerabilities, misconfigurations, secrets, hygiene, policy violations, runtime alerts).
 */
export type Severity = 'UNKNOWN' | 'LOW' | 'MEDIUM' | 'HIGH' | 'CRITICAL';

export const SEVERITIES: readonly Severity[] = ['UNKNOWN', 'LOW', 'MEDIUM', 'HIGH', 'CRITICAL'];

/** Numeric rank for comparisons: UNKNOWN < LOW < MEDIUM < HIGH < CRITICAL. */
export function severityRank(s: Severity): number {
  return SEVERITIES.indexOf(s);
}

export function parseSeverity(text: string): Severity {
  const upper = text.trim().toUpperCase();
  if ((SEVERITIES as readonly string[]).includes(upper)) return upper as Severity;
  throw new Error(`unknown severity "${text}" (expected one of ${SEVERITIES.join(', ')})`);
}

export type FindingKind = 'vulnerability' | 'misconfiguration' | 'secret' | 'hygiene' | 'policy' | 'runtime' | 'anomaly' | 'drift';

/** Where a finding lives. Engines fill the part that applies to them. */
export interface ResourceRef {
  image?: { ref?: string; digest?: string; layer?: number; layerDigest?: string; path?: string };
  k8s?: { kind: string; namespace?: string; name: string; container?: string; file?: string; line?: number };
  file?: { path: string; line?: number; column?: number };
  container?: { id: string; name?: string; image?: string };
  host?: string;
}

export interface PolicyRef {
  id: string;
  name?: string;
  enforcement?: string;
}

export interface Finding {
  /** Stable identifier of what was found: a CVE/GHSA id, a policy id, a rule name. */
  id: string;
  /**
   * Stable identity of this finding (id + resource + location; see fingerprint.ts). Set by
   * the engine that makes the finding; formatters fill a missing one.
   */
  fingerprint?: string;
  kind: FindingKind;
  severity: Severity;
  title: string;
  detail?: string;
  resource: ResourceRef;
  policy?: PolicyRef;
  remediation?: string;
  references?: string[];
  /** Engine-specific structured data (package, versions, CVSS, output fields, …). */
  data?: Record<string, unknown>;
}
