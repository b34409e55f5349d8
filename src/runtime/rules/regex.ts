/**
 * The `regex` operator uses RE2 semantics through re2js (a pure-JS port of RE2): matching
 * is linear in the input, so a catastrophic pattern such as `(a+)+b` cannot stall the
 * engine. Like Falco (RE2::FullMatch) the whole value must match. Patterns are capped.
 */
import { RE2JS } from 're2js';

export const MAX_REGEX_LENGTH = 4096;

export function compileRegex(pattern: string): (s: string) => boolean {
  if (pattern.length > MAX_REGEX_LENGTH) throw new Error(`regex longer than ${MAX_REGEX_LENGTH} characters`);
  let re: RE2JS;
  try {
    re = RE2JS.compile(pattern);
  } catch (e) {
    throw new Error(`invalid regex '${pattern}': ${e instanceof Error ? e.message : String(e)}`);
  }
  return (s: string) => re.matches(s);
}
