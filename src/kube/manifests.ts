/**
 * Kubernetes manifest loader: YAML/JSON files, directories and stdin into plain objects that
 * remember where they came from (file + line of the object and of any field inside it).
 *
 * API:
 *   loadManifests(inputs, opts)       files, directories (recursive *.yaml|*.yml|*.json) or '-'
 *   parseManifests(text, file, opts)  one text (e.g. stdin already read)
 * Each result holds `objects` (every mapping with a `kind`, `List` items expanded) and
 * `notes` (problems with file + line; a broken document is noted and the rest still load).
 * Unknown kinds and CRDs are kept (`known: false`) and noted once per kind. A file met while
 * walking a directory that holds no Kubernetes object at all (a Helm values.yaml, a GitHub
 * workflow, a docker-compose.yml, package.json) is skipped with one `note`, not an error;
 * YAML syntax errors stay errors (exit 2 in every command).
 * A Helm chart directory (Chart.yaml), given or met while walking, is rendered with
 * `helm template` (values from `render`) and a kustomization directory given as an input is
 * built with kustomize, before they are read (src/kube/render/).
 */
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { LineCounter, parseDocument, isMap, isSeq, isScalar, type Document, type Node } from 'yaml';
import { loadLocated } from './fast-positions.js';
import { UserError, describeError } from '../util/errors.js';
import { isKnownKind } from './kinds.js';
import { isChartDir, kustomizationFile } from './render/detect.js';
import type { RenderOptions } from './render/index.js';

export type FieldPath = readonly (string | number)[];

export interface SourcePosition {
  file: string;
  line: number;
  column: number;
}

export interface ManifestObject {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** The object as plain JSON-like data. */
  raw: Record<string, any>;
  /** Where the object starts. */
  source: SourcePosition;
  /** Whether the kind is a built-in Kubernetes kind (false for CRDs and typos). */
  known: boolean;
  /** Position of a field inside this object (falls back to the closest existing parent). */
  positionOf(path: FieldPath): SourcePosition;
}

export interface LoadNote {
  level: 'error' | 'note';
  file: string;
  line?: number;
  message: string;
}

export interface LoadResult {
  objects: ManifestObject[];
  notes: LoadNote[];
}

export interface LoadOptions {
  /** Max alias expansions per document (YAML bombs); default 100 like the yaml library. */
  maxAliasCount?: number;
  /** Files larger than this are refused with a note; default 64 MiB. */
  maxFileBytes?: number;
  /** Read for '-' (default process.stdin). */
  stdin?: NodeJS.ReadableStream;
  /** Values for Helm chart directories (`--values F`, `--set K=V`, Helm's meaning). */
  render?: RenderOptions;
}

const MANIFEST_EXTENSIONS = new Set(['.yaml', '.yml', '.json']);
const DEFAULT_MAX_FILE = 64 * 1024 * 1024;

