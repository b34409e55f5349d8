/**
 * A compliance report as text: table (people), json (machines: the report object), csv (one
 * row per control, spreadsheets) and html (one self-contained file: inline CSS and an inline
 * SVG chart, no script and no external resource, print CSS for PDF).
 */
import { renderGrid } from '../report/grid.js';
import type { CheckResult } from '../findings/check-result.js';
import { CONTROL_STATUSES, type ComplianceReport, type ControlResult, type ControlStatus } from './report.js';

export const COMPLIANCE_FORMATS = ['table', 'json', 'csv', 'html'] as const;
export type ComplianceFormat = (typeof COMPLIANCE_FORMATS)[number];

const LABEL: Record<ControlStatus, string> = { pass: 'PASS', fail: 'FAIL', manual: 'MANUAL', 'not-applicable': 'N/A' };

export function renderCompliance(report: ComplianceReport, format: ComplianceFormat): string {
  switch (format) {
    case 'json':
      return `${JSON.stringify(report, null, 2)}\n`;
    case 'csv':
      return renderCsv(report);
    case 'html':
      return renderHtml(report);
    default:
      return renderTable(report);
  }
}

/** The one-line evidence summary of a control. */
export function evidenceSummary(c: ControlResult): string {
  const parts = c.checks.filter((k) => k.evaluated).map((k) => `${k.id} ${[k.fail && `${k.fail} fail`, k.unknown && `${k.unknown} unknown`, k.pass && `${k.pass} pass`].filter(Boolean).join('/')}`);
  return parts.length ? parts.join('; ') : c.reason;
}

function renderTable(r: ComplianceReport): string {
  const rows = r.controls.map((c) => [c.id, LABEL[c.status], c.assessment === 'manual' ? 'M' : 'A', c.title, evidenceSummary(c)]);
  const head = `${r.framework.title} ${r.framework.version} — ${r.inputs.join('; ') || 'no inputs'}`;
  const sum = CONTROL_STATUSES.map((s) => `${LABEL[s]} ${r.summary[s]}`).join('  ');
  const fails = r.controls
    .filter((c) => c.status === 'fail')
    .map((c) => [`${c.id} ${c.title}`, ...c.results.filter((x) => x.status === 'fail').slice(0, 10).map((x) => `  - ${x.evidence.join('; ')}`), ...(c.results.filter((x) => x.status === 'fail').length > 10 ? [`  … and ${c.results.filter((x) => x.status === 'fail').length - 10} more`] : [])].join('\n'));
  return `${head}\n\n${renderGrid(['CONTROL', 'STATUS', 'A/M', 'TITLE', 'EVIDENCE'], rows, { maxWidth: 60 })}\n\n${sum}\n${fails.length ? `\nFailures:\n${fails.join('\n')}\n` : ''}`;
}

