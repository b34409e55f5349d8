/** JUnit XML: one testsuite per finding id, one failing testcase per finding. */
import { locationOf, subjectOf } from './location.js';
import type { Formatter } from './types.js';
import type { Finding } from '../findings/finding.js';

const esc = (s: string) => s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!)
  // XML 1.0 cannot carry most control characters at all.
  // eslint-disable-next-line no-control-regex -- stripping exactly these characters is the point
  .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '');

export const junitFormatter: Formatter = {
  name: 'junit',
  description: 'JUnit XML for CI test reports',
  format(findings, ctx) {
    const groups = new Map<string, Finding[]>();
    for (const f of findings) {
      let l = groups.get(f.id);
      if (!l) groups.set(f.id, (l = []));
      l.push(f);
    }
    const out = ['<?xml version="1.0" encoding="UTF-8"?>', `<testsuites name="${esc(`gatehouse ${ctx.command}`)}" tests="${findings.length}" failures="${findings.length}">`];
    for (const [id, list] of groups) {
      out.push(`  <testsuite name="${esc(id)}" tests="${list.length}" failures="${list.length}">`);
      for (const f of list) {
        const loc = locationOf(f);
        const where = loc.file ? `${loc.file}${loc.line ? `:${loc.line}` : ''}` : '';
        out.push(`    <testcase classname="${esc(id)}" name="${esc(subjectOf(f))}"${loc.file ? ` file="${esc(loc.file)}"` : ''}${loc.line ? ` line="${loc.line}"` : ''}>`);
        out.push(`      <failure type="${esc(f.severity)}" message="${esc(f.title)}">${esc(`${f.detail ?? ''}${where ? `\nat ${where}` : ''}${f.remediation ? `\nremediation: ${f.remediation}` : ''}`)}</failure>`);
        out.push('    </testcase>');
      }
      out.push('  </testsuite>');
    }
    out.push('</testsuites>');
    return `${out.join('\n')}\n`;
  },
};
