/** Output formats take Findings from any engine and render one document. */
import type { Finding } from '../findings/finding.js';

export interface ReportContext {
  /** The command that produced the findings, e.g. "k8s check". */
  command: string;
  /** Extra machine-readable sections (notes, expired exceptions, …) for formats that carry them. */
  extra?: Record<string, unknown>;
  /** Human-oriented notes for text formats. */
  notes?: string[];
}

export interface Formatter {
  name: string;
  description: string;
  format(findings: readonly Finding[], ctx: ReportContext): string;
}
