/**
 * The rule names anomaly alerts carry (`source: gatehouse-anomaly`), one per kind of
 * deviation. Documented in docs/notes/baseline-anomaly.md; policies can match them through
 * `alert.rule` and `alert.source`.
 */
import type { Feature } from '../baseline/features.js';

export const ANOMALY_SOURCE = 'gatehouse-anomaly';

export const ANOMALY_RULES = {
  process: 'Anomalous process execution',
  lineage: 'Anomalous process lineage',
  outbound: 'Anomalous outbound connection',
  inbound: 'Anomalous listening port',
  write: 'Anomalous file write',
  read: 'Anomalous sensitive file read',
  remove: 'Anomalous file removal',
  syscall: 'Anomalous privileged operation',
  sequence: 'Anomalous event sequence',
} as const;

/** Tags per rule (ATT&CK tactics the kind of deviation usually belongs to). */
export const ANOMALY_TAGS: Record<string, string[]> = {
  [ANOMALY_RULES.process]: ['anomaly', 'process', 'mitre_execution'],
  [ANOMALY_RULES.lineage]: ['anomaly', 'process', 'mitre_execution'],
  [ANOMALY_RULES.outbound]: ['anomaly', 'network', 'mitre_command_and_control'],
  [ANOMALY_RULES.inbound]: ['anomaly', 'network', 'mitre_persistence'],
  [ANOMALY_RULES.write]: ['anomaly', 'filesystem', 'mitre_persistence'],
  [ANOMALY_RULES.read]: ['anomaly', 'filesystem', 'mitre_credential_access'],
  [ANOMALY_RULES.remove]: ['anomaly', 'filesystem', 'mitre_defense_evasion'],
  [ANOMALY_RULES.syscall]: ['anomaly', 'mitre_privilege_escalation'],
  [ANOMALY_RULES.sequence]: ['anomaly', 'process'],
};

export function ruleFor(f: Feature): string {
  switch (f.ch) {
    case 'exec':
      return ANOMALY_RULES.process;
    case 'lineage':
      return ANOMALY_RULES.lineage;
    case 'net':
      return f.keys[0]!.startsWith('in:') ? ANOMALY_RULES.inbound : ANOMALY_RULES.outbound;
    case 'file':
      return f.keys[0]!.startsWith('w:') || f.keys[0]!.startsWith('w!:') ? ANOMALY_RULES.write : f.keys[0]!.startsWith('r:') ? ANOMALY_RULES.read : ANOMALY_RULES.remove;
    case 'sys':
      return ANOMALY_RULES.syscall;
    default:
      return ANOMALY_RULES.sequence;
  }
}

/** What a feature's most specific key says, in words. */
export function describeFeature(f: Feature): string {
  const k = f.keys[0]!;
  switch (f.ch) {
    case 'exec':
      return `process ${k}`;
    case 'lineage':
      return `process lineage ${k}`;
    case 'net':
      return k.startsWith('in:') ? `inbound connection on ${k.slice(3)}` : `outbound connection to ${k.slice(4)}`;
    case 'file':
      if (k.startsWith('w!:')) return `refused write below ${k.slice(3)}`;
      return k.startsWith('w:') ? `write below ${k.slice(2)}` : k.startsWith('r:') ? `read of ${k.slice(2)}` : `removal below ${k.slice(2)}`;
    case 'sys':
      return `operation ${k}`;
    default:
      return `event sequence ${k}`;
  }
}
