/**
 * Reads a JSON document whose top level is one big object (the Debian tracker: ~70 MB of
 * `"source-package": {...}`) one member at a time, so memory is bounded by the largest
 * member rather than the file. Only the top-level split is done here, by hand: it tracks
 * strings, escapes and nesting depth to find where each member's value ends, then hands
 * that slice to JSON.parse. (stream-json would tokenize every value in JavaScript, several
 * times slower than JSON.parse on the same bytes; nothing else is needed from it.)
 */
import { createReadStream } from 'node:fs';

export class JsonStreamError extends Error {}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJ = 0x7b;
const CLOSE_OBJ = 0x7d;
const OPEN_ARR = 0x5b;
const CLOSE_ARR = 0x5d;

/** Yields [key, value] for each member of the top-level object of a JSON file. */
export async function* objectMembers(path: string, maxMemberBytes = 256 << 20): AsyncGenerator<[string, unknown]> {
  let pending: Buffer = Buffer.alloc(0); // bytes of the member being read
  let started = false; // past the top-level "{"
  let ended = false;
  let depth = 0; // nesting inside the current member's value
  let inString = false;
  let escaped = false;
  let memberStart = -1; // offset in `pending` where the current member starts
  let afterComma = false; // a member must follow
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    const buf = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    let i = pending.length;
    let consumed = 0;
    for (; i < buf.length; i++) {
      const c = buf[i]!;
      if (ended) {
        if (c > 0x20) throw new JsonStreamError('unexpected data after the top-level object');
        continue;
      }
      if (!started) {
        if (c === OPEN_OBJ) {
          started = true;
          consumed = i + 1;
        } else if (c > 0x20) throw new JsonStreamError('the document is not a JSON object');
        continue;
      }
      if (inString) {
        if (escaped) escaped = false;
        else if (c === BACKSLASH) escaped = true;
        else if (c === QUOTE) inString = false;
        continue;
      }
      if (memberStart < 0 && depth === 0 && c > 0x20 && c !== QUOTE && c !== CLOSE_OBJ) throw new JsonStreamError('expected a member name');
      if (c === QUOTE) {
        inString = true;
        if (memberStart < 0) memberStart = i;
        afterComma = false;
      } else if (c === OPEN_OBJ || c === OPEN_ARR) {
        depth++;
      } else if (c === CLOSE_OBJ || c === CLOSE_ARR) {
        if (depth === 0) {
          if (c !== CLOSE_OBJ) throw new JsonStreamError('unbalanced brackets');
          if (afterComma) throw new JsonStreamError('trailing comma');
          if (memberStart >= 0) yield parseMember(buf.subarray(memberStart, i));
          memberStart = -1;
          ended = true;
          consumed = i + 1;
          continue;
        }
        depth--;
      } else if (c === 0x2c && depth === 0) {
        if (memberStart < 0) throw new JsonStreamError('empty member');
        yield parseMember(buf.subarray(memberStart, i));
        memberStart = -1;
        afterComma = true;
        consumed = i + 1;
      }
    }
    // Keep only the unfinished member (from its start, or from the last consumed byte).
    const keepFrom = memberStart >= 0 ? memberStart : Math.max(consumed, buf.length);
    pending = Buffer.from(buf.subarray(keepFrom));
    if (memberStart >= 0) memberStart -= keepFrom;
    if (pending.length > maxMemberBytes) throw new JsonStreamError(`a member exceeds ${maxMemberBytes} bytes`);
  }
  if (!started || !ended) throw new JsonStreamError('unexpected end of the document');
}

function parseMember(bytes: Buffer): [string, unknown] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(`{${bytes.toString('utf8')}}`);
  } catch (e) {
    throw new JsonStreamError((e as Error).message);
  }
  const entries = Object.entries(parsed as Record<string, unknown>);
  if (entries.length !== 1) throw new JsonStreamError('malformed member');
  return entries[0]!;
}
