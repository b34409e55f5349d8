/** Falco rule priorities, most severe first, and their mapping to Gatehouse severities. */
import type { Severity } from '../../findings/finding.js';

export const PRIORITIES = ['Emergency', 'Alert', 'Critical', 'Error', 'Warning', 'Notice', 'Informational', 'Debug'] as const;
export type Priority = (typeof PRIORITIES)[number];

export function parsePriority(text: string): Priority | undefined {
  const l = text.trim().toLowerCase();
  if (l === 'info') return 'Informational';
  return PRIORITIES.find((p) => p.toLowerCase() === l);
}

/** Lower is more severe. */
export function priorityRank(p: Priority): number {
  return PRIORITIES.indexOf(p);
}

export function prioritySeverity(p: Priority): Severity {
  const r = priorityRank(p);
  return r <= 2 ? 'CRITICAL' : r === 3 ? 'HIGH' : r === 4 ? 'MEDIUM' : r <= 6 ? 'LOW' : 'UNKNOWN';
}
