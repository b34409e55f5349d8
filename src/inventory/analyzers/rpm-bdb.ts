/**
 * The values of a Berkeley DB hash database: rpm's legacy `Packages` file (RHEL/CentOS 7–8,
 * older SUSE), whose values are the package header blobs. Parsed by hand because no
 * maintained npm library reads Berkeley DB files; only what a read of the hash access
 * method needs (Berkeley DB's db_page.h layout): the metadata page (magic, byte order, page
 * size), hash pages holding key/data pairs, and overflow-page chains for data too large for
 * a hash page. Hostile files cannot loop (visited overflow pages) or read past the buffer.
 */
const HASH_MAGIC = 0x061561;
const PAGE_HEADER = 26;
const P_HASH_UNSORTED = 2;
const P_OVERFLOW = 7;
const P_HASH = 13;
const H_KEYDATA = 1;
const H_OFFPAGE = 3;

export class BdbFormatError extends Error {}

export function* bdbHashValues(buf: Buffer): Generator<Buffer> {
  if (buf.length < 512) throw new BdbFormatError('file too short for a Berkeley DB database');
  const le = buf.readUInt32LE(12) === HASH_MAGIC;
  if (!le && buf.readUInt32BE(12) !== HASH_MAGIC) throw new BdbFormatError('not a Berkeley DB hash database (bad magic)');
  const u16 = (o: number) => (le ? buf.readUInt16LE(o) : buf.readUInt16BE(o));
  const u32 = (o: number) => (le ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
  const pageSize = u32(20);
  if (pageSize < 512 || pageSize > 65536 || (pageSize & (pageSize - 1)) !== 0) throw new BdbFormatError(`implausible page size ${pageSize}`);
  if (buf[24] !== 0) throw new BdbFormatError('encrypted Berkeley DB databases are not supported');
  const pages = Math.floor(buf.length / pageSize);

  const overflow = (first: number, total: number): Buffer => {
    const parts: Buffer[] = [];
    const seen = new Set<number>();
    let got = 0;
    for (let pgno = first; pgno !== 0 && got < total; ) {
      if (pgno >= pages || seen.has(pgno)) throw new BdbFormatError(`broken overflow chain at page ${pgno}`);
      seen.add(pgno);
      const off = pgno * pageSize;
      if (buf[off + 25] !== P_OVERFLOW) throw new BdbFormatError(`page ${pgno} is not an overflow page`);
      // On overflow pages hf_offset holds the number of data bytes on the page.
      const len = Math.min(u16(off + 22), pageSize - PAGE_HEADER);
      parts.push(buf.subarray(off + PAGE_HEADER, off + PAGE_HEADER + len));
      got += len;
      pgno = u32(off + 16);
    }
    if (got < total) throw new BdbFormatError(`overflow chain from page ${first} ends after ${got} of ${total} bytes`);
    return Buffer.concat(parts).subarray(0, total);
  };

  for (let p = 1; p < pages; p++) {
    const off = p * pageSize;
    const type = buf[off + 25];
    if (type !== P_HASH && type !== P_HASH_UNSORTED) continue;
    const entries = u16(off + 20);
    if (PAGE_HEADER + entries * 2 > pageSize) throw new BdbFormatError(`page ${p}: ${entries} entries do not fit`);
    const itemOffset = (i: number) => u16(off + PAGE_HEADER + 2 * i);
    // Items are packed from the end of the page down: an item ends where the previous begins.
    for (let i = 1; i < entries; i += 2) {
      const start = itemOffset(i);
      const end = itemOffset(i - 1);
      if (start >= pageSize || end > pageSize || start >= end) throw new BdbFormatError(`page ${p}: bad item offsets`);
      const item = off + start;
      if (buf[item] === H_KEYDATA) yield buf.subarray(item + 1, off + end);
      else if (buf[item] === H_OFFPAGE) {
        if (end - start < 12) throw new BdbFormatError(`page ${p}: truncated off-page item`);
        yield overflow(u32(item + 4), u32(item + 8));
      }
      // Duplicate sets (H_DUPLICATE / H_OFFDUP) do not occur in rpm's Packages database.
    }
  }
}
