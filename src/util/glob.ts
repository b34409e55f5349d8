/**
 * The one glob semantics for names everywhere (policy scopes, exceptions, trust policies):
 * picomatch's, as cosign's policy-controller uses for images: `*` and `?` stay within a
 * `/`-separated segment, `**` crosses segments, dots are ordinary characters.
 */
import picomatch from 'picomatch';

const cache = new Map<string, (s: string) => boolean>();

export function globMatcher(globs: string | readonly string[]): (value: string) => boolean {
  const key = typeof globs === 'string' ? globs : globs.join('\u0000');
  let m = cache.get(key);
  if (!m) {
    const list = typeof globs === 'string' ? [globs] : [...globs];
    m = picomatch(list, { dot: true, nocase: false });
    if (cache.size > 4096) cache.clear();
    cache.set(key, m);
  }
  return m;
}

export function matchesGlob(value: string, glob: string): boolean {
  return globMatcher(glob)(value);
}

/** True when no globs are given, or one matches. */
export function matchesAnyGlob(value: string, globs: readonly string[] | undefined): boolean {
  if (!globs || globs.length === 0) return true;
  return globMatcher(globs)(value);
}
