/**
 * Places rendered objects in the template text that produced them. Helm tells which template
 * a document came from but not the line, and a template's lines are not the rendered lines
 * (includes, `toYaml | nindent`, conditionals), so the place is found by searching the
 * template: the object at its `kind: K` line (the one whose part of the file names it, else
 * the n-th object of that template at the n-th such line; a `range` loop that yields many
 * objects from one line shares it), and a field
 * at the first line inside that object's part of the template that holds the field's key,
 * or its closest parent key found there (`securityContext:` for
 * `…securityContext.privileged` when the template inserts `toYaml .Values.securityContext`).
 * Nothing found: line 1 of the template.
 */
import type { FieldPath, SourcePosition } from '../manifests.js';

export interface Placed {
  source: SourcePosition;
  positionOf(path: FieldPath): SourcePosition;
}

const TOP_LEVEL_KIND = /^kind:/;

export class TemplateLocator {
  private readonly lines: string[];
  /** Index of the line after the last placed object's kind line. */
  private cursor = 0;

  constructor(
    private readonly file: string,
    text: string,
  ) {
    this.lines = text.split('\n');
  }

  place(kind: string, name?: string): Placed {
    const at = name ? this.namedKindLine(kind, name) : -1;
    return this.placeAt(at >= 0 ? at : this.kindLine(kind));
  }

  private placeAt(at: number): Placed {
    if (at >= 0) this.cursor = at + 1;
    const objectLine = at >= 0 ? at : 0;
    const source = { file: this.file, line: objectLine + 1, column: 1 };
    const [start, end] = at >= 0 ? this.region(at) : [0, this.lines.length];
    return {
      source,
      positionOf: (path) => this.fieldLine(path, objectLine, start, end) ?? source,
    };
  }

  /** The `kind: K` line whose part of the file has `name: NAME` (plain YAML, not templated names). */
  private namedKindLine(kind: string, name: string): number {
    const exact = kindPattern(kind);
    const named = new RegExp(`^\\s*name:\\s*["']?${escape(name)}["']?\\s*(#.*)?$`);
    for (let i = 0; i < this.lines.length; i++) {
      if (!exact.test(this.lines[i]!)) continue;
      const [start, end] = this.region(i);
      for (let j = start; j < end; j++) if (named.test(this.lines[j]!)) return i;
    }
    return -1;
  }

  private kindLine(kind: string): number {
    const exact = kindPattern(kind);
    const find = (re: RegExp, from: number): number => {
      for (let i = from; i < this.lines.length; i++) if (re.test(this.lines[i]!)) return i;
      return -1;
    };
    const after = find(exact, this.cursor);
    if (after >= 0) return after;
    const templated = find(/^kind:\s*.*\{\{/, this.cursor);
    if (templated >= 0) return templated;
    return find(exact, 0); // a loop rendering several objects from one template line
  }

  /** The part of the template between the neighbouring top-level `kind:` lines. */
  private region(kindAt: number): [number, number] {
    let start = kindAt;
    while (start > 0 && !TOP_LEVEL_KIND.test(this.lines[start - 1]!) && !/^---/.test(this.lines[start - 1]!)) start--;
    let end = kindAt + 1;
    while (end < this.lines.length && !TOP_LEVEL_KIND.test(this.lines[end]!) && !/^---/.test(this.lines[end]!)) end++;
    return [start, end];
  }

  private fieldLine(path: FieldPath, objectLine: number, start: number, end: number): SourcePosition | undefined {
    for (let n = path.length; n > 0; n--) {
      const key = path[n - 1];
      if (typeof key !== 'string') continue;
      const re = new RegExp(`^(\\s*(?:-\\s+)?)["']?${escape(key)}["']?\\s*:`);
      for (const [from, to] of [[objectLine, end], [start, objectLine]] as const) {
        for (let i = from; i < to; i++) {
          const m = re.exec(this.lines[i]!);
          if (m) return { file: this.file, line: i + 1, column: m[1]!.length + 1 };
        }
      }
    }
    return undefined;
  }
}

const escape = (s: string): string => s.replace(/[^\w]/g, '\\$&');
const kindPattern = (kind: string): RegExp => new RegExp(`^\\s*kind:\\s*["']?${escape(kind)}["']?\\s*(#.*)?$`);
