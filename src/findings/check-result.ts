/**
 * The outcome of one check that can pass as well as fail (node facts, control-plane flags,
 * cluster-level checks). Findings say what is wrong; compliance reports also need what was
 * checked and found right, and what could not be read. Engines that run checks return
 * these; a failed check also carries the Finding it produced.
 */
import type { Finding, Severity } from './finding.js';

export type CheckStatus = 'pass' | 'fail' | 'unknown' | 'not-applicable' | 'manual';

export interface CheckResult {
  /** Stable check id, e.g. `node.kernel.lockdown` or `controlplane.apiserver.anonymous-auth`. */
  id: string;
  title: string;
  status: CheckStatus;
  severity: Severity;
  /** What was read and from where, e.g. `/sys/kernel/security/lockdown: [none] integrity confidentiality`. */
  evidence: string[];
  /** Why the status is `unknown` or `not-applicable` (a file could not be read, the process is not running). */
  reason?: string;
  remediation?: string;
  /** The finding a failed check produced, in the one Finding shape. */
  finding?: Finding;
}
