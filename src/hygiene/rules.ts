/** Loads the hygiene data (src/hygiene/rules.yaml). */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import type { Severity } from '../findings/finding.js';

export interface SecretRule {
  kind: string;
  severity: Severity;
  regex: RegExp;
  /** Literals one of which every match contains (case ignored); none = no prefilter. */
  hints: string[];
}

/** Where the file secret scan does not look (see `secretSkip` in rules.yaml). */
export interface SecretSkip {
  /** Directory names skipped at any depth. */
  dirs: Set<string>;
  /** File names skipped anywhere. */
  files: Set<string>;
  /** File extensions (with the dot, lower case). */
  extensions: Set<string>;
  /** Absolute path prefixes. */
  prefixes: string[];
  minSize: number;
}

export interface HygieneRules {
  secrets: SecretRule[];
  secretSkip: SecretSkip;
  secretEnvName: RegExp;
  binDirs: string[];
  tools: Record<string, string[]>;
}

/** `(?i)` prefixes (RE2/PCRE style in the data) become the JS `i` flag. */
function toRegex(pattern: string, global = false): RegExp {
  const insensitive = pattern.startsWith('(?i)');
  return new RegExp(insensitive ? pattern.slice(4) : pattern, `${insensitive ? 'i' : ''}${global ? 'g' : ''}`);
}

let cached: HygieneRules | undefined;

export function hygieneRules(): HygieneRules {
  if (cached) return cached;
  const doc = parse(readFileSync(new URL('./rules.yaml', import.meta.url), 'utf8')) as {
    secrets: { kind: string; severity: Severity; pattern: string; hints?: string[] }[];
    secretSkip: { dirs: string[]; files: string[]; extensions: string[]; prefixes: string[]; minSize: number };
    secretEnvNames: string;
    binDirs: string[];
    tools: Record<string, string[]>;
  };
  cached = {
    secrets: doc.secrets.map((s) => ({ kind: s.kind, severity: s.severity, regex: toRegex(s.pattern), hints: (s.hints ?? []).map(String) })),
    secretSkip: {
      dirs: new Set(doc.secretSkip.dirs.map(String)),
      files: new Set(doc.secretSkip.files.map(String)),
      extensions: new Set(doc.secretSkip.extensions.map((e) => String(e).toLowerCase())),
      prefixes: doc.secretSkip.prefixes.map(String),
      minSize: Number(doc.secretSkip.minSize),
    },
    secretEnvName: toRegex(doc.secretEnvNames),
    binDirs: doc.binDirs,
    tools: doc.tools,
  };
  return cached;
}
