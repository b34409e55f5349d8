/**
 * fnmatch(3)-style glob matching without FNM_PATHNAME (`*` also matches '/'), as Falco's
 * `glob` operator does. Written by hand instead of translating to a RegExp because the
 * iterative two-pointer algorithm never backtracks exponentially (`*a*a*a*b` stays linear
 * per star), which keeps hostile patterns cheap.
 */
type Part = { kind: 'char'; c: string } | { kind: 'any' } | { kind: 'star' } | { kind: 'set'; neg: boolean; items: Array<[string, string]> };

function compile(pattern: string): Part[] {
  const parts: Part[] = [];
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') {
      if (parts[parts.length - 1]?.kind !== 'star') parts.push({ kind: 'star' });
    } else if (c === '?') {
      parts.push({ kind: 'any' });
    } else if (c === '\\' && i + 1 < pattern.length) {
      parts.push({ kind: 'char', c: pattern[++i]! });
    } else if (c === '[') {
      let j = i + 1;
      let neg = false;
      if (pattern[j] === '!' || pattern[j] === '^') {
        neg = true;
        j++;
      }
      const items: Array<[string, string]> = [];
      let first = true;
      while (j < pattern.length && (pattern[j] !== ']' || first)) {
        const lo = pattern[j]!;
        if (pattern[j + 1] === '-' && j + 2 < pattern.length && pattern[j + 2] !== ']') {
          items.push([lo, pattern[j + 2]!]);
          j += 3;
        } else {
          items.push([lo, lo]);
          j++;
        }
        first = false;
      }
      if (j >= pattern.length) {
        parts.push({ kind: 'char', c: '[' }); // unterminated: a literal '['
      } else {
        parts.push({ kind: 'set', neg, items });
        i = j;
      }
    } else {
      parts.push({ kind: 'char', c });
    }
  }
  return parts;
}

function one(p: Part, c: string): boolean {
  switch (p.kind) {
    case 'char':
      return p.c === c;
    case 'any':
      return true;
    case 'set': {
      const hit = p.items.some(([lo, hi]) => c >= lo && c <= hi);
      return p.neg ? !hit : hit;
    }
    default:
      return false;
  }
}

export function compileGlob(pattern: string, caseInsensitive = false): (s: string) => boolean {
  const parts = compile(caseInsensitive ? pattern.toLowerCase() : pattern);
  return (input: string) => {
    const s = caseInsensitive ? input.toLowerCase() : input;
    let pi = 0;
    let si = 0;
    let starP = -1;
    let starS = 0;
    while (si < s.length) {
      const p = parts[pi];
      if (p && p.kind === 'star') {
        starP = pi++;
        starS = si;
      } else if (p && one(p, s[si]!)) {
        pi++;
        si++;
      } else if (starP >= 0) {
        pi = starP + 1;
        si = ++starS;
      } else {
        return false;
      }
    }
    while (parts[pi]?.kind === 'star') pi++;
    return pi === parts.length;
  };
}
