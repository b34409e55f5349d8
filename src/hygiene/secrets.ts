/**
 * Secrets in image files and environment variables. Only the kind and the location are
 * ever reported, never the secret itself.
 */
import { collectContent, type FileVisitor } from '../image/files.js';
import { hygieneRules, type SecretRule } from './rules.js';

export interface SecretHit {
  kind: string;
  severity: SecretRule['severity'];
  line: number;
}

let prefilter: RegExp | null | undefined;

/**
 * One pass over the text for the rules' hint literals (as one case-insensitive alternation
 * of plain literals, which the regex engine scans quickly); only texts containing a hint
 * are searched with the full patterns, one by one. Most files in an image hold none.
 */
function mayHoldSecret(text: string): boolean {
  if (prefilter === undefined) {
    const rules = hygieneRules().secrets;
    const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    prefilter = rules.every((r) => r.hints.length > 0) ? new RegExp(rules.flatMap((r) => r.hints.map(escape)).join('|'), 'i') : null;
  }
  return prefilter === null || prefilter.test(text);
}

/** Kinds of secret found in a text, with the line of the first hit of each kind. */
export function findSecrets(text: string): SecretHit[] {
  const hits: SecretHit[] = [];
  if (!mayHoldSecret(text)) return hits;
  for (const rule of hygieneRules().secrets) {
    const m = rule.regex.exec(text);
    if (m) hits.push({ kind: rule.kind, severity: rule.severity, line: text.slice(0, m.index).split('\n').length });
  }
  return hits;
}

/** Whether a file is one the secret scan looks into (size, place, name, extension). */
export function secretScanWants(path: string, size: number, maxSize: number): boolean {
  const skip = hygieneRules().secretSkip;
  if (size < skip.minSize || size > maxSize) return false;
  if (skip.prefixes.some((p) => path.startsWith(p))) return false;
  const slash = path.lastIndexOf('/');
  const name = path.slice(slash + 1);
  if (skip.files.has(name)) return false;
  const dot = name.lastIndexOf('.');
  if (dot > 0 && skip.extensions.has(name.slice(dot).toLowerCase())) return false;
  for (const dir of path.slice(0, slash).split('/')) if (skip.dirs.has(dir)) return false;
  return true;
}

/** A visitor reading small text-like files for secret patterns. */
export function secretsVisitor(maxSize = 512 * 1024): FileVisitor<SecretHit[]> {
  return {
    name: 'hygiene-secrets',
    wants: (path, entry) => secretScanWants(path, entry.size, maxSize),
    visit: async ({ content }) => {
      const buf = await collectContent(content);
      // Binary files (a NUL in the first 8 KiB) are not searched: keys live in text.
      if (buf.subarray(0, 8192).includes(0)) return undefined;
      const hits = findSecrets(buf.toString('latin1'));
      return hits.length ? hits : undefined;
    },
  };
}

/** Environment variables that carry a secret: by name (with a value) or by value pattern. */
export function envSecrets(env: string[]): { name: string; kind: string; severity: SecretRule['severity'] }[] {
  const out: { name: string; kind: string; severity: SecretRule['severity'] }[] = [];
  for (const item of env) {
    const eq = item.indexOf('=');
    const name = eq >= 0 ? item.slice(0, eq) : item;
    const value = eq >= 0 ? item.slice(eq + 1) : '';
    if (!value) continue;
    const byValue = findSecrets(value)[0];
    if (byValue) out.push({ name, kind: byValue.kind, severity: byValue.severity });
    else if (hygieneRules().secretEnvName.test(name)) out.push({ name, kind: 'secret-in-env', severity: 'HIGH' });
  }
  return out;
}
