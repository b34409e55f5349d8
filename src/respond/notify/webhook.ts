/** Notify a generic webhook: one JSON POST per notice (time, priority, text, action, outcome, target, trigger, alert). */
import { noticeJson, type Notice, type Notifier } from './notice.js';
import { checkUrl, postJson } from './post.js';

export class WebhookNotifier implements Notifier {
  readonly name = 'webhook';
  private readonly url: URL;
  constructor(url: string, private readonly timeoutMs = 10_000) {
    this.url = checkUrl(url, 'webhook');
  }
  send(notice: Notice): Promise<void> {
    return postJson(this.url, noticeJson(notice), this.timeoutMs);
  }
}
