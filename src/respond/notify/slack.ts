/** Notify a Slack-compatible incoming webhook (Slack, Mattermost, Rocket.Chat): `{"text": "…"}`. */
import type { Notice, Notifier } from './notice.js';
import { checkUrl, postJson } from './post.js';

export function slackText(n: Notice): string {
  const evidence = n.result?.evidence ? `\nevidence: ${n.result.evidence}` : '';
  return `*${n.title}* (${n.priority})\n${n.text}${evidence}`;
}

export class SlackNotifier implements Notifier {
  readonly name = 'slack';
  private readonly url: URL;
  constructor(url: string, private readonly timeoutMs = 10_000) {
    this.url = checkUrl(url, 'Slack webhook');
  }
  send(notice: Notice): Promise<void> {
    return postJson(this.url, { text: slackText(notice) }, this.timeoutMs);
  }
}
