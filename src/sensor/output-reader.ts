/**
 * Splits bpftrace's stdout into the probe's records. Two formats arrive here:
 *
 * - `-f text` (the sensor's): every probe record ends with `recordEnd` — \x1e and a random
 *   token the sensor chose for this run — then \n. Strings inside records are raw bytes, so
 *   a file name may hold \n or \x1f, but not the token: a record ends only at its
 *   terminator. Between records bpftrace writes lines of its own that hold nothing from
 *   the traced processes: "Attaching N probes...", "Lost N events", and the heartbeats
 *   `print((cpu, nsecs))` renders as "(1, 12345)".
 * - `-f json` (bpftrace's JSON lines; older probes, test stand-ins): a line starting with `{`.
 *
 * At the start of each item the first characters say which one it is: a record starts
 * with its tag (H S B W F X R) and then a CPU number or \x1f; a JSON line with `{`; anything
 * else is one of bpftrace's own lines.
 */
import type { RawRecord, RecordAssembler } from './records.js';

const HEARTBEAT = /^\((\d+), (\d+)\)$/;
const LOST = /^Lost (\d+) events$/;

function isTag(c: number): boolean {
  return c === 0x48 || c === 0x53 || c === 0x42 || c === 0x57 || c === 0x46 || c === 0x58 || c === 0x52;
}

function startsRecord(text: string, at: number): boolean {
  if (!isTag(text.charCodeAt(at))) return false;
  const next = text.charCodeAt(at + 1);
  return next === 0x1f || (next >= 0x30 && next <= 0x39);
}

export class ProbeOutputReader {
  /** The start of an item whose end has not arrived yet. */
  private partial = '';
  private readonly terminator: string;

  /** `recordEnd`: what ends a text record before its \n ('' when bpftrace writes JSON only). */
  constructor(
    private readonly assembler: RecordAssembler,
    recordEnd: string,
  ) {
    this.terminator = recordEnd ? `${recordEnd}\n` : '';
  }

  /** Parses the complete items of `text` (appended to what was left over) into `out`. */
  feed(text: string, out: RawRecord[]): void {
    const buf = this.partial ? this.partial + text : text;
    const end = buf.length;
    let at = 0;
    while (at < end) {
      if (this.terminator && startsRecord(buf, at)) {
        const stop = buf.indexOf(this.terminator, at);
        if (stop < 0) break;
        this.assembler.pushRecord(buf.slice(at, stop), out);
        at = stop + this.terminator.length;
        continue;
      }
      const nl = buf.indexOf('\n', at);
      if (nl < 0) break;
      this.line(buf.slice(at, nl), out);
      at = nl + 1;
    }
    this.partial = at < end ? buf.slice(at) : '';
  }

  /** What is left when the output ends: an item cut short (counted as malformed). */
  end(out: RawRecord[]): void {
    const rest = this.partial;
    this.partial = '';
    if (rest) this.line(rest, out);
  }

  private line(line: string, out: RawRecord[]): void {
    if (!line) return;
    if (line.charCodeAt(0) === 0x7b) {
      for (const r of this.assembler.push(line)) out.push(r);
      return;
    }
    const hb = HEARTBEAT.exec(line);
    if (hb) {
      out.push({ t: 'heartbeat', cpu: Number(hb[1]), ts: BigInt(hb[2]!) });
      return;
    }
    const lost = LOST.exec(line);
    if (lost) {
      out.push({ t: 'lost', count: Number(lost[1]) });
      return;
    }
    if (line.startsWith('Attaching ')) return;
    this.assembler.malformed++;
  }
}
