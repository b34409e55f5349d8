/** Stanza files in the RFC 822 style of dpkg's status and apk's installed database. */

export interface StanzaParse {
  stanzas: Array<Record<string, string>>;
  /** One message per stanza dropped because of a malformed line (line numbers 1-based). */
  errors: string[];
}

/**
 * Splits "Key: value" stanzas separated by blank lines; continuation lines are appended.
 * A malformed line drops only its own stanza, so one corrupt entry loses one package.
 */
export function parseStanzas(text: string, sep = ':'): StanzaParse {
  const stanzas: Array<Record<string, string>> = [];
  const errors: string[] = [];
  let cur: Record<string, string> = {};
  let last: string | undefined;
  let bad: string | undefined;
  const flush = () => {
    if (bad) errors.push(bad);
    else if (Object.keys(cur).length) stanzas.push(cur);
    cur = {};
    last = undefined;
    bad = undefined;
  };
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n];
    if (line.trim() === '') {
      flush();
      continue;
    }
    if (bad) continue;
    if ((line[0] === ' ' || line[0] === '\t') && last) {
      cur[last] += '\n' + line.slice(1);
      continue;
    }
    const i = line.indexOf(sep);
    if (i <= 0) {
      bad = `malformed line ${n + 1}: ${JSON.stringify(line.slice(0, 40))}`;
      continue;
    }
    last = line.slice(0, i);
    cur[last] = line.slice(i + 1).trim();
  }
  flush();
  return { stanzas, errors };
}

/** A warning summarizing dropped stanzas, or undefined. */
export function stanzaWarning(errors: string[]): string | undefined {
  if (!errors.length) return undefined;
  return `${errors.length} corrupt entr${errors.length === 1 ? 'y' : 'ies'} skipped (first: ${errors[0]})`;
}
