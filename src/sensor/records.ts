/**
 * Parses the probe's records into complete raw events. A syscall event is a head record
 * followed by its string/byte parts (see probes/gatehouse.bt); the parts are joined here,
 * keyed by thread id. A head whose parts never arrive (a lost record) is counted, not
 * silently forgotten. Records come as text (bpftrace -f text: `pushRecord`, split out of
 * the stream by output-reader.ts) or as bpftrace -f json lines (`push`).
 */

/**
 * bpftrace 0.17's JSON output writes a byte ≥ 0x80 as its sign-extended value, "\uffffffc3"
 * for 0xc3 (not valid JSON for what it means). Matched only where the backslash is not
 * itself escaped, so a file named with that text stays as it is.
 */
const BPFTRACE_HIGH_BYTE = /(?<!\\)((?:\\\\)*)\\uffffff([0-9a-f]{2})/g;

/** Numeric head fields, in record order after the tag. */
export interface RawHead {
  tid: number;
  pid: number;
  ppid: number;
  uid: number;
  gid: number;
  euid: number;
  egid: number;
  loginuid: number;
  mntns: number;
  /** cgroup v2 id (kernfs node id, never reused); 1 is the root cgroup. */
  cgroup: number;
  capEffective: bigint;
  tty: number;
  sid: number;
  vpgid: number;
  ts: bigint;
  kind: string;
  ret: number;
  a: [number, number, number, number, number];
  comm: string;
}

/**
 * `cpu`: the CPU whose perf buffer carried the record (the ordering watermark, reorder.ts);
 * absent in records of probes that do not print it.
 */
export type RawRecord =
  | { t: 'event'; head: RawHead; strings: string[]; bytes: Buffer[]; cpu?: number }
  | { t: 'fork'; ppid: number; pid: number; ts: bigint; comm: string; cpu?: number }
  | { t: 'exit'; pid: number; ts: bigint; cpu?: number }
  /** A CPU's clock: every record of that CPU older than `ts` has been read. */
  | { t: 'heartbeat'; cpu: number; ts: bigint }
  | { t: 'ready' }
  | { t: 'lost'; count: number };

const SEP = '\x1f';

/** Decodes bpftrace's %r rendering of a byte buffer (printable bytes as is, others as \xNN). */
export function decodeRBuf(s: string): Buffer {
  const out = Buffer.allocUnsafe(s.length * 3);
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const hi = c === 0x5c && s.charCodeAt(i + 1) === 0x78 ? hexDigit(s.charCodeAt(i + 2)) : -1;
    const lo = hi >= 0 ? hexDigit(s.charCodeAt(i + 3)) : -1;
    if (lo >= 0) {
      out[n++] = (hi << 4) | lo;
      i += 3;
    } else if (c < 0x80) {
      out[n++] = c;
    } else {
      n += out.write(s[i]!, n, 'utf8');
    }
  }
  return Buffer.from(out.subarray(0, n));
}

/** Decodes a W part's value: a byte count, then that many bytes as little-endian 32-bit words. */
export function decodeWords(s: string): Buffer {
  const f = s.split(SEP);
  const n = Math.min(Number(f[0]) || 0, (f.length - 1) * 4);
  const out = Buffer.alloc(Math.ceil(n / 4) * 4);
  for (let i = 1; i < f.length && (i - 1) * 4 < out.length; i++) out.writeUInt32LE(Number(f[i]) >>> 0, (i - 1) * 4);
  return out.length === n ? out : out.subarray(0, n);
}

function hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}

/** Splits off the first n fields; the rest (which may contain the separator) is the last field. */
function fields(data: string, n: number): string[] {
  const out: string[] = [];
  let from = 0;
  for (let i = 0; i < n; i++) {
    const at = data.indexOf(SEP, from);
    if (at < 0) {
      out.push(data.slice(from));
      return out;
    }
    out.push(data.slice(from, at));
    from = at + 1;
  }
  out.push(data.slice(from));
  return out;
}

/** A signed 32-bit value printed as unsigned (bpftrace widens some ints without sign). */
export function s32(n: number): number {
  return n > 0x7fffffff && n <= 0xffffffff ? n - 0x100000000 : n;
}

interface Pending {
  head: RawHead;
  cpu: number;
  want: number;
  strings: string[];
  bytes: Buffer[];
}

export class RecordAssembler {
  private pending = new Map<number, Pending>();
  /** Heads whose parts never arrived (replaced by a newer head of the same thread). */
  incomplete = 0;
  /** Lines that were not valid records. */
  malformed = 0;
  /** Threads whose records are ignored (the sensor's own bpftrace opens files while attaching). */
  readonly ignoreTids = new Set<number>();

  /** Forgets heads still waiting for parts, e.g. those cut in half while probes attached. */
  resetPending(): void {
    this.pending.clear();
  }

