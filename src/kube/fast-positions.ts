/**
 * Fast path of the manifest loader: js-yaml reads the values, and its parse listener
 * records where every mapping and sequence starts. A field's line is then found by
 * scanning only its parent's lines for the key (block style, which is what kubectl and
 * helm emit). Anything this cannot place exactly (flow style, odd keys) returns
 * undefined and the caller asks the `yaml` library instead.
 */
import jsyaml from 'js-yaml';
import type { FieldPath } from './manifests.js';

export interface Located {
  data: unknown;
  locate(path: FieldPath): { line: number; column: number } | undefined;
}

export function loadLocated(text: string): Located {
  const ranges = new WeakMap<object, number>();
  const stack: number[] = [];
  const data = jsyaml.load(text, {
    schema: jsyaml.CORE_SCHEMA,
    json: true, // duplicate keys: last wins, as the API server does
    listener(event, state) {
      if (event === 'open') {
        stack.push(state.position);
      } else {
        const start = stack.pop()!;
        const r = state.result;
        if (r !== null && typeof r === 'object' && !ranges.has(r)) ranges.set(r, start);
      }
    },
  });
  let lineStarts: number[] | undefined;
  const lineOf = (offset: number): number => {
    if (!lineStarts) {
      lineStarts = [0];
      for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) lineStarts.push(i + 1);
    }
    let lo = 0;
    let hi = lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (lineStarts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  };
  /** First significant character at or after the listener's open position. */
  const startOf = (obj: object): number | undefined => {
    let p = ranges.get(obj);
    if (p === undefined) return undefined;
    while (p < text.length) {
      const ch = text[p]!;
      if (ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r') p++;
      else if (ch === '#') p = text.indexOf('\n', p) < 0 ? text.length : text.indexOf('\n', p);
      else if (ch === '-' && (text[p + 1] === ' ' || text[p + 1] === '\n') && !Array.isArray(obj)) p++; // "- key: v" item
      else break;
    }
    return p;
  };
  const pos = (offset: number) => {
    const line = lineOf(offset);
    return { line: line + 1, column: offset - lineStarts![line]! + 1 };
  };
  let lineCache: string[] | undefined;

  /** Line of `key` (mapping) or of item `index` (sequence) directly inside `parent`. */
  const findChild = (parent: object, key: string | number): { line: number; column: number } | undefined => {
    const start = startOf(parent);
    if (start === undefined || text[start] === '{' || text[start] === '[') return undefined;
    const first = lineOf(start);
    const col = start - lineStarts![first]!;
    const ls = (lineCache ??= text.split('\n'));
    let seen = 0;
    for (let i = first; i < ls.length; i++) {
      const line = ls[i]!;
      if (i > first) {
        const indent = line.search(/\S/);
        if (indent < 0 || line[indent] === '#') continue; // blank or comment
        if (indent < col) break; // left the parent
        if (indent > col) continue; // nested deeper
      }
      const rest = line.slice(col);
      if (typeof key === 'number') {
        if (Array.isArray(parent) && /^-(\s|$)/.test(rest)) {
          if (seen === key) return { line: i + 1, column: col + 1 };
          seen++;
        }
        continue;
      }
      for (const k of [key, `"${key}"`, `'${key}'`]) {
        if (rest.startsWith(k) && /^\s*:(\s|$)/.test(rest.slice(k.length))) return { line: i + 1, column: col + 1 };
      }
    }
    return undefined;
  };

  return {
    data,
    locate(path) {
      let node: unknown = data;
      for (let i = 0; i < path.length; i++) {
        if (node === null || typeof node !== 'object') return undefined;
        const key = path[i]!;
        const child = (node as any)[key];
        if (child === undefined) {
          // Missing field: report the closest existing parent, as the exact path does.
          const s = startOf(node);
          return s === undefined ? undefined : pos(s);
        }
        if (child !== null && typeof child === 'object' && ranges.has(child)) {
          node = child;
          continue;
        }
        // A scalar (or an aliased node): the line of its key / item.
        return i === path.length - 1 ? findChild(node, key) : undefined;
      }
      const s = startOf(node as object);
      return s === undefined ? undefined : pos(s);
    },
  };
}
