/**
 * Go modules compiled into executables (read by the `binary` analyzer, binary.ts), from the build info the Go linker embeds
 * (the `.go.buildinfo` section in the data segment). Streamed, forward only: the ELF and
 * program headers come first; the data segment is scanned in bounded steps for the magic at
 * a 16-byte-aligned address, and the section table (at the end of the file) picks between
 * candidates, as Go's debug/buildinfo does (see goBuildInfoAfterHeaders).
 *
 * Only binaries that look like Go are followed to the data segment: a Go build-id note
 * (always written by `go build`) or no program interpreter (a static binary); dynamically
 * linked binaries without the note are not searched (they would cost a full read).
 * Go before 1.18 stored the info as pointers; those binaries get a warning instead.
 */
import type { Package } from '../package.js';
import { makePurl } from '../purl.js';
import type { StreamCursor } from '../streams.js';
import { parseNotes, PF_W, PF_X, PT_INTERP, PT_LOAD, PT_NOTE, readElfHeaders, type ElfInfo } from './elf.js';

const MAGIC = Buffer.from('\xff Go buildinf:', 'latin1');
const CHUNK = 64 * 1024;
const MAX_INFO = 4 * 1024 * 1024;
const GO_BUILDID_NOTE = 4;
/** Candidates kept while scanning for the blob when a section table will decide between them. */
const MAX_CANDIDATES = 4;

export interface GoBuildInfo {
  goVersion: string;
  path?: string;
  main?: { path: string; version: string };
  deps: Array<{ path: string; version: string; sum?: string }>;
  settings: Record<string, string>;
}

/** The build info of a streamed executable, or undefined when it is not a Go binary. */
export async function readGoBuildInfo(cur: StreamCursor): Promise<GoBuildInfo | undefined> {
  const sections = await sectionTableRef(cur);
  const elf = await readElfHeaders(cur);
  const goNote = await hasGoNote(cur, elf);
  return goBuildInfoAfterHeaders(cur, elf, goNote, sections);
}

/** Whether the ELF carries the Go build-id note `go build` always writes. */
export async function hasGoNote(cur: StreamCursor, elf: ElfInfo): Promise<boolean> {
  // Notes are read in file order (the cursor only moves forward).
  const notes = elf.phdrs.filter((p) => p.type === PT_NOTE && p.filesz <= 64 * 1024).sort((a, b) => a.offset - b.offset);
  for (const n of notes) {
    const seg = await cur.read(n.offset, n.filesz);
    if (parseNotes(seg, elf.littleEndian).some((x) => x.name === 'Go' && x.type === GO_BUILDID_NOTE)) return true;
  }
  return false;
}

/**
 * The build info, once the headers are read; undefined for binaries that are not Go.
 *
 * Go's debug/buildinfo takes the `.go.buildinfo` section from the section table, else the
 * first writable, non-executable PT_LOAD segment, and there the first magic at a 16-byte
 * aligned address. The section table sits at the end of the file, after the data, and the
 * stream only goes forward, so: the writable segments are scanned in 64 KiB steps (whole,
 * not a fixed window: with cgo the external linker puts `.data` first and the blob ~100 KB
 * in, at an offset that is not 16-aligned from the segment start) for magics aligned by
 * virtual address, each one parsed as it is met; when the file has a section table it is
 * then read and the candidate that starts a section is taken, as debug/buildinfo would;
 * without one, the first candidate. Memory: one 64 KiB window plus the blob.
 */
