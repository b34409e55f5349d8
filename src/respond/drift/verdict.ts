/**
 * What drift detection reports: a verdict per drifted path, and its two outward shapes —
 * a runtime alert in Falco's JSON shape (so the response pipeline and every alert sink
 * take it as they take a rule's alert) and a Finding of kind `drift`.
 *
 * Rule names (stable: policies match on them):
 *   `Drift Detected (exec of binary not in image)`        priority Critical
 *   `Drift Detected (library loaded not in image)`        priority Error
 * The alert's source is `drift` (the response engine's ResponseRequest maps it to a drift
 * request). A policy answers with `kill`, or with `restart` from the signed image: the verdict
 * carries the container id and the image reference and id the restart needs.
 */
import type { Finding } from '../../findings/finding.js';
import { withFingerprint } from '../../findings/fingerprint.js';
import type { Alert } from '../../runtime/alerts/alert.js';
import { defaultHostname, eventTimeNs, isoNs } from '../../runtime/alerts/alert.js';
import type { RuntimeEvent } from '../../runtime/event.js';
import { prioritySeverity, type Priority } from '../../runtime/rules/priority.js';

export type DriftKind = 'exec' | 'library';
/** added/modified: the engine's diff or a write seen by the sensor; not-in-image: no such path in the image. */
export type DriftReason = 'added' | 'modified' | 'not-in-image';

export interface DriftVerdict {
  containerId: string;
  containerName?: string;
  /** The image as the container names it (what a restart pulls and verifies). */
  image?: string;
  /** The engine's image id (hex). */
  imageId: string;
  path: string;
  kind: DriftKind;
  reason: DriftReason;
  /** sha256 of the file in the container, when read. */
  sha256?: string;
  /** sha256 of the image's file at that path, when the image has one. */
  imageSha256?: string;
  /** The runtime event that showed it (exec or open), when there was one. */
  event?: RuntimeEvent;
}

export const DRIFT_EXEC_RULE = 'Drift Detected (exec of binary not in image)';
export const DRIFT_LIBRARY_RULE = 'Drift Detected (library loaded not in image)';
/** The alert's `source`: drift verdicts come from the detector, not from a Falco rule over syscalls. */
export const DRIFT_SOURCE = 'drift';
export const DRIFT_TAGS = ['container', 'process', 'drift', 'mitre_execution', 'TA0002', 'mitre_persistence', 'TA0003'];

const WHY: Record<DriftReason, string> = {
  added: 'added to the container after it started',
  modified: 'modified since the image',
  'not-in-image': 'not in the image',
};

export function driftRule(kind: DriftKind): { name: string; priority: Priority } {
  return kind === 'exec' ? { name: DRIFT_EXEC_RULE, priority: 'Critical' } : { name: DRIFT_LIBRARY_RULE, priority: 'Error' };
}

const str = (ev: RuntimeEvent | undefined, k: string): string | null => {
  const v = ev?.[k];
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : null;
};

/** The verdict as a Falco JSON alert. */
export function driftAlert(v: DriftVerdict, host = defaultHostname()): Alert {
  const rule = driftRule(v.kind);
  const ev = v.event;
  const time = isoNs(ev ? eventTimeNs(ev) : BigInt(Date.now()) * 1_000_000n);
  const output_fields: Alert['output_fields'] = {
    'container.id': v.containerId.slice(0, 12),
    'container.name': v.containerName ?? str(ev, 'container.name'),
    'container.image': v.image ?? str(ev, 'container.image'),
    'container.image.id': v.imageId.slice(0, 12),
    'proc.exepath': v.kind === 'exec' ? v.path : str(ev, 'proc.exepath'),
    'proc.cmdline': str(ev, 'proc.cmdline'),
    'proc.pname': str(ev, 'proc.pname'),
    'proc.pid': str(ev, 'proc.pid') === null ? null : Number(str(ev, 'proc.pid')),
    'user.name': str(ev, 'user.name'),
    'evt.type': str(ev, 'evt.type'),
    'fd.name': v.kind === 'library' ? v.path : null,
    'drift.reason': v.reason,
  };
  const what = v.kind === 'exec' ? 'Executable' : 'Shared library';
  const text = `${what} ${WHY[v.reason]} ${v.kind === 'exec' ? 'executed' : 'loaded'} (path=${v.path} reason=${v.reason} proc.cmdline=${output_fields['proc.cmdline'] ?? '<NA>'} container_id=${output_fields['container.id']} container_name=${output_fields['container.name'] ?? '<NA>'} image=${output_fields['container.image'] ?? '<NA>'})`;
  return {
    time,
    rule: rule.name,
    priority: rule.priority,
    source: DRIFT_SOURCE,
    hostname: str(ev, 'evt.hostname') ?? host,
    output: `${time.slice(11, 29)}: ${rule.priority} ${text}`,
    output_fields,
    tags: DRIFT_TAGS,
  };
}

/** The verdict as a Finding of kind drift. */
export function driftFinding(v: DriftVerdict, host?: string): Finding {
  const rule = driftRule(v.kind);
  return withFingerprint({
    id: rule.name,
    kind: 'drift',
    severity: prioritySeverity(rule.priority),
    title: `${v.kind === 'exec' ? 'Executable' : 'Shared library'} ${v.path} ${WHY[v.reason]}`,
    detail: `${v.path} in container ${v.containerName ?? v.containerId.slice(0, 12)} is ${WHY[v.reason]} (image ${v.image ?? v.imageId.slice(0, 12)})${v.sha256 ? `; sha256 ${v.sha256}` : ''}${v.imageSha256 ? `; the image has sha256 ${v.imageSha256}` : ''}`,
    resource: {
      container: { id: v.containerId, ...(v.containerName ? { name: v.containerName } : {}), ...(v.image ? { image: v.image } : {}) },
      image: { ...(v.image ? { ref: v.image } : {}), digest: `sha256:${v.imageId}`, path: v.path },
      ...(host ? { host } : {}),
    },
    remediation: 'Kill the container or replace it from its signed image (`gatehouse respond restart`); containers are cattle: never patch them in place.',
    references: ['https://kubescape.io/docs/operator/runtime-threat-detection/', 'https://falco.org/docs/reference/rules/default-rules/'],
    data: { kind: v.kind, reason: v.reason, path: v.path, ...(v.sha256 ? { sha256: v.sha256 } : {}), ...(v.imageSha256 ? { imageSha256: v.imageSha256 } : {}) },
  });
}
