/**
 * Go modules compiled into executables (read by the `binary` analyzer, binary.ts), from the build info the Go linker embeds
 * (the `.go.buildinfo` blob at the start of the data segment). Streamed: the ELF and
 * program headers come first; the blob is found by scanning at most 64 KiB from the start
 * of the first writable segment for its 16-byte-aligned magic, as Go's debug/buildinfo
 * does, so the rest of the file is never read.
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
const SEARCH = 64 * 1024;
const MAX_INFO = 4 * 1024 * 1024;
const GO_BUILDID_NOTE = 4;

export interface GoBuildInfo {
  goVersion: string;
  path?: string;
  main?: { path: string; version: string };
  deps: Array<{ path: string; version: string; sum?: string }>;
  settings: Record<string, string>;
}

/** The build info of a streamed executable, or undefined when it is not a Go binary. */
export async function readGoBuildInfo(cur: StreamCursor): Promise<GoBuildInfo | undefined> {
  const elf = await readElfHeaders(cur);
  const goNote = await hasGoNote(cur, elf);
  return goBuildInfoAfterHeaders(cur, elf, goNote);
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

/** The build info, once the headers are read; undefined for binaries that are not Go. */
export async function goBuildInfoAfterHeaders(cur: StreamCursor, elf: ElfInfo, goNote: boolean): Promise<GoBuildInfo | undefined> {
  const dynamic = elf.phdrs.some((p) => p.type === PT_INTERP);
  if (!goNote && dynamic) return undefined;
  const data = elf.phdrs.find((p) => p.type === PT_LOAD && (p.flags & (PF_X | PF_W)) === PF_W);
  if (!data) return undefined;
  const window = await cur.read(data.offset, Math.min(SEARCH, data.filesz));
  let at = -1;
  for (let i = window.indexOf(MAGIC); i >= 0; i = window.indexOf(MAGIC, i + 1)) {
    if (i % 16 === 0) {
      at = i;
      break;
    }
  }
  if (at < 0) {
    if (goNote) throw new Error('Go binary without readable build info (truncated?)');
    return undefined;
  }
  const hdr = window.subarray(at, at + 32);
  if (hdr.length < 32) throw new Error('truncated Go build info header');
  const flags = hdr[15];
  if ((flags & 2) === 0) throw new Error('Go build info from before Go 1.18 (pointer format) is not supported');
  const start = data.offset + at + 32;
  let buf = await cur.read(start, 64 * 1024);
  const strs: string[] = [];
  let p = 0;
  for (let k = 0; k < 2; k++) {
    const [len, n] = uvarint(buf, p);
    if (n <= 0 || len > MAX_INFO) throw new Error('corrupt Go build info');
    if (p + n + len > buf.length) {
      buf = Buffer.concat([buf, await cur.read(start + buf.length, p + n + len - buf.length)]);
      if (p + n + len > buf.length) throw new Error('truncated Go build info');
    }
    strs.push(buf.toString('utf8', p + n, p + n + len));
    p += n + len;
  }
  return parseModInfo(strs[0], strs[1]);
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