export async function goBuildInfoAfterHeaders(
  cur: StreamCursor,
  elf: ElfInfo,
  goNote: boolean,
  sections?: SectionTableRef | null,
): Promise<GoBuildInfo | undefined> {
  const dynamic = elf.phdrs.some((p) => p.type === PT_INTERP);
  if (!goNote && dynamic) return undefined;
  // debug/buildinfo's fallback is the first such segment; some linkers (lld) put
  // `.data.rel.ro` in a writable segment of its own, with `.go.buildinfo` in the next.
  const segments = elf.phdrs.filter((p) => p.type === PT_LOAD && (p.flags & (PF_X | PF_W)) === PF_W).sort((a, b) => a.offset - b.offset);
  if (segments.length === 0) return undefined;
  const table = sections === undefined ? await sectionTableRef(cur).catch(() => null) : sections;
  const last = segments[segments.length - 1];
  const decide = table !== null && table.offset >= last.offset + last.filesz;
  const candidates: Array<{ offset: number; info?: GoBuildInfo; error?: Error }> = [];
  let pos = 0;
  segs: for (const data of segments) {
    const segEnd = data.offset + data.filesz;
    pos = Math.max(pos, data.offset);
    scan: while (pos < segEnd) {
      const want = Math.min(CHUNK + 32, segEnd - pos);
      const win = await cur.read(pos, want);
      for (let i = win.indexOf(MAGIC); i >= 0; i = win.indexOf(MAGIC, i + 1)) {
        if ((data.vaddr + (pos - data.offset) + i) % 16 !== 0) continue;
        const at = pos + i;
        try {
          const { info, end } = await parseBlob(cur, at);
          candidates.push({ offset: at, info });
          pos = end;
        } catch (e) {
          // As debug/buildinfo: a bad blob at the first aligned magic is an error (and the
          // cursor may already be past it, so the scan cannot resume there).
          candidates.push({ offset: at, error: e as Error });
          break segs;
        }
        if (!decide || candidates.length >= MAX_CANDIDATES) break segs;
        continue scan;
      }
      if (win.length < want) break segs; // the file ends inside the segment
      pos += Math.max(1, win.length - 32);
    }
  }
  if (candidates.length === 0) {
    if (goNote) throw new Error('Go binary without readable build info (truncated?)');
    return undefined;
  }
  let chosen = candidates[0];
  if (decide && candidates.length > 1) {
    const starts = await sectionStarts(cur, elf, table).catch(() => undefined);
    chosen = candidates.find((c) => starts?.has(c.offset)) ?? chosen;
  }
  if (chosen.error) throw chosen.error;
  return chosen.info;
}

/** Where the section header table is, from the ELF header (read at offset 0). */
export interface SectionTableRef {
  offset: number;
  entsize: number;
  count: number;
}

async function sectionTableRef(cur: StreamCursor): Promise<SectionTableRef | null> {
  const id = await cur.read(0, 64);
  if (id.length < 52) return null;
  const is64 = id[4] === 2;
  const le = id[5] === 1;
  if (is64 && id.length < 64) return null;
  const u16 = (o: number) => (le ? id.readUInt16LE(o) : id.readUInt16BE(o));
  const u32 = (o: number) => (le ? id.readUInt32LE(o) : id.readUInt32BE(o));
  const offset = is64 ? Number(le ? id.readBigUInt64LE(0x28) : id.readBigUInt64BE(0x28)) : u32(0x20);
  const entsize = u16(is64 ? 0x3a : 0x2e);
  const count = u16(is64 ? 0x3c : 0x30);
  if (!offset || !count || entsize < (is64 ? 64 : 40) || count > 65280) return null;
  return { offset, entsize, count };
}

/** File offsets at which a PROGBITS section starts. */
async function sectionStarts(cur: StreamCursor, elf: ElfInfo, t: SectionTableRef | null): Promise<Set<number> | undefined> {
  if (!t) return undefined;
  const b = await cur.read(t.offset, t.entsize * t.count);
  if (b.length < t.entsize * t.count) return undefined;
  const le = elf.littleEndian;
  const out = new Set<number>();
  for (let i = 0; i < t.count; i++) {
    const o = i * t.entsize;
    const type = le ? b.readUInt32LE(o + 4) : b.readUInt32BE(o + 4);
    if (type !== 1) continue; // SHT_PROGBITS
    const off = elf.is64 ? Number(le ? b.readBigUInt64LE(o + 0x18) : b.readBigUInt64BE(o + 0x18)) : le ? b.readUInt32LE(o + 0x10) : b.readUInt32BE(o + 0x10);
    out.add(off);
  }
  return out;
}

