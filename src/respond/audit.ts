/**
 * The response audit log: one JSON object a line, appended (O_APPEND, never rewritten), one
 * record per action attempt — who or what triggered it, which policy or incident, the
 * target, the result and the time. Records are written before the caller hears the result.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { appendFile, mkdir } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { UserError, describeError } from '../util/errors.js';
import type { Outcome, ResponseTarget, Trigger } from './types.js';

/** Where the audit log goes unless told: $GATEHOUSE_RESPOND_AUDIT, else $XDG_STATE_HOME (or ~/.local/state)/gatehouse/respond-audit.jsonl. */
export function defaultAuditLog(env: NodeJS.ProcessEnv = process.env): string {
  if (env.GATEHOUSE_RESPOND_AUDIT) return env.GATEHOUSE_RESPOND_AUDIT;
  return join(env.XDG_STATE_HOME || join(homedir(), '.local', 'state'), 'gatehouse', 'respond-audit.jsonl');
}

export interface AuditRecord {
  /** ISO time the action finished. */
  time: string;
  action: string;
  target: ResponseTarget;
  trigger: Trigger;
  dryRun: boolean;
  outcome: Outcome;
  detail: string;
  data?: Record<string, unknown>;
  evidence?: string;
  durationMs: number;
}

export interface AuditSink {
  append(record: AuditRecord): Promise<void>;
}

/** Appends records to a JSONL file (its folder is made on first use). */
export class JsonlAuditLog implements AuditSink {
  private ready = false;
  constructor(readonly path: string) {}

  async append(record: AuditRecord): Promise<void> {
    const line = `${JSON.stringify(record)}\n`;
    try {
      if (!this.ready) {
        await mkdir(dirname(this.path), { recursive: true });
        this.ready = true;
      }
      await appendFile(this.path, line, { flag: 'a' });
    } catch (e) {
      throw new UserError(`cannot append to the response audit log ${this.path}: ${describeError(e)}`, 'audit');
    }
  }

  /** Synchronous append, for exit paths. */
  appendSync(record: AuditRecord): void {
    mkdirSync(dirname(this.path), { recursive: true });
    appendFileSync(this.path, `${JSON.stringify(record)}\n`);
  }

  /** Every record, oldest first (a torn last line from a crash is skipped). */
  read(): AuditRecord[] {
    if (!existsSync(this.path)) return [];
    const out: AuditRecord[] = [];
    for (const line of readFileSync(this.path, 'utf8').split('\n')) {
      if (!line.trim()) continue;
      try {
        out.push(JSON.parse(line) as AuditRecord);
      } catch {
        // a partial line
      }
    }
    return out;
  }
}

/** Keeps records in memory (tests, and callers that forward them elsewhere). */
export class MemoryAuditLog implements AuditSink {
  readonly records: AuditRecord[] = [];
  async append(record: AuditRecord): Promise<void> {
    this.records.push(record);
  }
}
