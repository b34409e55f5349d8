/**
 * `image scan` / `fs scan` table output as Trivy users read it: one section per target —
 * the OS packages first, then each language ecosystem — with a severity total line and a
 * table of its vulnerabilities; severities coloured only when stdout is a terminal
 * (NO_COLOR turns colour off, FORCE_COLOR on).
 */
import { SEVERITIES, type Finding, type Severity } from '../findings/finding.js';
import { renderGrid } from '../report/index.js';
import type { ScanReport } from '../vuln/scan.js';

/** The verdict of the policies a scan was gated on, as the json report and the table show it. */
export interface PolicySummary {
  decision: 'allow' | 'deny' | 'warn';
  enforcement: string[];
  /** Ids of the image policies evaluated (packs given with --policy). */
  policies: string[];
  violations: number;
  excepted: { id: string; owner: string; reason: string }[];
  expiredExceptions: { policy: string; owner: string; expires?: string }[];
}

const OS_PURL_TYPES = new Set(['deb', 'apk', 'rpm']);
const ECOSYSTEM_LABEL: Record<string, string> = {
  npm: 'Node.js',
  PyPI: 'Python',
  Go: 'Go',
  Maven: 'Java',
  RubyGems: 'Ruby',
  Packagist: 'PHP',
  NuGet: '.NET',
  'crates.io': 'Rust',
};
const COLOR: Record<Severity, string> = { CRITICAL: '\x1b[1;31m', HIGH: '\x1b[31m', MEDIUM: '\x1b[33m', LOW: '\x1b[34m', UNKNOWN: '\x1b[90m' };
const RESET = '\x1b[0m';

export function useColor(stream: { isTTY?: boolean }): boolean {
  if (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '') return false;
  if (process.env.FORCE_COLOR !== undefined && process.env.FORCE_COLOR !== '0') return true;
  return stream.isTTY === true;
}

interface Section {
  title: string;
  findings: Finding[];
}

function sections(r: ScanReport, vulns: Finding[]): Section[] {
  const os: Finding[] = [];
  const byEcosystem = new Map<string, Finding[]>();
  for (const f of vulns) {
    const purlType = /^pkg:([^/]+)\//.exec(String(f.data?.purl ?? ''))?.[1];
    if (purlType && OS_PURL_TYPES.has(purlType)) os.push(f);
    else {
      const eco = String(f.data?.ecosystem ?? 'other');
      byEcosystem.set(eco, [...(byEcosystem.get(eco) ?? []), f]);
    }
  }
  const out: Section[] = [];
  if (os.length) {
    const name = r.os ? (r.os.prettyName ?? `${r.os.id} ${r.os.versionId ?? ''}`.trim()) : 'OS';
    out.push({ title: `${name} (OS packages)`, findings: os });
  }
  for (const [eco, fs] of [...byEcosystem].sort(([a], [b]) => a.localeCompare(b))) {
    out.push({ title: `${ECOSYSTEM_LABEL[eco] ?? eco} (${eco})`, findings: fs });
  }
  return out;
}

function totals(findings: Finding[]): string {
  const n = (s: Severity) => findings.filter((f) => f.severity === s).length;
  return `Total: ${findings.length} (${[...SEVERITIES].reverse().map((s) => `${s}: ${n(s)}`).join(', ')})`;
}

/** The one grid renderer, with the severity column coloured after padding (escape codes have no width). */
function grid(headers: string[], rows: string[][], colorColumn: number, color: boolean): string {
  return renderGrid(headers, rows, { decorate: (padded, cell, _row, column) => (color && column === colorColumn && COLOR[cell as Severity] ? `${COLOR[cell as Severity]}${padded}${RESET}` : padded) });
}

export function renderScanTable(r: ScanReport & { policy?: PolicySummary }, color: boolean): string {
  const vulns = r.findings.filter((f) => f.kind === 'vulnerability');
  const others = r.findings.filter((f) => f.kind === 'secret' || f.kind === 'hygiene');
  const violations = r.findings.filter((f) => f.kind === 'policy').sort((a, b) => SEVERITIES.indexOf(b.severity) - SEVERITIES.indexOf(a.severity));
  const osName = r.os ? (r.os.prettyName ?? `${r.os.id} ${r.os.versionId ?? ''}`.trim()) : 'no OS detected';
  const lines = [
    `${r.target} (${osName}): ${r.packages} packages, ${vulns.length} vulnerabilities${r.matched !== vulns.length ? ` (${r.matched} before filters)` : ''}${r.suppressed.length ? `, ${r.suppressed.length} suppressed` : ''}${others.length ? `, ${others.length} secret/hygiene findings` : ''}${violations.length ? `, ${violations.length} policy violations` : ''}`,
  ];
  // Which ecosystems the DB covered: "0 vulnerabilities" means nothing where it had no advisories.
  if (r.coverage?.length) {
    lines.push('', 'Vulnerability DB coverage:');
    for (const c of r.coverage) {
      const pkgs = `${c.packages} ${c.packages === 1 ? 'package' : 'packages'}`;
      lines.push(`  ${c.ecosystem}: ${pkgs}, ${c.advisories ? `${c.advisories} advisories${c.updated ? `, updated ${c.updated}` : ''}` : 'no advisories (not checked)'}`);
    }
  }
  for (const s of sections(r, vulns)) {
    const rows = s.findings.map((f) => [
      String(f.data?.package ?? ''),
      String(f.data?.installedVersion ?? ''),
      // A GO-/GHSA- id with its CVE alias beside it, so a CVE-keyed search finds the row.
      typeof f.data?.cve === 'string' ? `${f.id} (${f.data.cve})` : f.id,
      f.severity,
      String(f.data?.fixedVersion ?? String(f.data?.status ?? '').replace(/-/g, ' ')),
      f.resource.image?.path ?? '',
    ]);
    const rule = '='.repeat(s.title.length);
    lines.push('', s.title, rule, totals(s.findings), '', grid(['PACKAGE', 'INSTALLED', 'VULNERABILITY', 'SEVERITY', 'FIXED', 'FILE'], rows, 3, color));
  }
  if (others.length) {
    const title = 'Secrets and image hygiene';
    const rows = others.map((f) => [f.kind.toUpperCase(), f.severity, f.id, f.title]);
    lines.push('', title, '='.repeat(title.length), totals(others), '', grid(['TYPE', 'SEVERITY', 'ID', 'FINDING'], rows, 1, color));
  }
  if (r.policy) {
    const title = 'Policy violations';
    const rows = violations.map((f) => [f.policy?.id ?? f.id, f.severity, f.policy?.enforcement ?? '', f.detail ?? f.title]);
    if (rows.length) lines.push('', title, '='.repeat(title.length), totals(violations), '', grid(['POLICY', 'SEVERITY', 'ENFORCEMENT', 'VIOLATION'], rows, 1, color));
    const d = r.policy;
    lines.push('', `Decision: ${d.decision}${d.enforcement.length ? ` (${d.enforcement.join(', ')})` : ''}${d.policies.length ? ` — ${d.policies.length} image policies` : ''}${d.excepted.length ? `, ${d.excepted.length} excepted` : ''}`);
  }
  return `${lines.join('\n')}\n`;
}
