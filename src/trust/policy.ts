/**
 * Trust policy: which registries/repositories (globs over `registry/repository`) require
 * signatures by which keys (k of n), which are rejected outright and which are exempt.
 * First matching rule wins; no match falls to `default` (reject unless set). The same
 * model is meant for the admission webhook and the engine proxy.
 *
 *   keys:
 *     release: keys/release.pub        # path, relative to the policy file
 *     ci: { pem: "-----BEGIN PUBLIC KEY-----…" }
 *   rules:
 *     - match: ["registry.example/prod/**"]
 *       action: require
 *       keys: [release, ci]
 *       threshold: 2
 *       annotations: { env: prod }
 *     - match: ["docker.io/library/*"]
 *       action: exempt
 *   default: reject
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { globMatcher } from '../util/glob.js';
import { parse as parseYaml } from 'yaml';
import { UserError, describeError } from '../util/errors.js';
import { loadPublicKey, parsePublicKey } from './keys.js';
import type { SignatureEvidence, TrustedKey } from './verify.js';

export type PolicyAction = 'require' | 'reject' | 'exempt';

export interface TrustRule {
  name: string;
  match: string[];
  action: PolicyAction;
  keys: string[];
  threshold: number;
  annotations: Record<string, string>;
  matcher: (name: string) => boolean;
}

export interface TrustPolicy {
  keys: Map<string, TrustedKey>;
  rules: TrustRule[];
  default: 'reject' | 'exempt';
}

export interface TrustDecision {
  allowed: boolean;
  action: PolicyAction | 'default-reject' | 'default-exempt';
  rule?: string;
  reason: string;
  /** Keys with at least one verified signature (require rules only). */
  satisfiedKeys: string[];
}

const ACTIONS = new Set(['require', 'reject', 'exempt']);
const RULE_FIELDS = new Set(['name', 'match', 'action', 'keys', 'threshold', 'annotations']);
const TOP_FIELDS = new Set(['keys', 'rules', 'default']);

export async function loadTrustPolicy(path: string): Promise<TrustPolicy> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new UserError(`cannot read trust policy ${path}: ${(e as NodeJS.ErrnoException).code ?? describeError(e)}`, 'io');
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw new UserError(`${path}: invalid YAML: ${describeError(e)}`, 'bad-policy');
  }
  return parseTrustPolicy(doc, path, dirname(resolve(path)));
}

