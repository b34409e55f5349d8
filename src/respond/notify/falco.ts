/**
 * Notices as alerts in Falco's JSON output shape, one line each, to a file (appended) or
 * stdout — what falcosidekick and Falco's own json_output consumers read. The runtime
 * engine's alert sinks do the writing.
 */
import type { Writable } from 'node:stream';
import { FileSink, StreamSink, type AlertSink } from '../../runtime/alerts/sinks.js';
import { noticeAsAlert, type Notice, type Notifier } from './notice.js';

export class FalcoJsonNotifier implements Notifier {
  readonly name = 'falco-json';
  private readonly sink: AlertSink;
  constructor(target: string, stdout: Writable = process.stdout) {
    this.sink = target === '-' || target === 'stdout' ? new StreamSink(stdout) : new FileSink(target);
  }
  async send(notice: Notice): Promise<void> {
    this.sink.write(noticeAsAlert(notice));
  }
  close(): Promise<void> {
    return this.sink.close();
  }
}
