/**
 * Just enough ELF to find things in a streamed executable: the header and program headers
 * (both at the start of the file), read through a forward-only StreamCursor.
 */
import type { StreamCursor } from '../streams.js';

export const PT_LOAD = 1;
export const PT_INTERP = 3;
export const PT_NOTE = 4;
export const PF_X = 1;
export const PF_W = 2;

export interface ProgramHeader {
  type: number;
  flags: number;
  offset: number;
  vaddr: number;
  filesz: number;
}

export interface ElfInfo {
  is64: boolean;
  littleEndian: boolean;
  phdrs: ProgramHeader[];
}

export class NotElf extends Error {}

/** Parses the ELF and program headers; NotElf for other files, Error for a broken ELF. */
export async function readElfHeaders(cur: StreamCursor): Promise<ElfInfo> {
  const id = await cur.read(0, 64);
  if (id.length < 16 || id[0] !== 0x7f || id[1] !== 0x45 || id[2] !== 0x4c || id[3] !== 0x46) throw new NotElf();
  const is64 = id[4] === 2;
  const le = id[5] === 1;
  if (id.length < (is64 ? 64 : 52)) throw new Error('truncated ELF header');
  const u16 = (b: Buffer, o: number) => (le ? b.readUInt16LE(o) : b.readUInt16BE(o));
  const u32 = (b: Buffer, o: number) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  const u64 = (b: Buffer, o: number) => Number(le ? b.readBigUInt64LE(o) : b.readBigUInt64BE(o));
  const phoff = is64 ? u64(id, 0x20) : u32(id, 0x1c);
  const phentsize = u16(id, is64 ? 0x36 : 0x2a);
  const phnum = u16(id, is64 ? 0x38 : 0x2c);
  if (phnum === 0) return { is64, littleEndian: le, phdrs: [] };
  if (phentsize < (is64 ? 56 : 32) || phnum > 4096 || phoff < 16) throw new Error('bad ELF program header table');
  const table = await cur.read(phoff, phentsize * phnum);
  if (table.length < phentsize * phnum) throw new Error('truncated ELF: program headers cut off');
  const phdrs: ProgramHeader[] = [];
  for (let i = 0; i < phnum; i++) {
    const o = i * phentsize;
    phdrs.push(
      is64
        ? { type: u32(table, o), flags: u32(table, o + 4), offset: u64(table, o + 8), vaddr: u64(table, o + 16), filesz: u64(table, o + 32) }
        : { type: u32(table, o), flags: u32(table, o + 24), offset: u32(table, o + 4), vaddr: u32(table, o + 8), filesz: u32(table, o + 16) },
    );
  }
  return { is64, littleEndian: le, phdrs };
}

/** ELF notes in a PT_NOTE segment: [name, type, desc]. */
export function parseNotes(seg: Buffer, le: boolean): Array<{ name: string; type: number; desc: Buffer }> {
  const out: Array<{ name: string; type: number; desc: Buffer }> = [];
  let p = 0;
  const u32 = (o: number) => (le ? seg.readUInt32LE(o) : seg.readUInt32BE(o));
  while (p + 12 <= seg.length) {
    const namesz = u32(p);
    const descsz = u32(p + 4);
    const type = u32(p + 8);
    const nameEnd = p + 12 + namesz;
    const descStart = p + 12 + Math.ceil(namesz / 4) * 4;
    const descEnd = descStart + descsz;
    if (descEnd > seg.length) break;
    out.push({ name: seg.toString('latin1', p + 12, nameEnd).replace(/\0+$/, ''), type, desc: seg.subarray(descStart, descEnd) });
    p = descStart + Math.ceil(descsz / 4) * 4;
  }
  return out;
}

/** The bytes of a named section of a whole ELF file in memory, or undefined. */
export function elfSection(b: Buffer, name: string): Buffer | undefined {
  if (b.length < 64 || b.readUInt32BE(0) !== 0x7f454c46) return undefined;
  const is64 = b[4] === 2;
  const le = b[5] === 1;
  const u16 = (o: number) => (le ? b.readUInt16LE(o) : b.readUInt16BE(o));
  const u32 = (o: number) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  const uw = (o: number) => (is64 ? Number(le ? b.readBigUInt64LE(o) : b.readBigUInt64BE(o)) : u32(o));
  const shoff = uw(is64 ? 0x28 : 0x20);
  const shentsize = u16(is64 ? 0x3a : 0x2e);
  const shnum = u16(is64 ? 0x3c : 0x30);
  const shstrndx = u16(is64 ? 0x3e : 0x32);
  if (!shoff || !shnum || shstrndx >= shnum) return undefined;
  if (shoff + shnum * shentsize > b.length) throw new Error('truncated ELF: section headers cut off');
  const sh = (i: number) => {
    const o = shoff + i * shentsize;
    return { name: u32(o), offset: uw(o + (is64 ? 0x18 : 0x10)), size: uw(o + (is64 ? 0x20 : 0x14)) };
  };
  const strtab = sh(shstrndx);
  for (let i = 0; i < shnum; i++) {
    const s = sh(i);
    const start = strtab.offset + s.name;
    const end = b.indexOf(0, start);
    if (end < 0 || b.toString('latin1', start, end) !== name) continue;
    if (s.offset + s.size > b.length) throw new Error(`truncated ELF: section ${name} cut off`);
    return b.subarray(s.offset, s.offset + s.size);
  }
  return undefined;
}
