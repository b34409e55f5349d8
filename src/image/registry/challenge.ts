/** Parses WWW-Authenticate challenges (RFC 7235) as registries send them. */

export interface Challenge {
  scheme: string; // lower-case: basic, bearer
  params: Record<string, string>;
}

/**
 * Hand-written because the header mixes comma-separated challenges and parameters with
 * quoted strings; no small maintained npm parser handles the registry variants.
 */
export function parseChallenges(header: string): Challenge[] {
  const out: Challenge[] = [];
  let i = 0;
  const n = header.length;
  let current: Challenge | undefined;
  const skipWs = () => {
    while (i < n && /[\s,]/.test(header[i]!)) i++;
  };
  while (i < n) {
    skipWs();
    const start = i;
    while (i < n && /[^\s,=]/.test(header[i]!)) i++;
    const token = header.slice(start, i);
    if (!token) break;
    let j = i;
    while (j < n && header[j] === ' ') j++;
    if (header[j] === '=') {
      // A parameter of the current challenge.
      i = j + 1;
      while (i < n && header[i] === ' ') i++;
      let value = '';
      if (header[i] === '"') {
        i++;
        while (i < n && header[i] !== '"') {
          if (header[i] === '\\' && i + 1 < n) i++;
          value += header[i];
          i++;
        }
        i++;
      } else {
        const vs = i;
        while (i < n && header[i] !== ',') i++;
        value = header.slice(vs, i).trim();
      }
      if (current) current.params[token.toLowerCase()] = value;
    } else {
      current = { scheme: token.toLowerCase(), params: {} };
      out.push(current);
    }
  }
  return out;
}
