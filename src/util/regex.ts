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
  let re: RE2JS;
  try {
    re = RE2JS.compile(pattern);
  } catch (e) {
    throw new Error(`invalid regex '${pattern}': ${e instanceof Error ? e.message : String(e)}`);
  }
  if (opts.full ?? true) return (s: string) => re.matches(s);
  return (s: string) => re.matcher(s).find();
}
