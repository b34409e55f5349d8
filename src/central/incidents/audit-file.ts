/**
 * `gatehouse server --audit-log FILE [--audit-cluster NAME]`: Central tails the
 * kube-apiserver's log backend (`--audit-log-path`, one audit.k8s.io/v1 Event per line)
 * and feeds its events to the incident correlator, the same path as the webhook backend.
 *
 * - Polled (stat, then read what was appended): inotify misses renames on some
 *   filesystems and is not there over NFS; one stat a second costs nothing.
 * - Start: at the end of a file that exists (what it holds is a previous run's history,
 *   older than any incident this Central has open), at 0 of a file that appears later.
 * - Rotation (`--audit-log-maxsize`, logrotate): a new inode at the path. The old file is
 *   read to its end first, then the new one from 0. Truncation in place (copytruncate):
 *   the size falls below the position, and reading starts again at 0.
 * - A last line without its newline waits for the rest (the apiserver writes a line in
 *   several writes when it is long).
 * - Malformed lines (not JSON, not an Event, longer than MAX_LINE) are counted per kind
 *   and logged once per kind; the tail goes on.
 */
import { open, stat, type FileHandle } from 'node:fs/promises';
import type { CentralContext } from '../context.js';
import type { CentralJob, CentralJobTools } from '../jobs.js';
import type { AuditEvent, CorrelationInput } from '../../runtime/incidents/types.js';
import { auditLogEvents } from '../../runtime/incidents/audit.js';
import { describeError } from '../../util/errors.js';
import { incidentService } from './service.js';

/** A line longer than this is dropped (the webhook's body limit is 16 MB for a whole batch). */
export const MAX_LINE = 4 * 1024 * 1024;
const CHUNK = 1024 * 1024;

export type MalformedKind = 'not-json' | 'not-an-event' | 'too-long';

export interface AuditFileOptions {
  file: string;
  /** The cluster the events belong to (pod keys are per cluster; default 'default'). */
  cluster?: string;
  /** How often the file is looked at (default 1 s). */
  pollMs?: number;
  /** Read an existing file from its start instead of its end. */
  fromStart?: boolean;
  /** Sees the tail once made (its counters: tests, and a future status endpoint). */
  onTail?: (tail: AuditFileTail) => void;
}

export interface AuditFileStats {
  events: number;
  malformed: Record<MalformedKind, number>;
  rotations: number;
  truncations: number;
  /** Polls done (a test waits for the first). */
  polls: number;
}

type Log = CentralJobTools['log'];

/** The tail itself: `poll()` reads what the file gained since the last call and hands the events to `sink`. */
export class AuditFileTail {
  readonly stats: AuditFileStats = { events: 0, malformed: { 'not-json': 0, 'not-an-event': 0, 'too-long': 0 }, rotations: 0, truncations: 0, polls: 0 };
  private fh: FileHandle | undefined;
  private ino: number | undefined;
  private pos = 0;
  private partial = '';
  /** Inside a line already known to be too long: skip to its newline. */
  private skipping = false;
  private first = true;
  private line = 0;
  private readonly logged = new Set<string>();
  private readonly decoder = new TextDecoder('utf-8');

  constructor(
    private readonly opts: AuditFileOptions,
    private readonly sink: (events: AuditEvent[]) => Promise<void>,
    private readonly log: Log,
  ) {}

  async poll(): Promise<void> {
    try {
      await this.pollOnce();
    } finally {
      this.stats.polls++;
    }
  }