export async function loadManifests(inputs: string[], opts: LoadOptions = {}): Promise<LoadResult> {
  const result: LoadResult = { objects: [], notes: [] };
  const unknownKinds = new Set<string>();
  let charts = 0;
  for (const input of inputs) {
    if (input === '-') {
      const text = await readStream(opts.stdin ?? process.stdin, opts.maxFileBytes ?? DEFAULT_MAX_FILE, '<stdin>');
      merge(result, parseManifests(text, '<stdin>', opts), unknownKinds);
      continue;
    }
    let files: string[];
    let walked: boolean;
    let renderDirs: string[];
    try {
      ({ files, walked, renderDirs } = await expandInput(input));
    } catch (e) {
      throw new UserError(`cannot read ${input}: ${describeError(e)}`, 'bad-input');
    }
    for (const dir of renderDirs) {
      // Loaded on demand: most runs render nothing.
      const { renderDirectory } = await import('./render/index.js');
      let rendered: Awaited<ReturnType<typeof renderDirectory>>;
      try {
        rendered = await renderDirectory(dir, dir === input, opts.render);
      } catch (e) {
        // A chart met while walking is one input among many: its failure is a note (exit 2),
        // the rest still load; a chart given by name fails the command with one line.
        if (dir === input) throw e;
        result.notes.push({ level: 'error', file: dir, message: describeError(e).replace(`${dir}: `, '') });
        continue;
      }
      if (!rendered) continue;
      if (rendered.kind === 'helm') charts++;
      merge(result, rendered, unknownKinds);
    }
    for (const file of files) {
      try {
        const text = await readStream(createReadStream(file), opts.maxFileBytes ?? DEFAULT_MAX_FILE, file);
        const parsed = parseManifests(text, file, opts);
        merge(result, walked ? skipNonKubernetes(parsed, file) : parsed, unknownKinds);
      } catch (e) {
        result.notes.push({ level: 'error', file, message: describeError(e) });
      }
    }
  }
  if (charts === 0 && (opts.render?.values?.length || opts.render?.set?.length)) {
    throw new UserError('--values and --set apply to Helm chart directories (with a Chart.yaml); none among the inputs', 'usage');
  }
  return result;
}

function merge(into: LoadResult, from: LoadResult, unknownKinds: Set<string>): void {
  into.objects.push(...from.objects);
  for (const n of from.notes) {
    // One note per unknown kind across all inputs is enough.
    const m = /^unknown kind (\S+)/.exec(n.message);
    if (m) {
      if (unknownKinds.has(m[1]!)) continue;
      unknownKinds.add(m[1]!);
    }
    into.notes.push(n);
  }
}

/** Notes for documents that are YAML but no Kubernetes object (no kind, or not a mapping). */
const NOT_AN_OBJECT = new Set(['object has no kind; skipped', 'document is not a mapping; skipped']);

/**
 * A file found in a directory with no Kubernetes object and nothing but "no kind" notes is
 * some other YAML or JSON (values.yaml, .github/workflows, docker-compose.yml): one note.
 */
function skipNonKubernetes(parsed: LoadResult, file: string): LoadResult {
  if (parsed.objects.length > 0 || parsed.notes.length === 0 || !parsed.notes.every((n) => NOT_AN_OBJECT.has(n.message))) return parsed;
  return { objects: [], notes: [{ level: 'note', file, message: 'not a Kubernetes manifest (no apiVersion/kind); skipped' }] };
}

async function expandInput(input: string): Promise<{ files: string[]; walked: boolean; renderDirs: string[] }> {
  const st = await stat(input);
  if (!st.isDirectory()) return { files: [input], walked: false, renderDirs: [] };
  if (isChartDir(input) || kustomizationFile(input)) return { files: [], walked: true, renderDirs: [input] };
  const out: string[] = [];
  const renderDirs: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      const p = join(dir, e.name);
      if (e.isDirectory() && isChartDir(p)) renderDirs.push(p);
      else if (e.isDirectory()) await walk(p);
      else if (e.isFile() && MANIFEST_EXTENSIONS.has(extname(e.name).toLowerCase())) out.push(p);
    }
  };
  await walk(input);
  return { files: out, walked: true, renderDirs };
}

function readStream(stream: NodeJS.ReadableStream, limit: number, name: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    stream.on('data', (d: Buffer | string) => {
      const b = typeof d === 'string' ? Buffer.from(d) : d;
      size += b.length;
      if (size > limit) {
        (stream as any).destroy?.();
        reject(new Error(`${name} is larger than ${limit} bytes; refusing to load it`));
        return;
      }
      chunks.push(b);
    });
    stream.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    stream.on('error', reject);
  });
}

/**
 * Parses one multi-document YAML (or JSON) text. Never throws for bad content: notes it.
 * Documents are split on `---` lines; each is read with js-yaml (an order of magnitude
 * faster than the `yaml` library) and located lazily by fast-positions.ts. Documents with
 * anchors/aliases or that js-yaml rejects go through `yaml`, which caps alias expansion
 * and gives exact error positions.
 */
