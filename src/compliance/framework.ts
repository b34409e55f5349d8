/**
 * Frameworks as data: `policies/frameworks/<framework>/*.yaml`, every file of the folder
 * merged into one framework. Each file:
 *
 *   framework: cis-kubernetes          # the folder's name
 *   version: "1.10"                    # the same in every file of the folder
 *   controls:
 *     - id: "5.1.6"
 *       title: Ensure that Service Account Tokens are only mounted where necessary
 *       section: "5.1 RBAC and Service Accounts"
 *       assessment: automated          # or manual
 *       checks: [automount-service-account-token, k8s.serviceaccount.automount]
 *       description: …                 # optional: the countermeasure, in a sentence or two
 *
 * `checks` name CheckResult ids, policy ids of the built-in packs, RBAC risk and
 * Dockerfile rule ids, or runtime rule names (catalog.ts). The reader is strict: unknown
 * keys, unknown check ids (with a did-you-mean), a wrong framework name, versions that
 * differ between files and duplicate control ids are errors with file:line, all collected;
 * a framework with any error never loads.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { defaultPackDir } from '../policy/builtin.js';
import { closest } from '../policy/fields.js';
import { UserError } from '../util/errors.js';
import { expandYamlPaths, readPositionedYaml, type FieldPath, type PositionedDocument } from '../util/positioned-yaml.js';
import type { CheckCatalog } from './catalog.js';

export const FRAMEWORKS = ['cis-kubernetes', 'nist-800-190'] as const;
export type FrameworkId = (typeof FRAMEWORKS)[number];

export const FRAMEWORK_TITLES: Record<FrameworkId, string> = {
  'cis-kubernetes': 'CIS Kubernetes Benchmark',
  'nist-800-190': 'NIST SP 800-190 Application Container Security Guide',
};

export type Assessment = 'automated' | 'manual';

export interface Control {
  id: string;
  title: string;
  section: string;
  assessment: Assessment;
  checks: string[];
  description?: string;
  origin: { file: string; line: number };
}

export interface Framework {
  id: string;
  title: string;
  version: string;
  /** In file order (files sorted by name), then as written. */
  controls: Control[];
  files: string[];
}

export interface FrameworkDiagnostic {
  file: string;
  line: number;
  message: string;
}

/** A framework that does not load: every problem, the first one in the message. */
export class FrameworkLoadError extends UserError {
  constructor(readonly diagnostics: FrameworkDiagnostic[]) {
    const d = diagnostics[0]!;
    super(`${d.file}:${d.line}: ${d.message}${diagnostics.length > 1 ? ` (and ${diagnostics.length - 1} more problem(s))` : ''}`, 'bad-framework');
  }
}

const FILE_KEYS = ['framework', 'version', 'controls'];
const CONTROL_KEYS = ['id', 'title', 'section', 'assessment', 'checks', 'description'];
const ASSESSMENTS: readonly Assessment[] = ['automated', 'manual'];

export function frameworksDir(): string {
  return join(defaultPackDir(), 'frameworks');
}

export function isFrameworkId(s: string): s is FrameworkId {
  return (FRAMEWORKS as readonly string[]).includes(s);
}

/**
 * Reads one framework. `name` is a built-in framework (its folder under
 * policies/frameworks/) or, with `dir`, the folder to read.
 */