/** RFC 4180: quote a field holding a comma, quote, CR or LF; double the quotes. Leading =+-@ are prefixed with ' (spreadsheet formula injection). */
function csvField(s: string): string {
  const t = /^[=+\-@\t\r]/.test(s) ? `'${s}` : s;
  return /[",\r\n]/.test(t) ? `"${t.replace(/"/g, '""')}"` : t;
}

export const CSV_HEADER = ['framework', 'version', 'control', 'section', 'title', 'assessment', 'status', 'reason', 'checks', 'failed', 'passed', 'unknown', 'evidence'] as const;

function renderCsv(r: ComplianceReport): string {
  const lines = [CSV_HEADER.join(',')];
  for (const c of r.controls) {
    const n = (f: (k: ControlResult['checks'][number]) => number) => String(c.checks.reduce((a, k) => a + f(k), 0));
    const evidence = c.results.filter((x) => x.status !== 'pass').concat(c.results.filter((x) => x.status === 'pass')).map((x) => `${x.status}: ${x.evidence.join('; ')}`);
    lines.push(
      [r.framework.id, r.framework.version, c.id, c.section, c.title, c.assessment, c.status, c.reason, c.checks.map((k) => k.id).join(' '), n((k) => k.fail), n((k) => k.pass), n((k) => k.unknown), evidence.join(' | ')]
        .map(csvField)
        .join(','),
    );
  }
  return `${lines.join('\r\n')}\r\n`;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');

const COLOR: Record<ControlStatus, string> = { pass: '#2e7d32', fail: '#c62828', manual: '#ef6c00', 'not-applicable': '#757575' };

/** A donut of the control statuses and a bar per section, as inline SVG. */
function chart(r: ComplianceReport): string {
  const total = r.controls.length || 1;
  const R = 60;
  const C = 2 * Math.PI * R;
  let offset = 0;
  const arcs = CONTROL_STATUSES.filter((s) => r.summary[s] > 0).map((s) => {
    const len = (r.summary[s] / total) * C;
    const arc = `<circle cx="80" cy="80" r="${R}" fill="none" stroke="${COLOR[s]}" stroke-width="28" stroke-dasharray="${len.toFixed(2)} ${(C - len).toFixed(2)}" stroke-dashoffset="${(-offset).toFixed(2)}" transform="rotate(-90 80 80)"><title>${LABEL[s]}: ${r.summary[s]}</title></circle>`;
    offset += len;
    return arc;
  });
  const legend = CONTROL_STATUSES.map((s, i) => `<rect x="180" y="${28 + i * 26}" width="16" height="16" fill="${COLOR[s]}"/><text x="204" y="${41 + i * 26}" font-size="14">${LABEL[s]} ${r.summary[s]}</text>`);
  // One bar per section.
  const sections = [...new Set(r.controls.map((c) => c.section))];
  const barW = 260;
  const bars = sections.map((sec, i) => {
    const cs = r.controls.filter((c) => c.section === sec);
    let x = 0;
    const parts = CONTROL_STATUSES.map((s) => {
      const n = cs.filter((c) => c.status === s).length;
      if (!n) return '';
      const w = (n / cs.length) * barW;
      const rect = `<rect x="${(330 + x).toFixed(1)}" y="${12 + i * 22}" width="${w.toFixed(1)}" height="16" fill="${COLOR[s]}"><title>${esc(sec)}: ${LABEL[s]} ${n}</title></rect>`;
      x += w;
      return rect;
    });
    return `<text x="${330 + barW + 8}" y="${25 + i * 22}" font-size="12">${esc(sec)} (${cs.length})</text>${parts.join('')}`;
  });
  const height = Math.max(170, 24 + sections.length * 22);
  return `<svg role="img" aria-label="Controls by status" width="1000" height="${height}" viewBox="0 0 1000 ${height}" font-family="sans-serif">
<circle cx="80" cy="80" r="${R}" fill="none" stroke="#eeeeee" stroke-width="28"/>${arcs.join('')}
<text x="80" y="76" text-anchor="middle" font-size="22" font-weight="bold">${r.controls.length}</text><text x="80" y="96" text-anchor="middle" font-size="12">controls</text>
${legend.join('')}
${bars.join('\n')}
</svg>`;
}

const MAX_RESULTS = 40;

function resultsList(rs: readonly CheckResult[]): string {
  if (!rs.length) return '';
  const shown = rs.slice(0, MAX_RESULTS).map((x) => `<li class="r-${x.status}"><span class="tag">${esc(x.status)}</span> <code>${esc(x.id)}</code> ${esc(x.evidence.join('; '))}${x.reason ? ` <em>(${esc(x.reason)})</em>` : ''}</li>`);
  return `<ul class="results">${shown.join('')}${rs.length > MAX_RESULTS ? `<li>… and ${rs.length - MAX_RESULTS} more result(s) (see the JSON report)</li>` : ''}</ul>`;
}

function renderHtml(r: ComplianceReport): string {
  const title = `${r.framework.title} ${r.framework.version} — compliance report`;
  const sections = [...new Set(r.controls.map((c) => c.section))];
  const body = sections
    .map((sec) => {
      const rows = r.controls
        .filter((c) => c.section === sec)
        .map(
          (c) => `<section class="control s-${c.status}">
<h3><span class="badge b-${c.status}">${LABEL[c.status]}</span> ${esc(c.id)} ${esc(c.title)} <small>(${c.assessment})</small></h3>
${c.description ? `<p class="desc">${esc(c.description)}</p>` : ''}<p class="reason">${esc(c.reason)}</p>
${c.checks.length ? `<p class="checks">Checks: ${c.checks.map((k) => `<code>${esc(k.id)}</code>${k.evaluated ? ` ${k.fail} fail / ${k.pass} pass${k.unknown ? ` / ${k.unknown} unknown` : ''}` : ' not evaluated'}`).join(', ')}</p>` : ''}
${resultsList(c.results.filter((x) => x.status !== 'pass'))}${c.status !== 'fail' ? resultsList(c.results.filter((x) => x.status === 'pass').slice(0, 10)) : ''}
</section>`,
        )
        .join('\n');
      return `<h2>${esc(sec)}</h2>\n${rows}`;
    })
    .join('\n');
  const summary = CONTROL_STATUSES.map((s) => `<td class="b-${s}">${LABEL[s]}</td><td>${r.summary[s]}</td>`).join('');
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>
body{font-family:-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:#1a1a1a;background:#fff;margin:2em auto;max-width:1000px;padding:0 1em;font-size:14px;line-height:1.45}
h1{font-size:1.6em;margin:0 0 .2em}h2{font-size:1.25em;border-bottom:2px solid #ccc;padding-bottom:.2em;margin-top:1.6em}
h3{font-size:1em;margin:0 0 .3em}small{color:#555;font-weight:normal}
.meta{color:#444;margin:0 0 1em}.meta li{margin:0}
table.summary{border-collapse:collapse;margin:.5em 0 1em}table.summary td{border:1px solid #ccc;padding:.25em .7em}
.badge{display:inline-block;min-width:4.5em;text-align:center;border-radius:3px;padding:0 .3em;color:#fff;font-size:.85em}
.b-pass{background:#2e7d32;color:#fff}.b-fail{background:#c62828;color:#fff}.b-manual{background:#ef6c00;color:#fff}.b-not-applicable{background:#757575;color:#fff}
section.control{border:1px solid #ddd;border-left:6px solid #999;padding:.5em .8em;margin:.6em 0;break-inside:avoid;page-break-inside:avoid}
section.s-pass{border-left-color:#2e7d32}section.s-fail{border-left-color:#c62828}section.s-manual{border-left-color:#ef6c00}section.s-not-applicable{border-left-color:#757575}
.desc{color:#333;margin:.2em 0}.reason{margin:.2em 0;font-style:italic}.checks{margin:.2em 0;font-size:.9em}
ul.results{margin:.3em 0 0 1.2em;padding:0;font-size:.88em}ul.results li{margin:.1em 0;word-break:break-word}
.tag{font-weight:bold;text-transform:uppercase;font-size:.8em}.r-fail .tag{color:#c62828}.r-pass .tag{color:#2e7d32}.r-unknown .tag,.r-manual .tag{color:#ef6c00}
code{font-family:"DejaVu Sans Mono",monospace;font-size:.92em;background:#f3f3f3;padding:0 .2em}
svg{max-width:100%;height:auto}
@media print{
  @page{size:A4;margin:14mm}
  body{margin:0;max-width:none;font-size:10.5pt}
  h2{break-after:avoid;page-break-after:avoid}
  .chart{break-after:page;page-break-after:always}
  *{-webkit-print-color-adjust:exact;print-color-adjust:exact}
  code{background:none}
}
</style></head>
<body>
<h1>${esc(title)}</h1>
<ul class="meta"><li>Generated ${esc(r.generatedAt)} by ${esc(r.tool.name)} ${esc(r.tool.version)}</li>${r.inputs.map((i) => `<li>Input: ${esc(i)}</li>`).join('')}</ul>
<div class="chart">
<table class="summary"><tr>${summary}</tr></table>
${chart(r)}
</div>
${body}
</body></html>
`;
}
