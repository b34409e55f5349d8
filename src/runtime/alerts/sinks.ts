/**
 * Where alerts go: a stream (stdout), a file (JSON lines, appended), or an HTTP webhook
 * (one POST per alert, as Falco's http_output). A new destination = one new AlertSink.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import { request } from 'undici';
import { UserError, describeError } from '../../util/errors.js';
import type { Alert } from './alert.js';

export interface AlertSink {
  write(alert: Alert): void;
  /** Flushes and closes; resolves when every alert has been delivered (or failed). */
  close(): Promise<void>;
  /** Alerts that could not be delivered. */
  readonly failed: number;
}

/**
 * Alerts come in bursts (the sensor hands over a batch of events at once): writes of one
 * tick are corked into one write call instead of one per alert.
 */
function writeCorked(out: Writable, text: string): void {
  if (!out.writableCorked) {
    out.cork();
    process.nextTick(() => out.uncork());
  }
  out.write(text);
}

export class StreamSink implements AlertSink {
  failed = 0;
  constructor(private readonly out: Writable) {}
  write(alert: Alert): void {
    writeCorked(this.out, `${JSON.stringify(alert)}\n`);
  }
  async close(): Promise<void> {}
}

export class FileSink implements AlertSink {
  failed = 0;
  private readonly stream: WriteStream;
  private error: Error | undefined;
  constructor(readonly path: string) {
    this.stream = createWriteStream(path, { flags: 'a' });
    this.stream.on('error', (e) => {
      this.error = e;
    });
  }
  write(alert: Alert): void {
    if (this.error) {
      this.failed++;
      return;
    }
    writeCorked(this.stream, `${JSON.stringify(alert)}\n`);
  }
  close(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.stream.end(() => (this.error ? reject(new UserError(`cannot write alerts to ${this.path}: ${describeError(this.error)}`)) : resolve()));
    });
  }
}

/** POSTs each alert as JSON; keeps at most `maxInFlight` requests, counting the rest as failed. */
export class WebhookSink implements AlertSink {
  failed = 0;
  private readonly inFlight = new Set<Promise<void>>();
  lastError: string | undefined;
  constructor(readonly url: string, private readonly maxInFlight = 64) {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      throw new UserError(`invalid webhook URL '${url}'`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new UserError(`webhook URL must be http(s): '${url}'`);
  }
  write(alert: Alert): void {
    if (this.inFlight.size >= this.maxInFlight) {
      this.failed++;
      return;
    }
    const p = request(this.url, { method: 'POST', body: JSON.stringify(alert), headers: { 'content-type': 'application/json' } })
      .then(async (res) => {
        await res.body.dump();
        if (res.statusCode >= 300) {
          this.failed++;
          this.lastError = `HTTP ${res.statusCode}`;
        }
      })
      .catch((e: unknown) => {
        this.failed++;
        this.lastError = describeError(e);
      })
      .finally(() => this.inFlight.delete(p));
    this.inFlight.add(p);
  }
  async close(): Promise<void> {
    while (this.inFlight.size) await Promise.all([...this.inFlight]);
  }
}

/** `-` or `stdout`, `http(s)://…`, or a file path. */
export function sinkFor(target: string, stdout: Writable = process.stdout): AlertSink {
  if (target === '-' || target === 'stdout') return new StreamSink(stdout);
  if (/^https?:\/\//.test(target)) return new WebhookSink(target);
  return new FileSink(target);
}
