/** Plain-text table for terminals: one row per finding, sorted by severity. */
import { severityRank } from '../findings/finding.js';
import { renderGrid } from './grid.js';
import { locationOf, subjectOf } from './location.js';
import type { Formatter } from './types.js';

export const tableFormatter: Formatter = {
  name: 'table',
  description: 'aligned text table for terminals',
  format(findings, ctx) {
    const sorted = [...findings].sort((a, b) => severityRank(b.severity) - severityRank(a.severity) || a.id.localeCompare(b.id));
    const rows = sorted.map((f) => {
      const loc = locationOf(f);
      return [f.severity, f.id, subjectOf(f), loc.file ? `${loc.file}${loc.line ? `:${loc.line}` : ''}` : '', f.title];
    });
    const out = [renderGrid(['SEVERITY', 'ID', 'RESOURCE', 'LOCATION', 'TITLE'], rows, { maxWidth: 60 })];
    const counts = new Map<string, number>();
    for (const f of findings) counts.set(f.severity, (counts.get(f.severity) ?? 0) + 1);
    const summary = [...counts.entries()].sort((a, b) => severityRank(b[0] as any) - severityRank(a[0] as any)).map(([s, n]) => `${s}: ${n}`).join(', ');
    out.push('', `${ctx.command}: ${findings.length} finding(s)${summary ? ` (${summary})` : ''}`);
    for (const n of ctx.notes ?? []) out.push(`note: ${n}`);
    return `${out.join('\n')}\n`;
  },
};
