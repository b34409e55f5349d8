/**
 * SARIF 2.1.0: one result per finding, located at the file + line of the offending field;
 * one rule per distinct finding id; each result carries the finding's fingerprint as
 * partialFingerprints["gatehouse/v1"] so code-scanning UIs track it across runs. Written
 * by hand: the format is plain JSON and the available npm typings would only add weight.
 */
import type { Finding, Severity } from '../findings/finding.js';
import { locationOf, subjectOf } from './location.js';
import type { Formatter } from './types.js';
import { GATEHOUSE_VERSION } from '../version.js';
import { withFingerprint } from '../findings/fingerprint.js';

const LEVEL: Record<Severity, 'error' | 'warning' | 'note'> = {
  CRITICAL: 'error', HIGH: 'error', MEDIUM: 'warning', LOW: 'note', UNKNOWN: 'note',
};
const SCORE: Record<Severity, string> = { CRITICAL: '9.5', HIGH: '8.0', MEDIUM: '5.5', LOW: '2.0', UNKNOWN: '0.0' };

export const sarifFormatter: Formatter = {
  name: 'sarif',
  description: 'SARIF 2.1.0 for code-scanning UIs',
  format(findings, ctx) {
    const rules = new Map<string, { f: Finding; index: number }>();
    for (const f of findings) if (!rules.has(f.id)) rules.set(f.id, { f, index: rules.size });
    const sarif = {
      $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
      version: '2.1.0',
      runs: [
        {
          tool: {
            driver: {
              name: 'Gatehouse',
              informationUri: 'https://github.com/gatehouse',
              version: GATEHOUSE_VERSION,
              rules: [...rules.values()].map(({ f }) => ({
                id: f.id,
                name: f.policy?.name ?? f.title,
                shortDescription: { text: f.title },
                ...(f.remediation ? { help: { text: f.remediation } } : {}),
                defaultConfiguration: { level: LEVEL[f.severity] },
                properties: { 'security-severity': SCORE[f.severity], tags: ['security', f.kind] },
              })),
            },
          },
          results: findings.map((finding) => {
            const f = withFingerprint(finding);
            const loc = locationOf(f);
            return {
              ruleId: f.id,
              ruleIndex: rules.get(f.id)!.index,
              level: LEVEL[f.severity],
              message: { text: `${f.title}: ${f.detail ?? subjectOf(f)}` },
              locations: [
                {
                  physicalLocation: {
                    artifactLocation: { uri: toUri(loc.file ?? subjectOf(f)) },
                    region: { startLine: loc.line ?? 1, ...(loc.column ? { startColumn: loc.column } : {}) },
                  },
                  ...(f.resource.k8s ? { logicalLocations: [{ name: subjectOf(f), kind: 'resource' }] } : {}),
                },
              ],
              partialFingerprints: { 'gatehouse/v1': f.fingerprint },
              properties: { severity: f.severity, ...(f.data?.field ? { field: f.data.field } : {}) },
            };
          }),
          invocations: [{ executionSuccessful: true, commandLine: `gatehouse ${ctx.command}` }],
        },
      ],
    };
    return `${JSON.stringify(sarif, null, 2)}\n`;
  },
};

function toUri(path: string): string {
  return path.split('/').map((seg) => encodeURIComponent(seg)).join('/');
}