export function parseManifests(text: string, file: string, opts: LoadOptions = {}): LoadResult {
  const result: LoadResult = { objects: [], notes: [] };
  for (const chunk of splitDocuments(text)) {
    if (!/^[ \t]*[^\s#%]/m.test(chunk.text)) continue; // only blank lines, comments, directives
    let data: unknown;
    let fast = !ALIAS_HINT.test(chunk.text);
    if (fast) {
      try {
        const located = loadLocated(chunk.text);
        data = located.data;
        if (data === null || data === undefined) continue;
        if (typeof data === 'object' && !Array.isArray(data)) {
          const exact = lazyExact(chunk.text);
          const locate = (path: FieldPath): SourcePosition => {
            const p = located.locate(path) ?? exact(path);
            return { file, line: p.line + chunk.firstLine, column: p.column };
          };
          addObject(result, data as Record<string, any>, [], file, locate);
          continue;
        }
      } catch {
        fast = false;
      }
    }
    parseExact(chunk, file, opts, result);
  }
  return result;
}

/** Anchors (&a) or aliases (*a) outside quotes send a document to the exact, capped parser. */
const ALIAS_HINT = /(^|[\s[{,:-])[&*][^\s,\]}]/m;

interface Chunk {
  text: string;
  /** Lines before the chunk (0-based line of its first line). */
  firstLine: number;
}

/** Splits on document markers, keeping line numbers (a `--- value` line stays in its document). */
export function splitDocuments(text: string): Chunk[] {
  const chunks: Chunk[] = [];
  const lines = text.split('\n');
  let cur: string[] = [];
  let first = 0;
  lines.forEach((line, i) => {
    if (/^---(\s|$)/.test(line)) {
      chunks.push({ text: cur.join('\n'), firstLine: first });
      cur = [`   ${line.slice(3)}`];
      first = i;
    } else if (/^\.\.\.\s*$/.test(line)) {
      chunks.push({ text: cur.join('\n'), firstLine: first });
      cur = [''];
      first = i;
    } else {
      cur.push(line);
    }
  });
  chunks.push({ text: cur.join('\n'), firstLine: first });
  return chunks;
}

/** Exact positions from the `yaml` library, parsed only when a fast lookup fails. */
export function lazyExact(text: string): (path: FieldPath) => { line: number; column: number } {
  let doc: Document.Parsed | undefined;
  let counter: LineCounter | undefined;
  return (path) => {
    if (!doc) {
      counter = new LineCounter();
      doc = parseDocument(text, { lineCounter: counter, uniqueKeys: false, prettyErrors: false, logLevel: 'error' });
    }
    for (let n = path.length; n >= 0; n--) {
      const node = nodeAt(doc, path.slice(0, n));
      if (node?.range) {
        const p = counter!.linePos(node.range[0]);
        return { line: p.line, column: p.col };
      }
    }
    return { line: 1, column: 1 };
  };
}

function parseExact(chunk: Chunk, file: string, opts: LoadOptions, result: LoadResult): void {
  const lineCounter = new LineCounter();
  // logLevel 'error': the library's process warnings (mapAsMap for collection keys) never reach the user.
  const doc = parseDocument(chunk.text, { lineCounter, uniqueKeys: false, prettyErrors: false, logLevel: 'error' });
  const lineOf = (offset: number): { line: number; column: number } => {
    const p = lineCounter.linePos(offset);
    return { line: p.line + chunk.firstLine, column: p.col };
  };
  const docLine = lineOf((doc.contents as Node | null)?.range?.[0] ?? doc.range?.[0] ?? 0).line;
  if (doc.errors.length > 0) {
    const err = doc.errors[0]!;
    const at = err.pos ? lineOf(err.pos[0]).line : docLine;
    result.notes.push({ level: 'error', file, line: at, message: `invalid YAML: ${err.message.split('\n')[0]}` });
    return;
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: opts.maxAliasCount ?? 100 });
  } catch (e) {
    const msg = describeError(e);
    const why = /alias/i.test(msg) ? 'too many alias expansions (possible YAML bomb)' : msg;
    result.notes.push({ level: 'error', file, line: docLine, message: `document skipped: ${why}` });
    return;
  }
  if (data === null || data === undefined) return;
  if (typeof data !== 'object' || Array.isArray(data)) {
    result.notes.push({ level: 'error', file, line: docLine, message: 'document is not a mapping; skipped' });
    return;
  }
  const locate = (path: FieldPath): SourcePosition => {
    for (let n = path.length; n >= 0; n--) {
      const node = nodeAt(doc, path.slice(0, n));
      if (node?.range) return { file, ...lineOf(node.range[0]) };
    }
    return { file, line: 1, column: 1 };
  };
  addObject(result, data as Record<string, any>, [], file, locate);
}