  /** Feeds one line of bpftrace -f json output; returns the completed records it finished. */
  push(line: string): RawRecord[] {
    if (!line) return [];
    let msg: { type?: string; data?: unknown };
    const highBytes = line.includes('\\uffffff');
    try {
      msg = JSON.parse(highBytes ? line.replace(BPFTRACE_HIGH_BYTE, '$1\\u00$2') : line) as { type?: string; data?: unknown };
    } catch {
      this.malformed++;
      return [];
    }
    // each byte ≥ 0x80 came back as one latin1 character: rebuild the UTF-8 text
    if (highBytes && typeof msg.data === 'string') msg.data = Buffer.from(msg.data, 'latin1').toString('utf8');
    if (msg.type === 'lost_events') {
      const n = Number((msg.data as { events?: number } | undefined)?.events ?? 0);
      return [{ t: 'lost', count: n }];
    }
    if (msg.type === 'value' && Array.isArray(msg.data) && msg.data.length === 2) {
      const [cpu, ts] = msg.data as unknown[];
      if (typeof cpu === 'number' && typeof ts === 'number') return [{ t: 'heartbeat', cpu, ts: BigInt(ts) }];
    }
    if (msg.type !== 'printf' || typeof msg.data !== 'string') return [];
    let data = msg.data;
    if (data.endsWith('\n')) data = data.slice(0, -1);
    const out: RawRecord[] = [];
    this.pushRecord(data, out);
    return out;
  }

  /**
   * Feeds one record's text (its tag up to, not including, its terminator) and appends the
   * records it completes to `out`. The tag may carry the CPU (`H1`, `F0`, `X1`).
   */
  pushRecord(data: string, out: RawRecord[]): void {
    const tag = data.charCodeAt(0);
    const sep = data.indexOf(SEP);
    if (sep < 1) {
      this.malformed++;
      return;
    }
    const cpu = sep > 1 ? Number(data.slice(1, sep)) : -1;
    const body = data.slice(sep + 1);
    switch (tag) {
      case 0x48: // H
        this.head(body, cpu, out);
        return;
      case 0x53: // S
      case 0x42: // B
      case 0x57: // W
        if (sep === 1) this.part(tag, body, out);
        else this.malformed++;
        return;
      case 0x46: { // F
        const [ppid, pid, ts, comm] = fields(body, 3);
        const r: RawRecord = { t: 'fork', ppid: Number(ppid), pid: Number(pid), ts: BigInt(ts ?? '0'), comm: comm ?? '' };
        if (cpu >= 0) r.cpu = cpu;
        out.push(r);
        return;
      }
      case 0x58: { // X
        const [pid, ts] = fields(body, 1);
        const r: RawRecord = { t: 'exit', pid: Number(pid), ts: BigInt(ts ?? '0') };
        if (cpu >= 0) r.cpu = cpu;
        out.push(r);
        return;
      }
      case 0x52: // R
        out.push({ t: 'ready' });
        return;
      default:
        this.malformed++;
    }
  }

  private head(body: string, cpu: number, out: RawRecord[]): void {
    const f = fields(body, 23);
    if (f.length < 24) {
      this.malformed++;
      return;
    }
    // no closure per head: tsx/esbuild wraps each one in a __name() call
    const head: RawHead = {
      tid: Number(f[0]),
      pid: Number(f[1]),
      ppid: Number(f[2]),
      uid: Number(f[3]),
      gid: Number(f[4]),
      euid: Number(f[5]),
      egid: Number(f[6]),
      loginuid: Number(f[7]),
      mntns: Number(f[8]),
      cgroup: Number(f[9]),
      capEffective: BigInt(f[10]!),
      tty: Number(f[11]),
      sid: s32(Number(f[12])),
      vpgid: s32(Number(f[13])),
      ts: BigInt(f[14]!),
      kind: f[15]!,
      ret: Number(f[16]),
      a: [Number(f[17]), Number(f[18]), Number(f[19]), Number(f[20]), Number(f[21])],
      comm: f[23]!,
    };
    const want = Number(f[22]);
    if (this.ignoreTids.has(head.tid)) return;
    if (this.pending.delete(head.tid)) this.incomplete++;
    if (want === 0) out.push(this.event(head, cpu, [], []));
    else this.pending.set(head.tid, { head, cpu, want, strings: [], bytes: [] });
  }

  private event(head: RawHead, cpu: number, strings: string[], bytes: Buffer[]): RawRecord {
    const r: RawRecord = { t: 'event', head, strings, bytes };
    if (cpu >= 0) r.cpu = cpu;
    return r;
  }

  private part(tag: number, body: string, out: RawRecord[]): void {
    const at = body.indexOf(SEP);
    const tid = Number(at < 0 ? body : body.slice(0, at));
    const value = at < 0 ? '' : body.slice(at + 1);
    const p = this.pending.get(tid);
    if (!p && this.ignoreTids.has(tid)) return;
    if (!p) {
      // A part without its head: the head was lost, or arrived before the probe was whole.
      this.incomplete++;
      return;
    }
    if (tag === 0x53) p.strings.push(value);
    else if (tag === 0x42) p.bytes.push(decodeRBuf(value));
    else p.bytes.push(decodeWords(value));
    if (p.strings.length + p.bytes.length < p.want) return;
    this.pending.delete(p.head.tid);
    out.push(this.event(p.head, p.cpu, p.strings, p.bytes));
  }
}
