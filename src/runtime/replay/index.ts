/**
 * Replays recorded events: JSON lines in Gatehouse's event model, or `sysdig -r FILE -j`
 * output (detected per line). Streams the file; never holds it whole.
 */
import { createReadStream, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { UserError } from '../../util/errors.js';
import type { FieldValue, RuntimeEvent } from '../event.js';
import { readScap } from './scap.js';
import { fromSysdig, looksLikeSysdig } from './sysdig.js';

export { fromSysdig } from './sysdig.js';
export { readScap, sysdigFieldList } from './scap.js';

export type ReplayFormat = 'auto' | 'gatehouse' | 'sysdig';

/** Longest line accepted: a guard against a file that is not JSON lines at all. */
export const MAX_LINE = 1024 * 1024;

function fromModel(obj: Record<string, unknown>): RuntimeEvent {
  const ev: RuntimeEvent = {};
  for (const [k, v] of Object.entries(obj)) {
    if (v === null || v === undefined) continue;
    ev[k] = typeof v === 'object' && !Array.isArray(v) ? JSON.stringify(v) : (v as FieldValue);
  }
  return ev;
}

export async function* readEvents(input: Readable, name: string, format: ReplayFormat = 'auto'): AsyncGenerator<RuntimeEvent> {
  const rl = createInterface({ input, crlfDelay: Infinity });
  let lineNo = 0;
  for await (const line of rl) {
    lineNo++;
    const t = line.trim();
    if (!t) continue;
    if (t.length > MAX_LINE) throw new UserError(`${name}:${lineNo}: line longer than ${MAX_LINE} bytes`, 'bad-events');
    let obj: unknown;
    try {
      obj = JSON.parse(t);
    } catch {
      throw new UserError(`${name}:${lineNo}: not a JSON object (expected JSON lines of events)`, 'bad-events');
    }
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
      throw new UserError(`${name}:${lineNo}: not a JSON object (expected JSON lines of events)`, 'bad-events');
    }
    const rec = obj as Record<string, unknown>;
    const sysdig = format === 'sysdig' || (format === 'auto' && looksLikeSysdig(rec));
    yield sysdig ? fromSysdig(rec) : fromModel(rec);
  }
}

/** JSON lines (ours or sysdig's) from a file or `-`; a `.scap` capture goes through sysdig. */
export function readEventFile(path: string, format: ReplayFormat = 'auto'): AsyncGenerator<RuntimeEvent> {
  if (path === '-') return readEvents(process.stdin, 'stdin', format);
  let st;
  try {
    st = statSync(path);
  } catch {
    throw new UserError(`events file not found: ${path}`, 'not-found');
  }
  if (!st.isFile()) throw new UserError(`not a file: ${path}`, 'bad-events');
  if (path.endsWith('.scap')) return readScap(path);
  return readEvents(createReadStream(path), path, format);
}
