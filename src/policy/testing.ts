/**
 * Policy test cases, in the spirit of `kyverno test` and `opa test`: YAML files that give a
 * subject, the policies, and the expected verdict.
 *
 *   apiVersion: gatehouse.dev/v1
 *   kind: PolicyTest
 *   name: privileged pods are denied
 *   policies: [deploy, ./extra-pack.yaml]     # built-in names or paths relative to this file
 *   cases:
 *     - name: privileged pod
 *       subject: workload
 *       input: { apiVersion: v1, kind: Pod, … }  # or inputFile: pod.yaml
 *       stage: deploy                            # default: the subject's stage
 *       now: 2026-01-01T00:00:00Z                # default: the real clock
 *       expect:
 *         decision: deny
 *         violations: [privileged-container]     # policy ids, as a set
 *         enforcement: [deny-admission]
 */
import { dirname, isAbsolute, resolve } from 'node:path';
import { UserError, describeError } from '../util/errors.js';
import { expandYamlPaths, readPositionedYaml, type PositionedDocument } from '../util/positioned-yaml.js';
import { compilePolicySet, evaluate, type Decision, type PolicySet, type Verdict } from './evaluate.js';
import { closest } from './fields.js';
import { API_VERSION, loadPacks, resolvePackInput } from './pack.js';
import type { SubjectRegistry } from './subject.js';
import { STAGES, type Stage } from './types.js';

export interface CaseResult {
  file: string;
  line: number;
  test: string;
  name: string;
  passed: boolean;
  /** Expected vs actual, one line each, for failing cases. */
  diff: string[];
  verdict?: Pick<Verdict, 'decision' | 'enforcement'> & { violations: string[] };
  error?: string;
}

const TEST_KEYS = ['apiVersion', 'kind', 'name', 'policies', 'cases'];
const CASE_KEYS = ['name', 'subject', 'input', 'inputFile', 'stage', 'now', 'expect'];
const EXPECT_KEYS = ['decision', 'violations', 'enforcement'];

const isMap = (v: unknown): v is Record<string, any> => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);

/** Reads a subject value from a file through its adapter (fromFile, else YAML/JSON → fromData). */
export async function subjectFromFile(subjects: SubjectRegistry, kind: string, file: string): Promise<unknown> {
  const adapter = subjects.require(kind);
  if (adapter.fromFile) return adapter.fromFile(file);
  if (!adapter.fromData) throw new UserError(`subject ${kind} cannot be read from a file`, 'usage');
  const docs = await readPositionedYaml(file);
  if (docs.length !== 1) throw new UserError(`${file}: expected one ${kind} document, found ${docs.length}`, 'bad-input');
  return adapter.fromData(docs[0]!.value, file);
}

export async function runPolicyTests(inputs: readonly string[], subjects: SubjectRegistry): Promise<CaseResult[]> {
  const results: CaseResult[] = [];
  for (const input of inputs) {
    for (const file of await expandYamlPaths(input)) {
      for (const doc of await readPositionedYaml(file)) {
        if (!isMap(doc.value) || doc.value.kind !== 'PolicyTest') continue;
        results.push(...(await runTestDocument(doc, subjects)));
      }
    }
  }
  return results;
}

