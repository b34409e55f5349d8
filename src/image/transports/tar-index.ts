/**
 * Indexes a tar file's members (name → byte range) by reading only headers, so archive
 * members can be streamed in any order without extracting. Hand-written because
 * tar-stream only parses sequentially and exposes no offsets.
 */
import { open } from 'node:fs/promises';
import { UserError } from '../../util/errors.js';

export interface TarMember {
  name: string;
  offset: number;
  size: number;
  type: string; // '0' file, '5' dir, '2' symlink, '1' hardlink
  linkname: string;
}

function cstring(buf: Buffer, start: number, len: number): string {
  const end = buf.indexOf(0, start);
  return buf.toString('utf8', start, end >= 0 && end < start + len ? end : start + len);
}

function octal(buf: Buffer, start: number, len: number): number {
  // GNU base-256 for large sizes: high bit of the first byte set.
  if (buf[start]! & 0x80) {
    let v = 0;
    for (let i = start + 1; i < start + len; i++) v = v * 256 + buf[i]!;
    return v;
  }
  const text = cstring(buf, start, len).trim();
  return text ? parseInt(text, 8) : 0;
}

function validChecksum(h: Buffer): boolean {
  const stored = octal(h, 148, 8);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : h[i]!;
  return sum === stored;
}

function parsePax(data: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let pos = 0;
  while (pos < data.length) {
    const sp = data.indexOf(0x20, pos);
    if (sp < 0) break;
    const len = parseInt(data.toString('utf8', pos, sp), 10);
    if (!len || len < 0) break;
    const record = data.toString('utf8', sp + 1, pos + len - 1);
    const eq = record.indexOf('=');
    if (eq > 0) out[record.slice(0, eq)] = record.slice(eq + 1);
    pos += len;
  }
  return out;
}

export async function indexTar(path: string, maxMembers = 100_000): Promise<Map<string, TarMember>> {
  const fh = await open(path, 'r');
  try {
    const { size: fileSize } = await fh.stat();
    const members = new Map<string, TarMember>();
    const header = Buffer.alloc(512);
    let pos = 0;
    let longName: string | undefined;
    let longLink: string | undefined;
    let pax: Record<string, string> = {};
    while (pos + 512 <= fileSize) {
      await fh.read(header, 0, 512, pos);
      if (header.every((b) => b === 0)) break;
      if (!validChecksum(header)) {
        throw new UserError(`${path} is not a tar archive (bad header checksum at offset ${pos})`, 'bad-archive');
      }
      const size = octal(header, 124, 12);
      const type = String.fromCharCode(header[156]! || 0x30);
      const dataStart = pos + 512;
      if (dataStart + size > fileSize) throw new UserError(`${path}: truncated tar archive`, 'bad-archive');
      const next = dataStart + Math.ceil(size / 512) * 512;
      if (type === 'L' || type === 'K' || type === 'x') {
        if (size > 1024 * 1024) throw new UserError(`${path}: oversized tar extended header`, 'bad-archive');
        const data = Buffer.alloc(size);
        await fh.read(data, 0, size, dataStart);
        if (type === 'L') longName = cstring(data, 0, size);
        else if (type === 'K') longLink = cstring(data, 0, size);
        else pax = parsePax(data);
      } else if (type !== 'g') {
        const prefix = header.toString('utf8', 257, 263).startsWith('ustar') ? cstring(header, 345, 155) : '';
        const base = cstring(header, 0, 100);
        const name = pax.path ?? longName ?? (prefix ? `${prefix}/${base}` : base);
        const linkname = pax.linkpath ?? longLink ?? cstring(header, 157, 100);
        const clean = name.replace(/^\.\//, '').replace(/\/+$/, '');
        members.set(clean, { name: clean, offset: dataStart, size: pax.size ? Number(pax.size) : size, type, linkname });
        if (members.size > maxMembers) throw new UserError(`${path}: too many members for an image archive`, 'bad-archive');
        longName = longLink = undefined;
        pax = {};
      }
      pos = next;
    }
    return members;
  } finally {
    await fh.close();
  }
}
