/**
 * A neutral YAML reader that remembers where every node came from: policy packs, test
 * cases and other data files report errors as file:line without going through the
 * Kubernetes manifest loader. Documents are plain JSON-like values plus `positionOf(path)`.
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { LineCounter, parseAllDocuments, isCollection, type Document } from 'yaml';
import { UserError, describeError } from './errors.js';

export type FieldPath = readonly (string | number)[];

export interface Position {
  file: string;
  line: number;
  column: number;
}

export interface PositionedDocument {
  file: string;
  /** The document as plain data (null for an empty document). */
  value: unknown;
  /** Position of the node at `path` (or of its closest existing parent). */
  positionOf(path: FieldPath): Position;
}

export interface ReadYamlOptions {
  /** Largest file read (default 8 MiB): packs are small; anything bigger is a mistake or an attack. */
  maxBytes?: number;
  /** Alias expansions allowed per document (YAML bombs); default 100 as the yaml library. */
  maxAliasCount?: number;
}

const DEFAULT_MAX_BYTES = 8 * 1024 * 1024;
const YAML_EXTENSIONS = new Set(['.yaml', '.yml', '.json']);

/** Parses every document of a YAML text; a syntax error is a UserError naming file:line. */
export function parsePositionedYaml(text: string, file: string, opts: ReadYamlOptions = {}): PositionedDocument[] {
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  const list: Document.Parsed[] = Array.isArray(docs) ? docs : [docs as unknown as Document.Parsed];
  const out: PositionedDocument[] = [];
  for (const doc of list) {
    const err = doc.errors[0];
    if (err) {
      const { line } = lineCounter.linePos(err.pos[0]);
      throw new UserError(`${file}:${line}: invalid YAML: ${err.message.split('\n')[0]}`, 'bad-yaml');
    }
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: opts.maxAliasCount ?? 100 });
    } catch (e) {
      const start = doc.contents?.range?.[0] ?? 0;
      throw new UserError(`${file}:${lineCounter.linePos(start).line}: invalid YAML: ${describeError(e)}`, 'bad-yaml');
    }
    if (value === null || value === undefined) continue;
    out.push({
      file,
      value,
      positionOf(path) {
        let node: unknown = doc.contents;
        let best = (node as { range?: [number, number, number] } | null)?.range?.[0] ?? 0;
        for (const key of path) {
          if (!isCollection(node)) break;
          const next = node.get(key, true);
          if (!next || typeof next !== 'object') {
            // A scalar child: find its pair to point at the key's line.
            break;
          }
          node = next;
          const r = (node as { range?: [number, number, number] }).range;
          if (r) best = r[0];
        }
        const pos = lineCounter.linePos(best);
        return { file, line: pos.line, column: pos.col };
      },
    });
  }
  return out;
}

/** Files a path names: the file itself, or every *.yaml|*.yml|*.json under a directory (sorted). */
export async function expandYamlPaths(input: string): Promise<string[]> {
  let st;
  try {
    st = await stat(input);
  } catch (e) {
    throw new UserError(`cannot read ${input}: ${describeError(e)}`, 'bad-path');
  }
  if (!st.isDirectory()) return [input];
  const out: string[] = [];
  for (const name of (await readdir(input)).sort()) {
    if (name.startsWith('.')) continue;
    const p = join(input, name);
    const s = await stat(p);
    if (s.isDirectory()) out.push(...(await expandYamlPaths(p)));
    else if (YAML_EXTENSIONS.has(extname(name).toLowerCase())) out.push(p);
  }
  return out;
}

/** Reads and parses one YAML file with a size cap. */
export async function readPositionedYaml(file: string, opts: ReadYamlOptions = {}): Promise<PositionedDocument[]> {
  const max = opts.maxBytes ?? DEFAULT_MAX_BYTES;
  let st;
  try {
    st = await stat(file);
  } catch (e) {
    throw new UserError(`cannot read ${file}: ${describeError(e)}`, 'bad-path');
  }
  if (st.size > max) throw new UserError(`${file}: ${st.size} bytes is larger than the ${max}-byte limit for this kind of file`, 'too-large');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new UserError(`cannot read ${file}: ${describeError(e)}`, 'bad-path');
  }
  return parsePositionedYaml(text, file, opts);
}