async function runTestDocument(doc: PositionedDocument, subjects: SubjectRegistry): Promise<CaseResult[]> {
  const v = doc.value as Record<string, any>;
  const at = (path: (string | number)[]) => `${doc.file}:${doc.positionOf(path).line}`;
  const fail = (path: (string | number)[], msg: string): never => {
    throw new UserError(`${at(path)}: ${msg}`, 'bad-test');
  };
  if (v.apiVersion !== API_VERSION) fail(['apiVersion'], `expected apiVersion ${API_VERSION}`);
  for (const k of Object.keys(v)) if (!TEST_KEYS.includes(k)) fail([k], `unknown PolicyTest key "${k}"${hint(k, TEST_KEYS)}`);
  const testName = typeof v.name === 'string' ? v.name : doc.file;
  if (!Array.isArray(v.policies) || v.policies.length === 0 || v.policies.some((p: unknown) => typeof p !== 'string')) fail(['policies'], 'policies must be a non-empty list of pack paths or built-in names');
  if (!Array.isArray(v.cases) || v.cases.length === 0) fail(['cases'], 'cases must be a non-empty list');
  const base = dirname(doc.file);
  const sources = (v.policies as string[]).map((p) => {
    const builtin = resolvePackInput(p);
    return builtin.builtin ? builtin : { input: isAbsolute(p) ? p : resolve(base, p) };
  });
  let set: PolicySet;
  try {
    const loaded = await loadPacks(sources, subjects);
    set = compilePolicySet(loaded.policies, subjects, { exceptions: loaded.exceptions });
  } catch (e) {
    return fail(['policies'], describeError(e));
  }
  const results: CaseResult[] = [];
  for (const [i, c] of (v.cases as unknown[]).entries()) {
    const path = ['cases', i];
    if (!isMap(c)) fail(path, 'a case must be a mapping');
    const tc = c as Record<string, any>;
    for (const k of Object.keys(tc)) if (!CASE_KEYS.includes(k)) fail([...path, k], `unknown case key "${k}"${hint(k, CASE_KEYS)}`);
    const name = typeof tc.name === 'string' ? tc.name : `case ${i + 1}`;
    const adapter = subjects.get(String(tc.subject));
    if (!adapter) fail([...path, 'subject'], `unknown subject "${tc.subject}"${hint(String(tc.subject), subjects.kinds())} (expected ${subjects.kinds().join(', ')})`);
    if ((tc.input === undefined) === (tc.inputFile === undefined)) fail(path, 'a case needs exactly one of input and inputFile');
    if (tc.stage !== undefined && !STAGES.includes(tc.stage)) fail([...path, 'stage'], `unknown stage "${tc.stage}" (expected ${STAGES.join(', ')})`);
    const now = tc.now === undefined ? undefined : new Date(tc.now instanceof Date ? tc.now.toISOString() : String(tc.now));
    if (now && Number.isNaN(now.getTime())) fail([...path, 'now'], `now must be a date or timestamp`);
    const expect = tc.expect;
    if (!isMap(expect)) fail([...path, 'expect'], 'expect must be a mapping with decision, violations and/or enforcement');
    for (const k of Object.keys(expect)) if (!EXPECT_KEYS.includes(k)) fail([...path, 'expect', k], `unknown expect key "${k}"${hint(k, EXPECT_KEYS)}`);
    if (expect.decision !== undefined && !['allow', 'deny', 'warn'].includes(expect.decision)) fail([...path, 'expect', 'decision'], 'decision must be allow, deny or warn');
    const line = doc.positionOf(path).line;
    try {
      const value = tc.inputFile !== undefined
        ? await subjectFromFile(subjects, adapter!.kind, resolve(base, String(tc.inputFile)))
        : adapter!.fromData
          ? await adapter!.fromData(tc.input, `${at([...path, 'input'])}`)
          : fail([...path, 'input'], `subject ${adapter!.kind} cannot be given inline`);
      const verdict = evaluate({ kind: adapter!.kind, value }, set, { stage: tc.stage as Stage | undefined, now });
      const actual = {
        decision: verdict.decision,
        enforcement: verdict.enforcement,
        violations: [...new Set(verdict.violations.map((f) => f.policy?.id ?? f.id))].sort(),
      };
      const diff = compare(expect, actual);
      results.push({ file: doc.file, line, test: testName, name, passed: diff.length === 0, diff, verdict: actual });
    } catch (e) {
      if (!(e instanceof UserError)) throw e;
      results.push({ file: doc.file, line, test: testName, name, passed: false, diff: [], error: e.message });
    }
  }
  return results;
}

function compare(expect: Record<string, any>, actual: { decision: Decision; enforcement: string[]; violations: string[] }): string[] {
  const diff: string[] = [];
  if (expect.decision !== undefined && expect.decision !== actual.decision) diff.push(`decision: expected ${expect.decision}, got ${actual.decision}`);
  for (const key of ['violations', 'enforcement'] as const) {
    if (expect[key] === undefined) continue;
    const want = [...new Set((Array.isArray(expect[key]) ? expect[key] : [expect[key]]).map(String))].sort() as string[];
    const got = [...actual[key]].sort();
    const missing = want.filter((x) => !got.includes(x));
    const extra = got.filter((x) => !want.includes(x));
    if (missing.length || extra.length) {
      diff.push(`${key}: expected [${want.join(', ')}], got [${got.join(', ')}]`);
      for (const m of missing) diff.push(`  - ${m} (expected, not reported)`);
      for (const x of extra) diff.push(`  + ${x} (reported, not expected)`);
    }
  }
  return diff;
}

function hint(name: string, candidates: readonly string[]): string {
  const guess = closest(name, candidates);
  return guess ? ` (did you mean "${guess}"?)` : '';
}