export async function loadFramework(name: string, catalog: CheckCatalog, opts: { dir?: string } = {}): Promise<Framework> {
  const dir = opts.dir ?? join(frameworksDir(), name);
  if (!opts.dir && !isFrameworkId(name)) throw new UserError(`unknown framework "${name}" (known: ${FRAMEWORKS.join(', ')})`, 'usage');
  if (!existsSync(dir)) throw new UserError(`framework ${name}: ${dir} does not exist`, 'bad-path');
  const files = await expandYamlPaths(dir);
  const diags: FrameworkDiagnostic[] = [];
  const controls: Control[] = [];
  const seen = new Map<string, { file: string; line: number }>();
  let version: { value: string; file: string } | undefined;
  const known = [...catalog.keys()];
  for (const file of files) {
    let docs: PositionedDocument[];
    try {
      docs = await readPositionedYaml(file);
    } catch (e) {
      const m = /^(.*?):(\d+): (.*)$/.exec((e as Error).message);
      diags.push(m ? { file: m[1]!, line: Number(m[2]), message: m[3]! } : { file, line: 1, message: (e as Error).message });
      continue;
    }
    for (const doc of docs) {
      const at = (path: FieldPath) => doc.positionOf(path).line;
      const err = (path: FieldPath, message: string) => diags.push({ file, line: at(path), message });
      const v = doc.value;
      if (!v || typeof v !== 'object' || Array.isArray(v)) {
        err([], 'a framework file is a mapping with framework, version and controls');
        continue;
      }
      const top = v as Record<string, unknown>;
      for (const k of Object.keys(top)) if (!FILE_KEYS.includes(k)) err([k], `unknown key "${k}"${hint(k, FILE_KEYS)} (allowed: ${FILE_KEYS.join(', ')})`);
      if (top.framework !== name) err(['framework'], top.framework === undefined ? `missing "framework: ${name}"` : `framework "${String(top.framework)}" in the folder of ${name}`);
      if (typeof top.version !== 'string' || !top.version) err(['version'], 'version must be a non-empty string (quote numbers: "1.10")');
      else if (!version) version = { value: top.version, file };
      else if (version.value !== top.version) err(['version'], `version "${top.version}" differs from "${version.value}" in ${version.file}`);
      if (!Array.isArray(top.controls)) {
        err(['controls'], 'controls must be a list');
        continue;
      }
      top.controls.forEach((raw, i) => {
        const p = ['controls', i];
        if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
          err(p, 'a control is a mapping (id, title, section, assessment, checks)');
          return;
        }
        const c = raw as Record<string, unknown>;
        for (const k of Object.keys(c)) if (!CONTROL_KEYS.includes(k)) err([...p, k], `unknown key "${k}"${hint(k, CONTROL_KEYS)} in a control (allowed: ${CONTROL_KEYS.join(', ')})`);
        let ok = true;
        for (const k of ['id', 'title', 'section'] as const) {
          if (typeof c[k] !== 'string' || !(c[k] as string).trim()) {
            err([...p, k], `control ${k} must be a non-empty string${k === 'id' ? ' (quote numbers: "5.1.6")' : ''}`);
            ok = false;
          }
        }
        if (!ASSESSMENTS.includes(c.assessment as Assessment)) {
          err([...p, 'assessment'], `assessment must be ${ASSESSMENTS.join(' or ')}${c.assessment === undefined ? '' : `, not "${String(c.assessment)}"`}`);
          ok = false;
        }
        if (c.description !== undefined && typeof c.description !== 'string') {
          err([...p, 'description'], 'description must be a string');
          ok = false;
        }
        const checks: string[] = [];
        if (c.checks !== undefined && !Array.isArray(c.checks)) {
          err([...p, 'checks'], 'checks must be a list of check ids');
          ok = false;
        } else {
          ((c.checks as unknown[] | undefined) ?? []).forEach((id, j) => {
            if (typeof id !== 'string') {
              err([...p, 'checks', j], `check ${j + 1} must be a string`);
              ok = false;
            } else if (!catalog.has(id)) {
              err([...p, 'checks'], `unknown check "${id}"${hint(id, known)}: not a registered check, built-in policy, RBAC risk, Dockerfile rule or runtime rule`);
              ok = false;
            } else if (checks.includes(id)) {
              err([...p, 'checks'], `check "${id}" listed twice`);
            } else checks.push(id);
          });
        }
        if (typeof c.id === 'string') {
          const before = seen.get(c.id);
          if (before) err([...p, 'id'], `control "${c.id}" is defined twice (first at ${before.file}:${before.line})`);
          else seen.set(c.id, { file, line: at(p) });
        }
        if (ok)
          controls.push({
            id: c.id as string,
            title: (c.title as string).trim(),
            section: (c.section as string).trim(),
            assessment: c.assessment as Assessment,
            checks,
            ...(typeof c.description === 'string' ? { description: c.description.trim() } : {}),
            origin: { file, line: at(p) },
          });
      });
    }
  }
  if (!files.length) diags.push({ file: dir, line: 0, message: 'no framework files (*.yaml) in this folder' });
  if (diags.length) throw new FrameworkLoadError(diags);
  return {
    id: name,
    title: isFrameworkId(name) ? FRAMEWORK_TITLES[name] : name,
    version: version!.value,
    controls: controls.sort((a, b) => compareIds(a.id, b.id)),
    files,
  };
}

function hint(name: string, candidates: readonly string[]): string {
  const c = closest(name, candidates);
  return c ? ` (did you mean "${c}"?)` : '';
}

/** Dotted ids in numeric order: 5.1.2 < 5.1.10. */
export function compareIds(a: string, b: string): number {
  const pa = a.split('.');
  const pb = b.split('.');
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i];
    const y = pb[i];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    const nx = Number(x);
    const ny = Number(y);
    const d = Number.isNaN(nx) || Number.isNaN(ny) ? x.localeCompare(y) : nx - ny;
    if (d) return d;
  }
  return 0;
}
