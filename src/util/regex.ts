/**
 * Every user-supplied regular expression (Falco rules, policy criteria) runs on RE2
 * semantics through re2js (a pure-JS port of RE2): matching is linear in the input, so a
 * catastrophic pattern such as `(a+)+b` cannot stall an engine. Patterns are capped.
 */
import { RE2JS } from 're2js';

export const MAX_REGEX_LENGTH = 4096;

/**
 * `full`: the whole value must match (Falco's RE2::FullMatch); otherwise a match anywhere
 * in the value counts (as JavaScript's RegExp.test), which policy criteria use.
 */
export function compileRegex(pattern: string, opts: { full?: boolean } = { full: true }): (s: string) => boolean {
  if (pattern.length > MAX_REGEX_LENGTH) throw new Error(`regex longer than ${MAX_REGEX_LENGTH} characters`);
  const literal = literalMatcher(pattern, opts.full ?? true);
  if (literal) return literal;
  let re: RE2JS;
  try {
    re = RE2JS.compile(pattern);
  } catch (e) {
    throw new Error(`invalid regex '${pattern}': ${e instanceof Error ? e.message : String(e)}`);
  }
  if (opts.full ?? true) return (s: string) => re.matches(s);
  return (s: string) => re.matcher(s).find();
}

const META = /[\\.+*?()|[\]{}^$]/;
const LITERAL_ESCAPE = /\\([.\-/:@#%&=_~,;'"!<>` ])/g;

/**
 * Patterns that are plain text with optional anchors (`^/etc/`, `\.sh$`, `^bash$`) or an
 * alternation of such (`curl|wget`) match with string operations: same answers as RE2,
 * without running an automaton. Anything else goes to re2js.
 */
function literalMatcher(pattern: string, full: boolean): ((s: string) => boolean) | undefined {
  const branches = pattern.split('|');
  const tests: ((s: string) => boolean)[] = [];
  for (const branch of branches) {
    let body = branch;
    const start = full || body.startsWith('^');
    if (body.startsWith('^')) body = body.slice(1);
    const end = full || (body.endsWith('$') && !body.endsWith('\\$'));
    if (body.endsWith('$') && !body.endsWith('\\$')) body = body.slice(0, -1);
    // Escaped punctuation is literal (`\.` is a dot, not any character); any other escape or
    // metacharacter needs the engine. The test is on what is left once those escapes are gone.
    if (META.test(body.replace(LITERAL_ESCAPE, '')) || (branches.length > 1 && (branch.includes('(') || branch.includes(')')))) return undefined;
    const text = body.replace(LITERAL_ESCAPE, '$1');
    if (start && end) tests.push((s) => s === text);
    else if (start) tests.push((s) => s.startsWith(text));
    else if (end) tests.push((s) => s.endsWith(text));
    else tests.push((s) => s.includes(text));
  }
  return tests.length === 1 ? tests[0] : (s) => tests.some((t) => t(s));
}
