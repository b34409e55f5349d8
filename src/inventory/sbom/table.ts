/** A plain-text table for people: one package per line. */
import type { SbomInput } from './target.js';

export function writeTable({ target, inventory }: SbomInput): string {
  const rows = inventory.packages.map((p) => [p.name, p.version, p.ecosystem, p.location.path + (p.location.layer !== undefined ? ` (layer ${p.location.layer})` : '')]);
  const head = ['NAME', 'VERSION', 'ECOSYSTEM', 'FOUND IN'];
  const widths = head.map((h, i) => Math.min(60, Math.max(h.length, ...rows.map((r) => r[i].length))));
  const line = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd();
  const os = inventory.os ? `${inventory.os.prettyName ?? `${inventory.os.id} ${inventory.os.versionId ?? ''}`}` : 'unknown OS';
  return [`${target.name}: ${os}, ${inventory.packages.length} packages`, '', line(head), ...rows.map(line)].join('\n') + '\n';
}
