/** `dockerfile check` as a library: parse, run the rule pack's checks, emit Findings. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseSeverity, type Finding, type Severity } from '../../findings/finding.js';
import { defaultPackDir } from '../../policy/builtin.js';
import type { Mappings } from '../../policy/types.js';
import { UserError, describeError } from '../../util/errors.js';
import { loadManifests } from '../manifests.js';
import { DOCKERFILE_CHECKS } from './checks.js';
import { parseDockerfile } from './parse.js';

export interface DockerfileRule {
  id: string;
  check: string;
  name: string;
  severity: Severity;
  description: string;
  remediation?: string;
  mappings: Mappings;
  enabled: boolean;
}

export async function loadDockerfileRules(paths?: string[]): Promise<DockerfileRule[]> {
  const { objects, notes } = await loadManifests(paths ?? [join(defaultPackDir(), 'dockerfile.yaml')]);
  const err = notes.find((n) => n.level === 'error');
  if (err) throw new UserError(`${err.file}${err.line ? `:${err.line}` : ''}: ${err.message}`, 'bad-policy');
  const rules: DockerfileRule[] = [];
  for (const o of objects.filter((x) => x.kind === 'DockerfileRulePack')) {
    (Array.isArray(o.raw.rules) ? o.raw.rules : []).forEach((r: any, i: number) => {
      const at = `${o.source.file}:${o.positionOf(['rules', i]).line}`;
      if (typeof r?.id !== 'string' || !DOCKERFILE_CHECKS[r.check]) throw new UserError(`${at}: rule needs an id and a known check (${Object.keys(DOCKERFILE_CHECKS).join(', ')})`, 'bad-policy');
      let severity: Severity;
      try {
        severity = parseSeverity(String(r.severity));
      } catch (e) {
        throw new UserError(`${at}: rule ${r.id}: ${describeError(e)}`, 'bad-policy');
      }
      rules.push({ id: r.id, check: r.check, name: String(r.name ?? r.id), severity, description: String(r.description ?? ''), remediation: r.remediation, mappings: r.mappings ?? {}, enabled: r.enabled !== false });
    });
  }
  return rules;
}

export function checkDockerfileText(text: string, file: string, rules: readonly DockerfileRule[]): Finding[] {
  const df = parseDockerfile(text);
  const findings: Finding[] = [];
  for (const rule of rules) {
    if (!rule.enabled) continue;
    for (const hit of DOCKERFILE_CHECKS[rule.check]!(df)) {
      findings.push({
        id: rule.id,
        kind: 'misconfiguration',
        severity: rule.severity,
        title: rule.name,
        detail: `${file}:${hit.line}: ${hit.message}`,
        resource: { file: { path: file, line: hit.line } },
        policy: { id: rule.id, name: rule.name },
        remediation: rule.remediation,
        references: [],
        data: { mappings: rule.mappings, stages: ['build'] },
      });
    }
  }
  return findings.sort((a, b) => a.resource.file!.line! - b.resource.file!.line! || a.id.localeCompare(b.id));
}

export async function checkDockerfiles(files: string[], rules?: DockerfileRule[]): Promise<Finding[]> {
  const pack = rules ?? (await loadDockerfileRules());
  const out: Finding[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = file === '-' ? await readStdin() : await readFile(file, 'utf8');
    } catch (e) {
      throw new UserError(`cannot read ${file}: ${describeError(e)}`, 'bad-input');
    }
    out.push(...checkDockerfileText(text, file === '-' ? '<stdin>' : file, pack));
  }
  return out;
}

function readStdin(): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    process.stdin.on('data', (d: Buffer) => chunks.push(d));
    process.stdin.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    process.stdin.on('error', reject);
  });
}