/** Validates a parsed policy document; unknown fields are errors, since a typo must not weaken a security policy. */
export async function parseTrustPolicy(doc: unknown, source: string, baseDir: string): Promise<TrustPolicy> {
  const fail = (msg: string): never => {
    throw new UserError(`${source}: ${msg}`, 'bad-policy');
  };
  if (!isObject(doc)) return fail('a trust policy must be a YAML mapping with keys, rules and default');
  for (const k of Object.keys(doc)) if (!TOP_FIELDS.has(k)) fail(`unknown field "${k}" (expected keys, rules, default)`);

  const keys = new Map<string, TrustedKey>();
  const keyDocs = doc.keys ?? {};
  if (!isObject(keyDocs)) fail('"keys" must map key names to public key files or { pem: … }');
  for (const [name, spec] of Object.entries(keyDocs as Record<string, unknown>)) {
    if (typeof spec === 'string') {
      keys.set(name, { name, key: await loadPublicKey(resolve(baseDir, spec)) });
    } else if (isObject(spec) && typeof spec.pem === 'string') {
      keys.set(name, { name, key: parsePublicKey(spec.pem, `${source}: key ${name}`) });
    } else if (isObject(spec) && typeof spec.path === 'string') {
      keys.set(name, { name, key: await loadPublicKey(resolve(baseDir, spec.path)) });
    } else {
      fail(`key "${name}" must be a file path, { path: … } or { pem: … }`);
    }
  }

  const dflt = doc.default ?? 'reject';
  if (dflt !== 'reject' && dflt !== 'exempt') fail(`"default" must be reject or exempt, not "${String(dflt)}"`);

  const rulesDoc = doc.rules ?? [];
  if (!Array.isArray(rulesDoc)) fail('"rules" must be a list');
  const rules: TrustRule[] = (rulesDoc as unknown[]).map((r, i) => {
    const where = `rule ${i + 1}`;
    if (!isObject(r)) return fail(`${where} must be a mapping`);
    for (const k of Object.keys(r)) if (!RULE_FIELDS.has(k)) fail(`${where}: unknown field "${k}"`);
    const match = typeof r.match === 'string' ? [r.match] : r.match;
    if (!Array.isArray(match) || match.length === 0 || !match.every((m) => typeof m === 'string' && m !== '')) {
      fail(`${where}: "match" must be a glob or a list of globs over registry/repository`);
    }
    const action = r.action;
    if (typeof action !== 'string' || !ACTIONS.has(action)) fail(`${where}: "action" must be require, reject or exempt`);
    const ruleKeys = r.keys ?? [];
    if (!Array.isArray(ruleKeys) || !ruleKeys.every((k) => typeof k === 'string')) fail(`${where}: "keys" must be a list of key names`);
    for (const k of ruleKeys as string[]) if (!keys.has(k)) fail(`${where}: unknown key "${k}"`);
    if (action === 'require' && (ruleKeys as string[]).length === 0) fail(`${where}: a require rule needs at least one key`);
    const threshold = r.threshold ?? 1;
    if (!Number.isInteger(threshold) || (threshold as number) < 1 || (threshold as number) > Math.max(1, (ruleKeys as string[]).length)) {
      fail(`${where}: "threshold" must be an integer between 1 and the number of keys`);
    }
    const annotations = r.annotations ?? {};
    if (!isObject(annotations) || !Object.values(annotations).every((v) => typeof v === 'string')) {
      fail(`${where}: "annotations" must map names to string values`);
    }
    const globs = match as string[];
    return {
      name: typeof r.name === 'string' ? r.name : `#${i + 1}`,
      match: globs,
      action: action as PolicyAction,
      keys: ruleKeys as string[],
      threshold: threshold as number,
      annotations: annotations as Record<string, string>,
      matcher: globMatcher(globs),
    };
  });
  return { keys, rules, default: dflt as 'reject' | 'exempt' };
}

/** The first rule whose globs match `registry/repository`, if any. */
export function findRule(policy: TrustPolicy, repositoryName: string): TrustRule | undefined {
  return policy.rules.find((r) => r.matcher(repositoryName));
}

/** The trusted keys a rule names. */
export function ruleKeys(policy: TrustPolicy, rule: TrustRule): TrustedKey[] {
  return rule.keys.map((k) => policy.keys.get(k)!);
}

/** Decides from the matched rule and the signature evidence gathered with its keys. */
export function decide(policy: TrustPolicy, rule: TrustRule | undefined, evidence?: SignatureEvidence): TrustDecision {
  if (!rule) {
    return policy.default === 'exempt'
      ? { allowed: true, action: 'default-exempt', reason: 'no rule matches; policy default is exempt', satisfiedKeys: [] }
      : { allowed: false, action: 'default-reject', reason: 'no rule matches; policy default is reject', satisfiedKeys: [] };
  }
  if (rule.action === 'exempt') return { allowed: true, action: 'exempt', rule: rule.name, reason: `exempt by rule ${rule.name}`, satisfiedKeys: [] };
  if (rule.action === 'reject') return { allowed: false, action: 'reject', rule: rule.name, reason: `rejected by rule ${rule.name}`, satisfiedKeys: [] };
  const satisfied = new Set<string>();
  for (const sig of evidence?.verified ?? []) for (const k of sig.keys) if (rule.keys.includes(k)) satisfied.add(k);
  const satisfiedKeys = [...satisfied].sort();
  if (satisfiedKeys.length >= rule.threshold) {
    return { allowed: true, action: 'require', rule: rule.name, reason: `signed by ${satisfiedKeys.join(', ')} (${satisfiedKeys.length} of ${rule.threshold} required)`, satisfiedKeys };
  }
  const rejected = [...new Set((evidence?.rejected ?? []).map((r) => r.reason))];
  const why = rejected.length ? `; rejected signatures: ${rejected.join('; ')}` : '';
  return {
    allowed: false,
    action: 'require',
    rule: rule.name,
    reason: `rule ${rule.name} requires signatures by ${rule.threshold} of [${rule.keys.join(', ')}], found ${satisfiedKeys.length}${satisfiedKeys.length ? ` (${satisfiedKeys.join(', ')})` : ''}${why}`,
    satisfiedKeys,
  };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
