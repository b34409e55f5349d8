/**
 * The header blobs of rpm's NDB package database (`Packages.db`: openSUSE/SLES 15). Parsed
 * by hand because no npm library reads NDB; the layout is that of rpm's
 * lib/backend/ndb/rpmpkg.c, all numbers little-endian uint32:
 * - a 32-byte file header at offset 0: magic "RpmP", version 0, generation, number of
 *   4096-byte slot pages, next package index;
 * - after it, filling the slot pages, 16-byte slots: magic "Slot", package index, block
 *   offset, block count (blocks are 16 bytes; offset 0 marks a free slot);
 * - at a slot's block offset, its blob: a 16-byte head (magic "BlbS", package index,
 *   timestamp, length), the header blob, zero padding, a 12-byte tail (adler32 of everything
 *   before it, length, magic "BlbE"), exactly filling the slot's blocks.
 * Every offset and length is checked against the file before use (nothing is allocated from
 * them); blobs may not overlap each other or the slot pages. The adler32 is checked on every
 * blob (rpm itself checks it only when moving blobs). Blobs come in file order.
 */
const PAGE = 4096;
const SLOT = 16;
const BLOCK = 16;
const FILE_HEADER = 32;
const BLOB_HEAD = 16;
const BLOB_TAIL = 12;
const magic = (s: string) => Buffer.from(s, 'latin1').readUInt32LE(0);
const DB_MAGIC = magic('RpmP');
const SLOT_MAGIC = magic('Slot');
const HEAD_MAGIC = magic('BlbS');
const TAIL_MAGIC = magic('BlbE');

export class NdbFormatError extends Error {}

interface Slot {
  pkg: number;
  blk: number;
  count: number;
}

export function* ndbPackageBlobs(buf: Buffer): Generator<Buffer> {
  if (buf.length < PAGE) throw new NdbFormatError('file too short for an rpm NDB Packages.db');
  if (buf.readUInt32LE(0) !== DB_MAGIC) throw new NdbFormatError('not an rpm NDB Packages.db (bad magic)');
  const version = buf.readUInt32LE(4);
  if (version !== 0) throw new NdbFormatError(`unsupported NDB Packages.db version ${version}`);
  if (buf.length % BLOCK !== 0) throw new NdbFormatError(`file size ${buf.length} is not a multiple of ${BLOCK} (truncated?)`);
  const slotPages = buf.readUInt32LE(12);
  if (slotPages === 0 || slotPages > buf.length / PAGE) throw new NdbFormatError(`${slotPages} slot pages do not fit in the file`);
  const fileBlocks = buf.length / BLOCK;
  const firstDataBlock = (slotPages * PAGE) / BLOCK;

  const slots: Slot[] = [];
  const pkgs = new Set<number>();
  for (let o = FILE_HEADER; o < slotPages * PAGE; o += SLOT) {
    if (buf.readUInt32LE(o) !== SLOT_MAGIC) throw new NdbFormatError(`bad slot magic at offset ${o}`);
    const blk = buf.readUInt32LE(o + 8);
    if (blk === 0) continue; // free slot
    const pkg = buf.readUInt32LE(o + 4);
    const count = buf.readUInt32LE(o + 12);
    if (pkg === 0 || count === 0 || blk < firstDataBlock) throw new NdbFormatError(`bad slot at offset ${o}`);
    if (blk + count > fileBlocks) throw new NdbFormatError(`package ${pkg}: blob at block ${blk} (+${count}) runs past the end of the file`);
    if (pkgs.has(pkg)) throw new NdbFormatError(`package ${pkg} has two slots`);
    pkgs.add(pkg);
    slots.push({ pkg, blk, count });
  }
  slots.sort((a, b) => a.blk - b.blk);
  for (let i = 1; i < slots.length; i++) {
    const prev = slots[i - 1];
    if (slots[i].blk < prev.blk + prev.count) throw new NdbFormatError(`blobs of packages ${prev.pkg} and ${slots[i].pkg} overlap`);
  }
  for (const s of slots) yield blob(buf, s);
}

function blob(buf: Buffer, { pkg, blk, count }: Slot): Buffer {
  const start = blk * BLOCK;
  const end = start + count * BLOCK; // within the file: checked with the slot
  if (buf.readUInt32LE(start) !== HEAD_MAGIC) throw new NdbFormatError(`package ${pkg}: bad blob magic at block ${blk}`);
  const owner = buf.readUInt32LE(start + 4);
  if (owner !== pkg) throw new NdbFormatError(`package ${pkg}: the blob at block ${blk} belongs to package ${owner}`);
  const len = buf.readUInt32LE(start + 12);
  if (Math.ceil((BLOB_HEAD + len + BLOB_TAIL) / BLOCK) !== count) {
    throw new NdbFormatError(`package ${pkg}: blob length ${len} does not fit its ${count} blocks`);
  }
  const tail = end - BLOB_TAIL;
  if (buf.readUInt32LE(tail + 8) !== TAIL_MAGIC || buf.readUInt32LE(tail + 4) !== len) {
    throw new NdbFormatError(`package ${pkg}: bad blob trailer`);
  }
  if (buf.readUInt32LE(tail) !== adler32(buf, start, tail)) throw new NdbFormatError(`package ${pkg}: blob checksum mismatch`);
  return buf.subarray(start + BLOB_HEAD, start + BLOB_HEAD + len);
}

/** RFC 1950 Adler-32 of buf[from, to). */
function adler32(buf: Buffer, from: number, to: number): number {
  let a = 1;
  let b = 0;
  for (let i = from; i < to; ) {
    // zlib's NMAX: reducing every 5552 bytes keeps both sums small integers.
    const stop = Math.min(to, i + 5552);
    for (; i < stop; i++) {
      a += buf[i];
      b += a;
    }
    a %= 65521;
    b %= 65521;
  }
  return ((b << 16) | a) >>> 0;
}
