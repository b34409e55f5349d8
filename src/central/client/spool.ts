/**
 * A bounded, crash-safe, append-only disk spool: where the sensor and the engine-proxy keep
 * events while Central is unreachable.
 *
 * Hand-written: npm has no well-kept bounded, fsync'd disk queue (the candidates are
 * SQLite-backed job queues with a few hundred downloads, or unmaintained), and the whole
 * thing is a few synchronous file operations.
 *
 * Layout of the directory:
 * - `seg-<seq>.ndjson`: segments of newline-delimited JSON, one event a line. Only the last
 *   segment is written to; a segment is deleted once every line in it is acknowledged.
 * - `state.json`: the acknowledged position (segment, byte offset), the loss counters and
 *   the spool's id; replaced atomically (write, fsync, rename, fsync the directory).
 * - `lock`: the pid of the process that has the spool open.
 *
 * Guarantees: `append` returns only after its lines are fsync'd, so an event it reported as
 * accepted survives kill -9 and power loss. A torn last line (a crash in the middle of an
 * append) is cut off on reopen; it was never reported as accepted. Order is kept.
 */
import { closeSync, existsSync, fstatSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, statSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { UserError, describeError } from '../../util/errors.js';

export interface SpoolOptions {
  /** Upper bound on the bytes of segment files on disk. */
  maxBytes: number;
  /** Size at which a new segment is started (default: an eighth of maxBytes, at most 8 MiB). */
  segmentBytes?: number;
}

export interface SpoolStats {
  /** Events appended and not yet acknowledged. */
  pendingEvents: number;
  /** Bytes of those events on disk. */
  pendingBytes: number;
  /** Events lost since the spool was created: dropped because it was full, or unreadable on disk. */
  droppedTotal: number;
}

export interface AppendResult {
  accepted: number;
  dropped: number;
}

interface State {
  v: 1;
  id: string;
  /** Segment holding the first unacknowledged line, and the byte offset of that line. */
  ackSegment: number;
  ackOffset: number;
  droppedTotal: number;
  /** droppedTotal as last reported to Central (see EventShipper). */
  lossReported: number;
}

interface Segment {
  seq: number;
  size: number;
}

/** Where each event returned by the last peek ends, so that ack(n) knows the new position. */
interface PeekedEnd {
  segment: number;
  offset: number;
  /** Unreadable lines skipped before this event (counted as lost when acknowledged). */
  corruptBefore: number;
}

const SEGMENT_RE = /^seg-(\d{16})\.ndjson$/;
const segmentName = (seq: number): string => `seg-${String(seq).padStart(16, '0')}.ndjson`;
const NEWLINE = 0x0a;
const READ_CHUNK = 256 << 10;
const openDirs = new Set<string>();

export class Spool<T = unknown> {
  private segments: Segment[] = [];
  private writeFd: number | undefined;
  private pendingEvents = 0;
  private peeked: PeekedEnd[] = [];
  private closed = false;

  private constructor(
    readonly dir: string,
    private readonly maxBytes: number,
    private readonly segmentBytes: number,
    private state: State,
  ) {}

  /** Opens (or creates) the spool in `dir`; recovers from a crash of the previous owner. */
  static open<T>(dir: string, opts: SpoolOptions): Spool<T> {
    if (!(opts.maxBytes > 0)) throw new UserError(`spool size must be positive (got ${opts.maxBytes})`);
    try {
      mkdirSync(dir, { recursive: true });
    } catch (e) {
      throw new UserError(`cannot create spool directory ${dir}: ${describeError(e)}`);
    }
    takeLock(dir);
    try {
      const segmentBytes = Math.max(1, Math.min(opts.segmentBytes ?? Math.floor(opts.maxBytes / 8), 8 << 20));
      const spool = new Spool<T>(dir, opts.maxBytes, segmentBytes, readState(dir));
      spool.recover();
      openDirs.add(dir);
      return spool;
    } catch (e) {
      releaseLock(dir);
      throw e;
    }
  }

  /** A random id made when the spool was created; Central can tell spools apart by it. */
  get id(): string {
    return this.state.id;
  }

  get lossReported(): number {
    return this.state.lossReported;
  }

  /**
   * Appends events in order and fsyncs them. When the spool is full, the events that do not
   * fit (this one and every later one of the call, so that order holds) are dropped and the
   * loss is counted on disk.
   */
  append(events: readonly T[]): AppendResult {
    this.assertOpen();
    let accepted = 0;
    const chunks: Buffer[] = [];
    let used = this.diskBytes();
    for (const event of events) {
      const line = Buffer.from(`${JSON.stringify(event)}\n`);
      if (used + line.length > this.maxBytes) break;
      chunks.push(line);
      used += line.length;
      accepted++;
    }
    // Lines are grouped per segment: the current one until it reaches segmentBytes.
    let i = 0;
    while (i < chunks.length) {
      const fd = this.writableSegment();
      const last = this.segments[this.segments.length - 1]!;
      const group: Buffer[] = [];
      let size = last.size;
      do {
        group.push(chunks[i]!);
        size += chunks[i]!.length;
        i++;
      } while (i < chunks.length && size < this.segmentBytes);
      try {
        writeAll(fd, Buffer.concat(group));
        fsyncSync(fd);
      } catch (e) {
        // A half-written group (disk full) must not glue itself to the next append's first line.
        ftruncateSync(fd, last.size);
        throw e;
      }
      last.size = size;
    }
    this.pendingEvents += accepted;
    const dropped = events.length - accepted;
    if (dropped > 0) this.writeState({ ...this.state, droppedTotal: this.state.droppedTotal + dropped });
    return { accepted, dropped };
  }

  /** The oldest unacknowledged events, at most `maxEvents`, in order. Unreadable lines are skipped. */
  peek(maxEvents: number): T[] {
    this.assertOpen();
    const events: T[] = [];
    this.peeked = [];
    let corrupt = 0;
    let lastCorruptEnd: { segment: number; offset: number } | undefined;
    for (const seg of this.segments) {
      if (events.length >= maxEvents) break;
      if (seg.seq < this.state.ackSegment) continue;
      const start = seg.seq === this.state.ackSegment ? this.state.ackOffset : 0;
      for (const { line, end } of readLines(join(this.dir, segmentName(seg.seq)), start, seg.size)) {
        try {
          events.push(JSON.parse(line.toString('utf8')) as T);
          this.peeked.push({ segment: seg.seq, offset: end, corruptBefore: corrupt });
          corrupt = 0;
        } catch {
          corrupt++;
          lastCorruptEnd = { segment: seg.seq, offset: end };
        }
        if (events.length >= maxEvents) break;
      }
    }
    // Nothing readable after unreadable lines: move past them now, or they would block the spool.
    if (events.length === 0 && corrupt > 0 && lastCorruptEnd) this.advance(lastCorruptEnd.segment, lastCorruptEnd.offset, corrupt, corrupt);
    return events;
  }

  /** Acknowledges the first `n` events of the last peek: they will not be returned again. */
  ack(n: number): void {
    this.assertOpen();
    if (n <= 0) return;
    if (n > this.peeked.length) throw new Error(`spool: ack(${n}) of more events than the last peek returned (${this.peeked.length})`);
    const end = this.peeked[n - 1]!;
    const corrupt = this.peeked.slice(0, n).reduce((sum, p) => sum + p.corruptBefore, 0);
    this.advance(end.segment, end.offset, n + corrupt, corrupt);
  }

  /** Records that Central has been told of the loss up to `droppedTotal`. */
  setLossReported(droppedTotal: number): void {
    this.assertOpen();
    if (droppedTotal > this.state.lossReported) this.writeState({ ...this.state, lossReported: droppedTotal });
  }

  stats(): SpoolStats {
    let pendingBytes = 0;
    for (const seg of this.segments) {
      if (seg.seq > this.state.ackSegment) pendingBytes += seg.size;
      else if (seg.seq === this.state.ackSegment) pendingBytes += seg.size - this.state.ackOffset;
    }
    return { pendingEvents: this.pendingEvents, pendingBytes, droppedTotal: this.state.droppedTotal };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.writeFd !== undefined) closeSync(this.writeFd);
    this.writeFd = undefined;
    openDirs.delete(this.dir);
    releaseLock(this.dir);
  }

  private assertOpen(): void {
    if (this.closed) throw new Error(`spool ${this.dir} is closed`);
  }

  private diskBytes(): number {
    return this.segments.reduce((sum, s) => sum + s.size, 0);
  }

  /** Moves the acknowledged position, persists it, then deletes segments wholly behind it. */
  private advance(segment: number, offset: number, consumedLines: number, lost: number): void {
    const index = this.segments.findIndex((s) => s.seq === segment);
    let next = { ...this.state, ackSegment: segment, ackOffset: offset, droppedTotal: this.state.droppedTotal + lost };
    // At the end of a segment: point at the start of the next one, so that this one can go.
    if (index >= 0 && offset >= this.segments[index]!.size) {
      next = { ...next, ackSegment: this.segments[index + 1]?.seq ?? segment + 1, ackOffset: 0 };
    }
    this.writeState(next);
    this.pendingEvents = Math.max(0, this.pendingEvents - consumedLines);
    this.peeked = [];
    const done = this.segments.filter((s) => s.seq < next.ackSegment);
    if (done.length === 0) return;
    if (this.writeFd !== undefined && done.includes(this.segments[this.segments.length - 1]!)) {
      closeSync(this.writeFd);
      this.writeFd = undefined;
    }
    for (const s of done) unlinkSync(join(this.dir, segmentName(s.seq)));
    this.segments = this.segments.filter((s) => s.seq >= next.ackSegment);
    fsyncDir(this.dir);
  }

  /** The fd of the segment to append to, starting a new one when the last is full or gone. */
  private writableSegment(): number {
    const last = this.segments[this.segments.length - 1];
    if (this.writeFd !== undefined && last && last.size < this.segmentBytes) return this.writeFd;
    if (this.writeFd !== undefined) closeSync(this.writeFd);
    const seq = Math.max(this.state.ackSegment, last ? last.seq + 1 : 0);
    this.writeFd = openSync(join(this.dir, segmentName(seq)), 'a');
    fsyncDir(this.dir);
    this.segments.push({ seq, size: 0 });
    return this.writeFd;
  }

  /** Drops segments already acknowledged, cuts a torn last line, counts pending lines. */
  private recover(): void {
    const seqs = readdirSync(this.dir)
      .map((n) => SEGMENT_RE.exec(n))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b);
    for (const seq of seqs) {
      const path = join(this.dir, segmentName(seq));
      if (seq < this.state.ackSegment) {
        unlinkSync(path);
        continue;
      }
      this.segments.push({ seq, size: statSync(path).size });
    }
    const last = this.segments[this.segments.length - 1];
    if (last) {
      const path = join(this.dir, segmentName(last.seq));
      const buf = readFileSync(path);
      const keep = buf.lastIndexOf(NEWLINE) + 1;
      if (keep < buf.length) {
        const fd = openSync(path, 'r+');
        try {
          ftruncateSync(fd, keep);
          fsyncSync(fd);
        } finally {
          closeSync(fd);
        }
        last.size = keep;
      }
      if (last.size === 0 && last.seq !== this.state.ackSegment) {
        unlinkSync(path);
        this.segments.pop();
      }
    }
    for (const seg of this.segments) {
      const start = seg.seq === this.state.ackSegment ? Math.min(this.state.ackOffset, seg.size) : 0;
      for (const _ of readLines(join(this.dir, segmentName(seg.seq)), start, seg.size)) this.pendingEvents++;
    }
  }

  private writeState(next: State): void {
    const tmp = join(this.dir, 'state.json.tmp');
    const fd = openSync(tmp, 'w');
    try {
      writeAll(fd, Buffer.from(JSON.stringify(next)));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, join(this.dir, 'state.json'));
    fsyncDir(this.dir);
    this.state = next;
  }
}

