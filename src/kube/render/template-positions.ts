/**
 * Places rendered objects in the template text that produced them. Helm tells which template
 * a document came from but not the line, and a template's lines are not the rendered lines
 * (includes, `toYaml | nindent`, conditionals), so the place is found by searching the
 * template: the object at its `kind: K` line (the one whose part of the file names it, else
 * the n-th object of that template at the n-th such line; a `range` loop that yields many
 * objects from one line shares it), and a field by following its path down the template's
 * indentation to the deepest part the template spells out (`securityContext:` of the
 * container for `…containers[0].securityContext.privileged` when the template inserts
 * `toYaml .Values.securityContext`).
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
      positionOf: (path) => this.fieldLine(path, start, end) ?? source,
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

  /**
   * Follows the path down the template: each key is looked for inside the block of the last
   * part found (lines indented deeper, template directives ignored), an index as the n-th
   * `-` item of that block; a part the template does not spell out (inserted by `toYaml`, an
   * `include`, a `range`) is passed over.
   */
  private fieldLine(path: FieldPath, start: number, end: number): SourcePosition | undefined {
    let found: { line: number; indent: number; item?: boolean } | undefined;
    for (const key of path) {
      const from = found ? found.line + (found.item ? 0 : 1) : start;
      const parentIndent = found?.indent ?? -1;
      const next = typeof key === 'number' ? this.itemLine(key, from, end, parentIndent) : this.keyLine(key, from, end, parentIndent, !!found);
      if (next) found = next;
    }
    return found ? { file: this.file, line: found.line + 1, column: found.indent + 1 } : undefined;
  }

  private keyLine(key: string, from: number, end: number, parentIndent: number, inBlock: boolean): { line: number; indent: number } | undefined {
    const re = new RegExp(`^(\\s*(?:-\\s+)?)["']?${escape(key)}["']?\\s*:`);
    for (let i = from; i < end; i++) {
      const line = this.lines[i]!;
      const m = re.exec(line);
      if (m && m[1]!.length > parentIndent) return { line: i, indent: m[1]!.length };
      if (inBlock && i > from && endsBlock(line, parentIndent)) return undefined;
    }
    return undefined;
  }

  /** The n-th `- ` item under the parent (a compact sequence may sit at the parent's indent). */
  private itemLine(n: number, from: number, end: number, parentIndent: number): { line: number; indent: number; item: true } | undefined {
    let itemIndent = -1;
    let count = -1;
    for (let i = from; i < end; i++) {
      const line = this.lines[i]!;
      const m = /^(\s*)-(\s|$)/.exec(line);
      if (m && m[1]!.length >= parentIndent && (itemIndent < 0 || m[1]!.length === itemIndent)) {
        itemIndent = m[1]!.length;
        if (++count === n) return { line: i, indent: itemIndent, item: true };
        continue;
      }
      if (endsBlock(line, parentIndent)) return undefined;
    }
    return undefined;
  }
}

const escape = (s: string): string => s.replace(/[^\w]/g, '\\$&');
const kindPattern = (kind: string): RegExp => new RegExp(`^\\s*kind:\\s*["']?${escape(kind)}["']?\\s*(#.*)?$`);

/** A line of YAML (not a blank, comment or template directive) at or left of the indent. */
function endsBlock(line: string, indent: number): boolean {
  const text = line.trim();
  if (!text || text.startsWith('#') || text.startsWith('{{')) return false;
  return line.length - line.trimStart().length <= indent;
}
