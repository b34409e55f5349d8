/**
 * The audit trail: one JSON line per decision, appended to a file (never truncated), and
 * for denials and would-denials a report POSTed to a webhook. Decisions become Findings
 * here, at the edge: each violated policy is one Finding (kind `policy`, with its
 * fingerprint) carrying the host, the caller and the request.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import type { Finding } from '../findings/finding.js';
import { fingerprintOf } from '../findings/fingerprint.js';
import type { Caller } from './identity.js';

export interface AuditRecord {
  time: string;
  caller: Caller;
  method: string;
  path: string;
  action: string;
  container?: string;
  image?: string;
  /** warn: only inform policies were violated (or --audit-only): let through, logged as would-deny. */
  decision: 'allow' | 'deny' | 'warn' | 'error';
  policy: string;
  /** Ids of the violated policies. */
  rules: string[];
  message: string;
  status?: number;
  /** The violations as Findings (deny and warn only). */
  findings?: Finding[];
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

/** What the alert webhook receives for a denial or would-denial. */
export interface DecisionReport {
  source: 'engine-proxy';
  hostname: string;
  time: string;
  decision: 'deny' | 'warn';
  action: string;
  caller: Caller;
  message: string;
  findings: Finding[];
}

/**
 * The violations of one request as edge Findings: the host the proxy runs on, and in data
 * the caller, the decision and the request line. The fingerprint covers the policy, the
 * host and the request identity (action, container, image), not the caller or the time.
 */
export function edgeFindings(violations: readonly Finding[], rec: Pick<AuditRecord, 'caller' | 'method' | 'path' | 'decision'>, host = hostname()): Finding[] {
  return violations.map((v) => {
    const f: Finding = {
      ...v,
      resource: { ...v.resource, host },
      data: { ...v.data, decision: rec.decision, caller: rec.caller, method: rec.method, path: rec.path },
    };
    f.fingerprint = fingerprintOf(f);
    return f;
  });
}

export function decisionReport(rec: AuditRecord, host = hostname()): DecisionReport {
  return {
    source: 'engine-proxy',
    hostname: host,
    time: rec.time,
    decision: rec.decision === 'deny' ? 'deny' : 'warn',
    action: rec.action,
    caller: rec.caller,
    message: rec.message,
    findings: rec.findings ?? [],
  };
}

/** Fire-and-forget alert delivery with a short timeout; failures are reported, not thrown. */
export function postAlert(url: string, report: DecisionReport, onError: (e: Error) => void): void {
  fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(report),
    signal: AbortSignal.timeout(5000),
  }).then(
    (r) => {
      if (!r.ok) onError(new Error(`alert webhook answered ${r.status}`));
      void r.body?.cancel();
    },
    (e: unknown) => onError(e instanceof Error ? e : new Error(String(e))),
  );
}