export function openSpool<T = unknown>(dir: string, opts: SpoolOptions): Spool<T> {
  return Spool.open<T>(dir, opts);
}

function readState(dir: string): State {
  const path = join(dir, 'state.json');
  if (!existsSync(path)) return { v: 1, id: randomUUID(), ackSegment: 0, ackOffset: 0, droppedTotal: 0, lossReported: 0 };
  let s: Partial<State>;
  try {
    s = JSON.parse(readFileSync(path, 'utf8')) as Partial<State>;
  } catch (e) {
    throw new UserError(`spool ${dir}: unreadable state.json (${describeError(e)})`);
  }
  const nat = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
  if (s.v !== 1 || typeof s.id !== 'string' || !nat(s.ackSegment) || !nat(s.ackOffset) || !nat(s.droppedTotal) || !nat(s.lossReported)) {
    throw new UserError(`spool ${dir}: state.json is not a spool state of version 1`);
  }
  return s as State;
}

/**
 * One process per spool: a second writer would interleave lines and acknowledgements. The
 * lock holds the owner's pid and its start time, so that a pid reused after a restart (small
 * pids in containers are reused all the time) does not look like the owner.
 */
function takeLock(dir: string): void {
  const path = join(dir, 'lock');
  const me = lockText(process.pid);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(path, me, { flag: 'wx' });
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new UserError(`cannot lock spool ${dir}: ${describeError(e)}`);
    }
    const held = readFileSync(path, 'utf8').trim();
    const owner = Number(held.split(' ')[0]);
    const ours = held === me && !openDirs.has(dir);
    if (!ours && Number.isSafeInteger(owner) && owner > 0 && held === lockText(owner) && isAlive(owner)) {
      throw new UserError(`spool ${dir} is in use by process ${owner}`);
    }
    // Left behind by a process that died (or by this one before a simulated crash).
    unlinkSync(path);
  }
  throw new UserError(`cannot lock spool ${dir}: another process is taking it`);
}