function addObject(
  result: LoadResult,
  data: Record<string, any>,
  base: FieldPath,
  file: string,
  locate: (path: FieldPath) => SourcePosition,
  inferred?: { kind: string; apiVersion: string },
): void {
  const positionOf = (path: FieldPath): SourcePosition => locate(base.length ? [...base, ...path] : path);
  // Items of a typed list (`PodList` as the API serves it) carry no kind of their own.
  if (inferred && typeof data.kind !== 'string') data = { ...data, kind: inferred.kind, apiVersion: typeof data.apiVersion === 'string' ? data.apiVersion : inferred.apiVersion };
  const kind = typeof data.kind === 'string' ? data.kind : '';
  if (!kind) {
    const at = positionOf([]);
    result.notes.push({ level: 'error', file, line: at.line, message: 'object has no kind; skipped' });
    return;
  }
  if (/List$/.test(kind) && Array.isArray(data.items)) {
    const itemKind = kind === 'List' ? undefined : { kind: kind.slice(0, -'List'.length), apiVersion: typeof data.apiVersion === 'string' ? data.apiVersion : '' };
    data.items.forEach((item: unknown, i: number) => {
      if (item && typeof item === 'object' && !Array.isArray(item)) {
        addObject(result, item as Record<string, any>, [...base, 'items', i], file, locate, itemKind);
      }
    });
    return;
  }
  const meta = data.metadata && typeof data.metadata === 'object' ? data.metadata : {};
  const apiVersion = typeof data.apiVersion === 'string' ? data.apiVersion : '';
  const known = isKnownKind(apiVersion, kind);
  const source = positionOf([]);
  if (!known) {
    result.notes.push({
      level: 'note',
      file,
      line: source.line,
      message: `unknown kind ${kind} (${apiVersion || 'no apiVersion'}): kept, only generic checks apply`,
    });
  }
  result.objects.push({
    apiVersion,
    kind,
    name: typeof meta.name === 'string' ? meta.name : String(meta.name ?? meta.generateName ?? ''),
    namespace: typeof meta.namespace === 'string' ? meta.namespace : undefined,
    labels: stringMap(meta.labels),
    annotations: stringMap(meta.annotations),
    raw: data,
    source,
    known,
    positionOf,
  });
}

function nodeAt(doc: Document.Parsed, path: FieldPath): Node | undefined {
  let node: unknown = doc.contents;
  for (const key of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => (isScalar(p.key) ? p.key.value : p.key) === key);
      if (!pair) return undefined;
      node = pair.value ?? pair.key;
    } else if (isSeq(node) && typeof key === 'number') {
      node = node.items[key];
    } else {
      return undefined;
    }
  }
  return node as Node | undefined;
}

function stringMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (v && typeof v === 'object' && !Array.isArray(v)) {
    for (const [k, val] of Object.entries(v)) out[k] = val === null || val === undefined ? '' : String(val);
  }
  return out;
}
