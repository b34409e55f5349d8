/**
 * Manifest loading for netpol: files, directories (recursive *.yaml|*.yml|*.json) and '-'
 * (stdin), multi-document YAML or JSON, `List`s expanded. Differs from the shared loader
 * (src/kube/manifests.ts), which also infers the kind of typed-list items, in one way that
 * matters here, hence its own small parser:
 * - speed on large cluster dumps (see bench/netpol.bench.ts): JSON goes through JSON.parse
 *   and YAML first through js-yaml (several times faster than `yaml`, no positions beyond
 *   the document's first line); only a file js-yaml rejects is re-parsed with `yaml`, which
 *   skips just the broken documents and says where they are.
 * TODO: give the shared loader this fast path (js-yaml, positions on demand) and use it here.
 */
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import jsYaml from 'js-yaml';
import { LineCounter, parseAllDocuments } from 'yaml';
import { UserError, describeError } from '../../util/errors.js';

export interface NetpolObject {
  kind: string;
  name: string;
  namespace?: string;
  labels: Record<string, string>;
  raw: Record<string, any>;
  source: { file: string; line: number };
}

export interface LoadNote {
  level: 'error' | 'note';
  file: string;
  line?: number;
  message: string;
}

const EXTENSIONS = new Set(['.yaml', '.yml', '.json']);
const MAX_FILE_BYTES = 256 * 1024 * 1024;
const MAX_ALIASES = 100;

export async function loadNetpolObjects(paths: string[], stdin: NodeJS.ReadableStream = process.stdin): Promise<{ objects: NetpolObject[]; notes: LoadNote[] }> {
  const objects: NetpolObject[] = [];
  const notes: LoadNote[] = [];
  for (const input of paths) {
    if (input === '-') {
      parseText(await readAll(stdin, '<stdin>'), '<stdin>', objects, notes);
      continue;
    }
    let files: string[];
    try {
      files = await expand(input);
    } catch (e) {
      throw new UserError(`cannot read ${input}: ${describeError(e)}`, 'bad-input');
    }
    for (const file of files) {
      try {
        parseText(await readAll(createReadStream(file), file), file, objects, notes);
      } catch (e) {
        notes.push({ level: 'error', file, message: describeError(e) });
      }
    }
  }
  return { objects, notes };
}

async function expand(input: string): Promise<string[]> {
  if (!(await stat(input)).isDirectory()) return [input];
  const out: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      const p = join(dir, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile() && EXTENSIONS.has(extname(e.name).toLowerCase())) out.push(p);
    }
  };
  await walk(input);
  return out;
}

function readAll(stream: NodeJS.ReadableStream, name: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    stream.on('data', (d: Buffer | string) => {
      const b = typeof d === 'string' ? Buffer.from(d) : d;
      size += b.length;
      if (size > MAX_FILE_BYTES) {
        (stream as { destroy?: () => void }).destroy?.();
        reject(new Error(`${name} is larger than ${MAX_FILE_BYTES} bytes; refusing to load it`));
        return;
      }
      chunks.push(b);
    });
    stream.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    stream.on('error', reject);
  });
}

function parseText(text: string, file: string, objects: NetpolObject[], notes: LoadNote[]): void {
  if (/^\s*[[{]/.test(text)) {
    try {
      addValue(JSON.parse(text), file, 1, objects, notes);
      return;
    } catch {
      // not plain JSON: YAML below reports what is wrong, with a line
    }
  }
  // js-yaml has no alias-expansion limit, so texts with anchors (possible YAML bombs) go to
  // `yaml`, which caps expansions per document.
  const hasAnchors = /(^|[\s[{,])&[^\s]/m.test(text);
  try {
    if (hasAnchors) throw new Error('anchors: use the capped parser');
    const docs = jsYaml.loadAll(text, undefined, { filename: file });
    const starts = documentStartLines(text);
    docs.forEach((d, i) => addValue(d, file, docs.length === starts.length ? starts[i]! : 1, objects, notes));
    return;
  } catch {
    // fall through: `yaml` recovers document by document and reports lines
  }
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter, uniqueKeys: false, prettyErrors: false });
  for (const doc of Array.isArray(docs) ? docs : [docs]) {
    const line = lineCounter.linePos(doc.range?.[0] ?? 0).line;
    if (doc.errors.length > 0) {
      const err = doc.errors[0]!;
      notes.push({ level: 'error', file, line: err.pos ? lineCounter.linePos(err.pos[0]).line : line, message: `invalid YAML, document skipped: ${err.message.split('\n')[0]}` });
      continue;
    }
    let data: unknown;
    try {
      data = doc.toJS({ maxAliasCount: MAX_ALIASES });
    } catch (e) {
      const msg = describeError(e);
      notes.push({ level: 'error', file, line, message: `document skipped: ${/alias/i.test(msg) ? 'too many alias expansions (possible YAML bomb)' : msg}` });
      continue;
    }
    addValue(data, file, line, objects, notes);
  }
}

/** First line of each document: after each `---`, plus line 1 when content precedes the first one. */
function documentStartLines(text: string): number[] {
  const lines = text.split('\n');
  const starts: number[] = [];
  let sawContent = false;
  lines.forEach((l, i) => {
    if (/^---(\s|$)/.test(l)) {
      starts.push(i + 1);
      sawContent = true;
    } else if (!sawContent && l.trim() !== '' && !l.trimStart().startsWith('#') && !l.startsWith('%')) {
      starts.push(1);
      sawContent = true;
    }
  });
  return starts;
}

function addValue(data: unknown, file: string, line: number, objects: NetpolObject[], notes: LoadNote[], inferredKind?: string): void {
  if (data === null || data === undefined) return;
  if (typeof data !== 'object' || Array.isArray(data)) {
    notes.push({ level: 'error', file, line, message: 'document is not a mapping; skipped' });
    return;
  }
  const obj = data as Record<string, any>;
  const kind = typeof obj.kind === 'string' && obj.kind ? obj.kind : inferredKind;
  if (!kind) {
    notes.push({ level: 'error', file, line, message: 'object has no kind; skipped' });
    return;
  }
  if (/List$/.test(kind) && Array.isArray(obj.items)) {
    const itemKind = kind === 'List' ? undefined : kind.slice(0, -'List'.length);
    for (const item of obj.items) addValue(item, file, line, objects, notes, itemKind);
    return;
  }
  const meta = obj.metadata && typeof obj.metadata === 'object' ? obj.metadata : {};
  const labels: Record<string, string> = {};
  if (meta.labels && typeof meta.labels === 'object') {
    for (const [k, v] of Object.entries(meta.labels)) labels[k] = v === null || v === undefined ? '' : String(v);
  }
  objects.push({
    kind,
    name: typeof meta.name === 'string' ? meta.name : String(meta.name ?? ''),
    namespace: typeof meta.namespace === 'string' && meta.namespace ? meta.namespace : undefined,
    labels,
    raw: obj.kind === kind ? obj : { ...obj, kind },
    source: { file, line },
  });
}
