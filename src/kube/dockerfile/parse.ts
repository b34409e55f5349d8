/**
 * Dockerfile parser: instructions with their starting line, continuation lines joined,
 * comments and parser directives skipped, heredoc bodies attached to their instruction.
 * Written by hand: the npm Dockerfile parsers are unmaintained or lack line numbers for
 * continued instructions.
 */
export interface Instruction {
  /** Upper-case keyword (FROM, RUN, …). */
  keyword: string;
  /** Arguments with continuations joined by a space. */
  args: string;
  /** 1-based line where the instruction starts. */
  line: number;
  /** 0-based index of the build stage the instruction belongs to (-1 before the first FROM). */
  stage: number;
  heredocs: string[];
}

export interface Dockerfile {
  instructions: Instruction[];
  stages: { index: number; name?: string; image: string; line: number }[];
}

export function parseDockerfile(text: string): Dockerfile {
  const lines = text.split(/\r?\n/);
  let escape = '\\';
  const instructions: Instruction[] = [];
  const stages: Dockerfile['stages'] = [];
  let i = 0;
  let directivesDone = false;
  while (i < lines.length) {
    const raw = lines[i]!;
    const trimmed = raw.trim();
    if (!directivesDone) {
      const d = /^#\s*([a-zA-Z]+)\s*=\s*(\S+)\s*$/.exec(trimmed);
      if (d) {
        if (d[1]!.toLowerCase() === 'escape') escape = d[2]!;
        i++;
        continue;
      }
      if (trimmed !== '') directivesDone = true;
    }
    if (trimmed === '' || trimmed.startsWith('#')) {
      i++;
      continue;
    }
    const startLine = i + 1;
    let body = '';
    // Join continuation lines; comment lines inside a continuation are dropped (as BuildKit does).
    let cur = raw;
    while (true) {
      const t = cur.replace(/\s+$/, '');
      if (t.endsWith(escape) && i + 1 < lines.length) {
        body += `${t.slice(0, -escape.length)} `;
        i++;
        while (i < lines.length && /^\s*#/.test(lines[i]!)) i++;
        cur = lines[i] ?? '';
        continue;
      }
      body += t;
      i++;
      break;
    }
    const m = /^\s*([A-Za-z]+)\s*(.*)$/s.exec(body);
    if (!m) continue;
    const keyword = m[1]!.toUpperCase();
    const args = m[2]!.trim();
    const heredocs: string[] = [];
    for (const h of args.matchAll(/<<-?\s*["']?([A-Za-z_][A-Za-z0-9_]*)["']?/g)) {
      const end = h[1]!;
      const bodyLines: string[] = [];
      while (i < lines.length && lines[i]!.trim() !== end) bodyLines.push(lines[i++]!);
      i++;
      heredocs.push(bodyLines.join('\n'));
    }
    if (keyword === 'FROM') {
      const parts = args.split(/\s+/).filter((p) => !p.startsWith('--'));
      const asIdx = parts.findIndex((p) => p.toUpperCase() === 'AS');
      stages.push({ index: stages.length, image: parts[0] ?? '', name: asIdx >= 0 ? parts[asIdx + 1] : undefined, line: startLine });
    }
    instructions.push({ keyword, args, line: startLine, stage: stages.length - 1, heredocs });
  }
  return { instructions, stages };
}