  private async pollOnce(): Promise<void> {
    let st;
    try {
      st = await stat(this.opts.file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') this.once('stat', `audit log ${this.opts.file}: ${describeError(e)}`);
      this.first = false; // a file that appears later is read from 0
      if (this.fh) await this.drainOld(); // rotated away and not yet recreated: finish the old one
      return;
    }
    if (this.fh && st.ino !== this.ino) {
      await this.drainOld();
      this.stats.rotations++;
    }
    if (!this.fh) {
      this.fh = await open(this.opts.file, 'r');
      // the same file again (reopened after a read error) goes on where it was
      if (st.ino !== this.ino) {
        this.pos = this.first && !this.opts.fromStart ? st.size : 0;
        this.partial = '';
        this.skipping = false;
        this.line = 0;
      }
      this.ino = st.ino;
      this.first = false;
    } else if (st.size < this.pos) {
      // truncated in place: what was there is gone, the new content starts at 0
      this.stats.truncations++;
      this.pos = 0;
      this.partial = '';
      this.skipping = false;
    }
    await this.readToEnd();
  }

  async close(): Promise<void> {
    await this.fh?.close().catch(() => undefined);
    this.fh = undefined;
  }

  /** Reads the old file to its end (what was written before the rotation), then lets it go. */
  private async drainOld(): Promise<void> {
    await this.readToEnd();
    // a partial last line of the old file will never be finished
    if (this.partial) this.count('not-json', 'an unterminated last line before rotation');
    this.partial = '';
    await this.close();
  }

  private async readToEnd(): Promise<void> {
    const fh = this.fh;
    if (!fh) return;
    const buf = Buffer.allocUnsafe(CHUNK);
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, CHUNK, this.pos);
      if (!bytesRead) return;
      this.pos += bytesRead;
      await this.take(this.decoder.decode(buf.subarray(0, bytesRead), { stream: true }));
    }
  }

  private async take(text: string): Promise<void> {
    const events: AuditEvent[] = [];
    let start = 0;
    for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', start)) {
      const piece = text.slice(start, nl);
      start = nl + 1;
      this.line++;
      if (this.skipping) {
        this.skipping = false;
        this.partial = '';
        continue;
      }
      const line = this.partial + piece;
      this.partial = '';
      if (line.length > MAX_LINE) {
        this.count('too-long', `line of ${line.length} characters`);
        continue;
      }
      const ev = this.parse(line);
      if (ev) events.push(ev);
    }
    if (!this.skipping) {
      this.partial += text.slice(start);
      if (this.partial.length > MAX_LINE) {
        this.count('too-long', `line of more than ${MAX_LINE} characters`);
        this.partial = '';
        this.skipping = true;
      }
    }
    if (events.length) {
      this.stats.events += events.length;
      await this.sink(events);
    }
  }

  private parse(line: string): AuditEvent | undefined {
    if (!line.trim()) return undefined;
    try {
      return auditLogEvents(line)[0];
    } catch (e) {
      this.count(/not JSON/.test(describeError(e)) ? 'not-json' : 'not-an-event', `line ${this.line}`);
      return undefined;
    }
  }

  private count(kind: MalformedKind, where: string): void {
    this.stats.malformed[kind]++;
    this.once(kind, `audit log ${this.opts.file}: skipped a malformed line (${kind}: ${where}); further ones of this kind are counted, not logged`);
  }

  private once(kind: string, message: string): void {
    if (this.logged.has(kind)) return;
    this.logged.add(kind);
    this.log.warn({ file: this.opts.file, kind }, message);
  }
}

/** The background job of `--audit-log`: polls until Central stops. */
export function auditFileJob(opts: AuditFileOptions): CentralJob {
  const job: CentralJob = async (ctx: CentralContext, signal, { log }) => {
    const cluster = opts.cluster;
    const service = incidentService(ctx);
    const tail = new AuditFileTail(opts, (events) => service.feed(events.map((event): CorrelationInput => ({ kind: 'audit', event, ...(cluster ? { cluster } : {}) }))), log);
    opts.onTail?.(tail);
    log.info({ file: opts.file, cluster: cluster ?? 'default' }, 'tailing the Kubernetes audit log');
    try {
      while (!signal.aborted) {
        try {
          await tail.poll();
        } catch (e) {
          log.error({ file: opts.file, error: describeError(e) }, 'audit log tail failed; retrying');
          await tail.close();
        }
        await new Promise<void>((resolve) => {
          const wake = () => {
            clearTimeout(t);
            signal.removeEventListener('abort', wake);
            resolve();
          };
          const t = setTimeout(wake, opts.pollMs ?? 1000);
          signal.addEventListener('abort', wake, { once: true });
        });
      }
    } finally {
      await tail.close();
    }
  };
  Object.defineProperty(job, 'name', { value: 'audit-log-tail' });
  return job;
}
