/**
 * Reads an rpm header blob as stored in the rpmdb (the "headerImport" layout: index count,
 * data length, 16-byte index entries, data store). Written by hand because no maintained
 * npm library parses rpm headers; the layout is rpm's lib/header.c.
 */

export const RPMTAG = {
  NAME: 1000,
  VERSION: 1001,
  RELEASE: 1002,
  EPOCH: 1003,
  VENDOR: 1011,
  LICENSE: 1014,
  ARCH: 1022,
  SOURCERPM: 1044,
  DIRINDEXES: 1116,
  BASENAMES: 1117,
  DIRNAMES: 1118,
} as const;

const T_INT32 = 4;
const T_STRING = 6;
const T_STRING_ARRAY = 8;
const T_I18NSTRING = 9;

export type HeaderValue = string | string[] | number[];

/** Parses the tags asked for (unknown types are skipped); throws on a malformed blob. */
export function parseRpmHeader(blob: Uint8Array, want: readonly number[]): Map<number, HeaderValue> {
  const b = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
  if (b.length < 8) throw new Error('rpm header shorter than 8 bytes');
  const il = b.readUInt32BE(0);
  const dl = b.readUInt32BE(4);
  const dataStart = 8 + il * 16;
  if (il > 0xffff || dl > 256 * 1024 * 1024 || dataStart + dl > b.length) {
    throw new Error(`rpm header sizes out of range (il=${il} dl=${dl} len=${b.length})`);
  }
  const wanted = new Set(want);
  const out = new Map<number, HeaderValue>();
  for (let i = 0; i < il; i++) {
    const e = 8 + i * 16;
    const tag = b.readUInt32BE(e);
    if (!wanted.has(tag)) continue;
    const type = b.readUInt32BE(e + 4);
    const off = b.readInt32BE(e + 8);
    const count = b.readUInt32BE(e + 12);
    if (off < 0 || off >= dl) throw new Error(`rpm header tag ${tag} offset out of range`);
    const start = dataStart + off;
    const end = dataStart + dl;
    if (type === T_INT32) {
      if (start + count * 4 > end) throw new Error(`rpm header tag ${tag} overruns data`);
      const nums: number[] = [];
      for (let k = 0; k < count; k++) nums.push(b.readInt32BE(start + k * 4));
      out.set(tag, nums);
    } else if (type === T_STRING || type === T_STRING_ARRAY || type === T_I18NSTRING) {
      const strs: string[] = [];
      let p = start;
      const n = type === T_STRING ? 1 : count;
      for (let k = 0; k < n; k++) {
        const z = b.indexOf(0, p);
        if (z < 0 || z >= end) throw new Error(`rpm header tag ${tag} string not terminated`);
        strs.push(b.toString('utf8', p, z));
        p = z + 1;
      }
      out.set(tag, type === T_STRING_ARRAY ? strs : strs[0]);
    }
  }
  return out;
}

export function headerString(h: Map<number, HeaderValue>, tag: number): string | undefined {
  const v = h.get(tag);
  if (typeof v === 'string') return v;
  if (Array.isArray(v) && typeof v[0] === 'string') return v[0];
  return undefined;
}

export function headerInt(h: Map<number, HeaderValue>, tag: number): number | undefined {
  const v = h.get(tag);
  return Array.isArray(v) && typeof v[0] === 'number' ? v[0] : undefined;
}

/** Installed file paths from the compressed DIRNAMES/BASENAMES/DIRINDEXES triple. */
export function headerFiles(h: Map<number, HeaderValue>): string[] {
  const base = h.get(RPMTAG.BASENAMES);
  const dirs = h.get(RPMTAG.DIRNAMES);
  const idx = h.get(RPMTAG.DIRINDEXES);
  if (!Array.isArray(base) || !Array.isArray(dirs) || !Array.isArray(idx)) return [];
  return (base as string[]).map((name, i) => `${(dirs as string[])[(idx as number[])[i]] ?? ''}${name}`);
}