/** Parses the blob whose magic is at file offset `at`; `end` is the offset just after it. */
async function parseBlob(cur: StreamCursor, at: number): Promise<{ info: GoBuildInfo; end: number }> {
  let buf = await cur.read(at, CHUNK);
  if (buf.length < 32) throw new Error('truncated Go build info header');
  const flags = buf[15];
  if ((flags & 2) === 0) throw new Error('Go build info from before Go 1.18 (pointer format) is not supported');
  const strs: string[] = [];
  let p = 32;
  for (let k = 0; k < 2; k++) {
    const [len, n] = uvarint(buf, p);
    if (n <= 0 || len > MAX_INFO) throw new Error('corrupt Go build info');
    if (p + n + len > buf.length) {
      buf = Buffer.concat([buf, await cur.read(at + buf.length, p + n + len - buf.length)]);
      if (p + n + len > buf.length) throw new Error('truncated Go build info');
    }
    strs.push(buf.toString('utf8', p + n, p + n + len));
    p += n + len;
  }
  return { info: parseModInfo(strs[0], strs[1]), end: at + p };
}

function uvarint(b: Buffer, p: number): [number, number] {
  let x = 0;
  let s = 1;
  for (let i = 0; i < 10 && p + i < b.length; i++) {
    const c = b[p + i];
    x += (c & 0x7f) * s;
    if (c < 0x80) return [x, i + 1];
    s *= 128;
  }
  return [0, 0];
}

/** The modinfo text (between 16-byte sentinels): path/mod/dep/=>/build lines. */
export function parseModInfo(goVersion: string, raw: string): GoBuildInfo {
  let text = raw;
  if (text.length >= 33 && text[text.length - 17] === '\n') text = text.slice(16, -16);
  const info: GoBuildInfo = { goVersion, deps: [], settings: {} };
  let last: { path: string; version: string; sum?: string } | undefined;
  for (const line of text.split('\n')) {
    const f = line.split('\t');
    switch (f[0]) {
      case 'path': info.path = f[1]; break;
      case 'mod': info.main = { path: f[1], version: f[2] ?? '' }; last = info.main; break;
      case 'dep': last = { path: f[1], version: f[2] ?? '', sum: f[3] || undefined }; info.deps.push(last); break;
      case '=>':
        // A replace directive: the module actually compiled in.
        if (last) Object.assign(last, { path: f[1], version: f[2] ?? '', sum: f[3] || undefined });
        break;
      case 'build': {
        const eq = (f[1] ?? '').indexOf('=');
        if (eq > 0) info.settings[f[1].slice(0, eq)] = f[1].slice(eq + 1);
        break;
      }
    }
  }
  return info;
}

export function goPackages(info: GoBuildInfo, path: string): Package[] {
  const mk = (name: string, version: string, extra?: Record<string, unknown>): Package => {
    const slash = name.lastIndexOf('/');
    return {
      ecosystem: 'Go',
      name,
      version,
      purl: makePurl('golang', slash > 0 ? name.slice(0, slash) : undefined, slash > 0 ? name.slice(slash + 1) : name, version),
      location: { path },
      analyzer: 'gobinary',
      metadata: { goVersion: info.goVersion, ...extra },
    };
  };
  const out: Package[] = [];
  if (info.main?.path) out.push(mk(info.main.path, info.main.version, { mainModule: true }));
  for (const d of info.deps) out.push(mk(d.path, d.version, d.sum ? { h1: d.sum } : undefined));
  // The standard library is compiled in too, and has its own advisories.
  const goVer = /^go(\d+\.\d+(?:\.\d+)?)/.exec(info.goVersion)?.[1];
  if (goVer) out.push(mk('stdlib', goVer));
  return out;
}
