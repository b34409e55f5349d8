/**
 * REFERENCE ONLY: the engine proxy's evaluator before issue 15 (src/engine-proxy/decide.ts at
 * 0f599c8), kept verbatim for the differential test (differential.test.ts). The proxy now
 * decides through src/policy/evaluate.ts.
 */
import { posix } from 'node:path';
import type { Facts, FactValue } from '../../../src/engine-proxy/facts.js';
import type { Condition, EnginePolicy, Rule } from './policy.js';

export interface RuleHit {
  id: string;
  title: string;
  mode: 'enforce' | 'audit';
}

export interface Decision {
  /** allow: nothing matched; deny: an enforce rule matched; audit: only audit rules matched (would deny). */
  verdict: 'allow' | 'deny' | 'audit';
  hits: RuleHit[];
  /** One line for the client and the log, naming the rules. */
  message: string;
}

export function ruleApplies(rule: Rule, action: string): boolean {
  return rule.actions.some((a) => a === '*' || a === action || (a.endsWith('.*') && action.startsWith(a.slice(0, -1))));
}

export function decide(policy: EnginePolicy, facts: Facts): Decision {
  const action = String(facts.action ?? 'unknown');
  const hits: RuleHit[] = [];
  for (const rule of policy.rules) {
    if (!ruleApplies(rule, action)) continue;
    if (holds(rule.when, facts)) hits.push({ id: rule.id, title: rule.title, mode: rule.mode });
  }
  const enforced = hits.filter((h) => h.mode === 'enforce');
  const verdict = enforced.length ? 'deny' : hits.length ? 'audit' : 'allow';
  const shown = enforced.length ? enforced : hits;
  const message =
    verdict === 'allow'
      ? 'allowed'
      : `${verdict === 'deny' ? 'denied' : 'would deny (audit mode)'} by gatehouse policy "${policy.name}": ${shown.map((h) => `${h.id} ${h.title}`).join('; ')}`;
  return { verdict, hits, message };
}

export function holds(c: Condition, facts: Facts): boolean {
  if ('all' in c) return c.all.every((x) => holds(x, facts));
  if ('any' in c) return c.any.some((x) => holds(x, facts));
  if ('not' in c) return !holds(c.not, facts);
  return test(facts[c.field], c.op, c.value);
}

/** Arrays hold when any element does (a list of binds violates if one bind does). */
function test(v: FactValue | undefined, op: string, want: unknown): boolean {
  const present = v !== undefined && v !== '' && !(Array.isArray(v) && v.length === 0);
  if (op === 'exists') return present;
  if (op === 'absent') return !present;
  if (v === undefined) return false;
  const values: (string | number | boolean)[] = Array.isArray(v) ? v : [v];
  const list = Array.isArray(want) ? want : [want];
  switch (op) {
    case 'equals':
      return values.some((x) => same(x, want));
    case 'notEquals':
      return values.some((x) => !same(x, want));
    case 'in':
      return values.some((x) => list.some((w) => same(x, w)));
    case 'notIn':
      return values.some((x) => !list.some((w) => same(x, w)));
    case 'matches':
      return values.some((x) => new RegExp(String(want)).test(String(x)));
    case 'notMatches':
      return values.some((x) => !new RegExp(String(want)).test(String(x)));
    case 'under':
      return values.some((x) => list.some((w) => isUnder(String(x), String(w))));
    default:
      return false;
  }
}

function same(a: string | number | boolean, b: unknown): boolean {
  return a === b || String(a) === String(b);
}

function isUnder(path: string, dir: string): boolean {
  const p = posix.normalize(path);
  const d = posix.normalize(dir).replace(/\/$/, '') || '/';
  return d === '/' || p === d || p.startsWith(`${d}/`);
}