/** "PID STARTTIME": the start time (in clock ticks since boot, from /proc) tells a reused pid apart; empty where /proc is absent. */
function lockText(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces and parentheses); starttime is field 22.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return `${pid} ${fields[19] ?? ''}`.trim();
  } catch {
    return String(pid);
  }
}

function releaseLock(dir: string): void {
  try {
    unlinkSync(join(dir, 'lock'));
  } catch {
    // Already gone: nothing to release.
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function writeAll(fd: number, buf: Buffer): void {
  let off = 0;
  while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
}

/** Complete lines of a file between two byte offsets, read in chunks; `end` is the offset after each line. */
function* readLines(path: string, start: number, end: number): Generator<{ line: Buffer; end: number }> {
  const fd = openSync(path, 'r');
  try {
    const limit = Math.min(end, fstatSync(fd).size);
    let carry: Buffer = Buffer.alloc(0);
    let pos = start;
    while (pos < limit) {
      const chunk = Buffer.alloc(Math.min(READ_CHUNK, limit - pos));
      const n = readSync(fd, chunk, 0, chunk.length, pos);
      if (n === 0) break;
      const buf = carry.length ? Buffer.concat([carry, chunk.subarray(0, n)]) : chunk.subarray(0, n);
      const bufStart = pos - carry.length;
      pos += n;
      let from = 0;
      for (let nl = buf.indexOf(NEWLINE, from); nl >= 0; nl = buf.indexOf(NEWLINE, from)) {
        yield { line: buf.subarray(from, nl), end: bufStart + nl + 1 };
        from = nl + 1;
      }
      carry = Buffer.from(buf.subarray(from));
    }
  } finally {
    closeSync(fd);
  }
}

function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
