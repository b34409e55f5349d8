/**
 * What the engine proxy decides with: policy packs about the `engine-request` subject
 * (`--policy` files, directories or built-in names; `engine` by default), compiled once per
 * load into a PolicySet that src/policy/evaluate.ts evaluates. The proxy has no decision
 * code of its own.
 *
 * Old rule files (`kind: EngineProxyPolicy`, or a bare `rules:` mapping) are still read,
 * converted by legacy-policy.ts, with a deprecation warning. A pack with any problem (an
 * unknown field, a type error, a duplicate id, …) does not load: the error names file:line.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fieldsOf } from '../policy/criteria.js';
import { compilePolicySet, type PolicySet } from '../policy/evaluate.js';
import { matchesAction } from '../policy/match.js';
import { describeDiagnostic, readPacks, resolvePackInput, type Diagnostic, type PackSource } from '../policy/pack.js';
import type { SubjectRegistry } from '../policy/subject.js';
import type { Enforcement, Policy } from '../policy/types.js';
import { UserError, describeError } from '../util/errors.js';
import { expandYamlPaths, parsePositionedYaml } from '../util/positioned-yaml.js';
import { convertLegacyPolicy, isLegacyPolicy } from './legacy-policy.js';

/** What a policy about an engine request can do: refuse it (403), or let it through and report it. */
export const PROXY_ENFORCEMENTS: readonly Enforcement[] = ['block', 'inform'];

/** The built-in pack the proxy uses when no --policy is given. */
export const DEFAULT_ENGINE_PACK = 'engine';

export interface EnginePolicies {
  /** How messages name the policy: the packs' metadata names, joined with "+". */
  name: string;
  /** What was asked for (--policy values), for reloads and the start-up line. */
  inputs: readonly string[];
  policies: readonly Policy[];
  set: PolicySet;
  /** Whether a policy in scope for this action reads target.* facts (an engine round trip). */
  readsTarget(action: string): boolean;
}

export interface LoadOptions {
  /** Called with one line per deprecated (old-format) file read. */
  warn?: (message: string) => void;
}

/** Loads and compiles engine-request packs; throws one UserError line (file:line) on any problem. */
export async function loadEnginePolicies(inputs: readonly string[], subjects: SubjectRegistry, opts: LoadOptions = {}): Promise<EnginePolicies> {
  const asked = inputs.length ? [...inputs] : [DEFAULT_ENGINE_PACK];
  const sources: PackSource[] = [];
  const names: string[] = [];
  const converted = new Map<string, { file: string; sourceLineOf: (line: number) => number }>();
  let scratch: string | undefined;
  try {
    for (const input of asked) {
      const source = resolvePackInput(input);
      if (source.builtin) {
        sources.push(source);
        names.push(input);
        continue;
      }
      for (const file of await expandYamlPaths(source.input)) {
        let text: string;
        try {
          text = await readFile(file, 'utf8');
        } catch (e) {
          throw new UserError(`cannot read policy ${file}: ${describeError(e)}`, 'bad-policy');
        }
        const docs = parsePositionedYaml(text, file);
        if (docs.length === 1 && isLegacyPolicy(docs[0]!.value)) {
          opts.warn?.(`${file}: the EngineProxyPolicy rule format is deprecated; convert it with: gatehouse policy convert ${file}`);
          const c = convertLegacyPolicy(text, file);
          scratch ??= await mkdtemp(join(tmpdir(), 'gatehouse-ep-policy-'));
          const packFile = join(scratch, `${converted.size}-${basename(file)}`);
          await writeFile(packFile, c.packYaml);
          converted.set(packFile, { file, sourceLineOf: c.sourceLineOf });
          sources.push({ input: packFile });
          names.push(c.name);
          continue;
        }
        sources.push({ input: file });
        const meta = docs.map((d) => (d.value as { metadata?: { name?: unknown } } | null)?.metadata?.name).find((n) => typeof n === 'string');
        names.push(typeof meta === 'string' ? meta : basename(file).replace(/\.(ya?ml|json)$/i, ''));
      }
    }
    const loaded = await readPacks(sources, subjects);
    const back = (d: Diagnostic): Diagnostic => {
      const c = converted.get(d.file);
      return c ? { ...d, file: c.file, line: c.sourceLineOf(d.line) } : d;
    };
    const [first, ...rest] = loaded.diagnostics.map(back);
    if (first) throw new UserError(`${describeDiagnostic(first)}${rest.length ? ` (and ${rest.length} more problem(s); run gatehouse policy check)` : ''}`, 'bad-policy');
    for (const p of loaded.policies) {
      const c = p.origin && converted.get(p.origin.file);
      if (c && p.origin) p.origin = { file: c.file, line: c.sourceLineOf(p.origin.line) };
      const where = p.origin ? `${p.origin.file}:${p.origin.line}: ` : '';
      if (p.subject !== 'engine-request') {
        throw new UserError(`${where}policy ${p.id} is about subject ${p.subject}; engine-proxy evaluates engine-request policies only`, 'bad-policy');
      }
      const other = p.enforcement.find((e) => !PROXY_ENFORCEMENTS.includes(e));
      if (other) throw new UserError(`${where}policy ${p.id}: enforcement "${other}" does not apply to engine requests (use ${PROXY_ENFORCEMENTS.join(' or ')})`, 'bad-policy');
    }
    for (const e of loaded.exceptions) {
      const c = e.origin && converted.get(e.origin.file);
      if (c && e.origin) e.origin = { file: c.file, line: c.sourceLineOf(e.origin.line) };
    }
    const set = compilePolicySet(loaded.policies, subjects, { exceptions: loaded.exceptions });
    return { name: [...new Set(names)].join('+'), inputs: asked, policies: loaded.policies, set, readsTarget: targetReader(loaded.policies) };
  } finally {
    if (scratch) await rm(scratch, { recursive: true, force: true });
  }
}

/** target.ref is in the request path; the other target.* facts need the engine. */
const needsLookup = (field: string) => field.startsWith('target.') && field !== 'target.ref';

function targetReader(policies: readonly Policy[]): (action: string) => boolean {
  const readers = policies.filter((p) => p.enabled && fieldsOf(p.criteria).some(needsLookup));
  const cache = new Map<string, boolean>();
  return (action) => {
    let v = cache.get(action);
    if (v === undefined) {
      v = readers.some((p) => !p.scope.actions?.length || matchesAction(action, p.scope.actions));
      cache.set(action, v);
    }
    return v;
  };
}
