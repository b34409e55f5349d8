/**
 * Parses the probe's output (bpftrace `-f json` lines) into complete raw events. A syscall
 * event is a head record followed by its string/byte parts (see probes/gatehouse.bt); the
 * parts are joined here, keyed by thread id. A head whose parts never arrive (a lost
 * record) is counted, not silently forgotten.
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

export type RawRecord =
  | { t: 'event'; head: RawHead; strings: string[]; bytes: Buffer[] }
  | { t: 'fork'; ppid: number; pid: number; ts: bigint; comm: string }
  | { t: 'exit'; pid: number; ts: bigint }
  | { t: 'ready' }
  | { t: 'lost'; count: number };

const SEP = '\x1f';

/** Decodes bpftrace's %r rendering of a byte buffer (printable bytes as is, others as \xNN). */
export function decodeRBuf(s: string): Buffer {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x5c && s[i + 1] === 'x' && /^[0-9a-fA-F]{2}$/.test(s.slice(i + 2, i + 4))) {
      out.push(parseInt(s.slice(i + 2, i + 4), 16));
      i += 3;
    } else if (c < 0x80) {
      out.push(c);
    } else {
      for (const b of Buffer.from(s[i]!, 'utf8')) out.push(b);
    }
  }
  return Buffer.from(out);
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

  /** Feeds one line of bpftrace output; returns the completed records it finished. */
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
    if (msg.type !== 'printf' || typeof msg.data !== 'string') return [];
    let data = msg.data;
    if (data.endsWith('\n')) data = data.slice(0, -1);
    const tag = data[0];
    const body = data.slice(2);
    switch (tag) {
      case 'H':
        return this.head(body);
      case 'S':
      case 'B':
        return this.part(tag, body);
      case 'F': {
        const [ppid, pid, ts, comm] = fields(body, 3);
        return [{ t: 'fork', ppid: Number(ppid), pid: Number(pid), ts: BigInt(ts ?? '0'), comm: comm ?? '' }];
      }
      case 'X': {
        const [pid, ts] = fields(body, 1);
        return [{ t: 'exit', pid: Number(pid), ts: BigInt(ts ?? '0') }];
      }
      case 'R':
        return [{ t: 'ready' }];
      default:
        this.malformed++;
        return [];
    }
  }

  private head(body: string): RawRecord[] {
    const f = fields(body, 23);
    if (f.length < 24) {
      this.malformed++;
      return [];
    }
    const n = (i: number) => Number(f[i]);
    const head: RawHead = {
      tid: n(0),
      pid: n(1),
      ppid: n(2),
      uid: n(3),
      gid: n(4),
      euid: n(5),
      egid: n(6),
      loginuid: n(7),
      mntns: n(8),
      cgroup: n(9),
      capEffective: BigInt(f[10] ?? '0'),
      tty: n(11),
      sid: s32(n(12)),
      vpgid: s32(n(13)),
      ts: BigInt(f[14] ?? '0'),
      kind: f[15] ?? '',
      ret: n(16),
      a: [n(17), n(18), n(19), n(20), n(21)],
      comm: f[23] ?? '',
    };
    const want = n(22);
    if (this.ignoreTids.has(head.tid)) return [];
    const out: RawRecord[] = [];
    if (this.pending.delete(head.tid)) this.incomplete++;
    if (want === 0) out.push({ t: 'event', head, strings: [], bytes: [] });
    else this.pending.set(head.tid, { head, want, strings: [], bytes: [] });
    return out;
  }

  private part(tag: string, body: string): RawRecord[] {
    const [tid, value] = fields(body, 1);
    const p = this.pending.get(Number(tid));
    if (!p && this.ignoreTids.has(Number(tid))) return [];
    if (!p) {
      // A part without its head: the head was lost, or arrived before the probe was whole.
      this.incomplete++;
      return [];
    }
    if (tag === 'S') p.strings.push(value ?? '');
    else p.bytes.push(decodeRBuf(value ?? ''));
    if (p.strings.length + p.bytes.length < p.want) return [];
    this.pending.delete(p.head.tid);
    return [{ t: 'event', head: p.head, strings: p.strings, bytes: p.bytes }];
  }
}
