/**
 * The audit trail: one JSON line per decision, appended to a file (never truncated), and
 * for denials and would-denials an alert POSTed to a webhook.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import type { Alert } from '../runtime/alerts/alert.js';
import type { Caller } from './identity.js';
import type { Decision } from './decide.js';

export interface AuditRecord {
  time: string;
  caller: Caller;
  method: string;
  path: string;
  action: string;
  container?: string;
  image?: string;
  decision: 'allow' | 'deny' | 'audit' | 'error';
  policy: string;
  rules: string[];
  message: string;
  status?: number;
}

export interface AuditSink {
  write(rec: AuditRecord): void;
  close(): Promise<void>;
}

/**
 * Appends synchronously: a decision is on disk before its response goes out, so the trail
 * never lags behind (or loses) what the proxy let through, even if the process dies.
 */
export class JsonlAuditLog implements AuditSink {
  private fd?: number;
  constructor(
    path: string,
    private readonly onError: (e: Error) => void,
  ) {
    try {
      this.fd = openSync(path, 'a', 0o600);
    } catch (e) {
      onError(e as Error);
    }
  }
  write(rec: AuditRecord): void {
    if (this.fd === undefined) return;
    try {
      writeSync(this.fd, `${JSON.stringify(rec)}\n`);
    } catch (e) {
      this.onError(e as Error);
    }
  }
  async close(): Promise<void> {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

/**
 * A denial (or audit-mode would-denial) as an alert in the runtime engine's shape
 * (Falco JSON, src/runtime/alerts/alert.ts), so one webhook receiver handles both.
 * Field names follow Falco's where one exists (user.uid, proc.pid, container.*).
 */
export function decisionAlert(rec: AuditRecord, d: Decision, host = hostname()): Alert {
  const first = d.hits.find((h) => h.mode === 'enforce') ?? d.hits[0];
  const priority = rec.decision === 'deny' ? 'Error' : 'Warning';
  const time = `${rec.time.slice(0, 23)}000000Z`;
  const who = rec.caller.cn ? `cn=${rec.caller.cn}` : `user=${rec.caller.user ?? '?'} uid=${rec.caller.uid ?? '?'} pid=${rec.caller.pid ?? '?'}`;
  const what = [`action=${rec.action}`, rec.container ? `container=${rec.container}` : '', rec.image ? `image=${rec.image}` : ''].filter(Boolean).join(' ');
  return {
    time,
    rule: first?.title ?? rec.message,
    priority,
    source: 'engine-proxy',
    hostname: host,
    output: `${time.slice(11, 29)}: ${priority} ${rec.message} (${who} ${what})`,
    output_fields: {
      'user.uid': rec.caller.uid ?? null,
      'user.name': rec.caller.user ?? null,
      'proc.pid': rec.caller.pid ?? null,
      'tls.client.cn': rec.caller.cn ?? null,
      'container.name': rec.container ?? null,
      'container.image': rec.image ?? null,
      'engine.action': rec.action,
      'engine.method': rec.method,
      'engine.path': rec.path,
      'engine.decision': rec.decision,
      'engine.policy': rec.policy,
      'engine.rules': rec.rules.join(','),
    },
    tags: ['engine-proxy', ...(first ? [first.id, first.mode] : [])],
  };
}

/** Fire-and-forget alert delivery with a short timeout; failures are reported, not thrown. */
export function postAlert(url: string, alert: Alert, onError: (e: Error) => void): void {
  fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(alert),
    signal: AbortSignal.timeout(5000),
  }).then(
    (r) => {
      if (!r.ok) onError(new Error(`alert webhook answered ${r.status}`));
      void r.body?.cancel();
    },
    (e: unknown) => onError(e instanceof Error ? e : new Error(String(e))),
  );
}
