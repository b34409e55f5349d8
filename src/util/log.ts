/**
 * Structured JSON logs (pino) for the long-running commands beside Central: the admission
 * webhook, the engine proxy and the sensor. One object per line on stderr:
 *   {"level":"info","time":"2026-12-07T15:54:17.579Z","component":"engine-proxy","msg":"…", …}
 * Level names and ISO times rather than pino's numbers: the lines these commands wrote before
 * pino had that shape, and tools already read them.
 *
 * Secrets never reach a line: the fields Central's logger redacts (src/central/server.ts) are
 * redacted here too, and every string of a line is scrubbed of the token shapes an error
 * message may carry (a bearer header, a Central token, credentials in a URL), because a
 * message is free text that field paths cannot reach.
 */
import { pino, type Logger, type LevelWithSilent } from 'pino';
import { UserError } from './errors.js';

/** Paths pino redacts in every Gatehouse log (Central's, the clients'): tokens, passwords, kubeconfigs, the bus's credentials. */
export const LOG_REDACTED_PATHS = [
  'req.headers.authorization', 'req.headers.cookie', 'headers.authorization', 'authorization',
  'token', '*.token', 'password', '*.password', 'kubeconfig', '*.kubeconfig', 'config.kubeconfig',
  'creds', '*.creds', 'seed', '*.seed',
];

export const LOG_LEVELS: readonly LevelWithSilent[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** The `--log-level` values, as on `gatehouse server`. */
export function parseLogLevel(value: string): LevelWithSilent {
  if (!(LOG_LEVELS as readonly string[]).includes(value)) throw new UserError(`--log-level must be one of ${LOG_LEVELS.join(', ')}, got '${value}'`, 'usage');
  return value as LevelWithSilent;
}

const SECRET_SHAPES: [RegExp, string][] = [
  [/\b(Bearer|Basic)\s+[^\s"',;]+/gi, '$1 [redacted]'],
  [/\bghc_[A-Za-z0-9_-]+/g, 'ghc_[redacted]'],
  [/(\/\/)[^/@\s:]*:[^/@\s]*@/g, '$1[redacted]@'],
  [/\bSU[A-Z2-7]{50,}\b/g, '[redacted nkey seed]'],
];

/** A string without the secret shapes above. */
export function scrubSecrets(text: string): string {
  let out = text;
  for (const [re, by] of SECRET_SHAPES) out = out.replace(re, by);
  return out;
}

function scrubValue(v: unknown, depth = 0): unknown {
  if (typeof v === 'string') return scrubSecrets(v);
  if (depth > 3 || v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map((x) => scrubValue(x, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) out[k] = scrubValue(x, depth + 1);
  return out;
}

export interface LoggerOptions {
  /** The `component` field of every line (admission, engine-proxy, sensor). */
  component: string;
  level?: LevelWithSilent;
  /** Where lines go (default: stderr, written synchronously so a line is out before an exit). */
  stream?: NodeJS.WritableStream;
}

export function createLogger(opts: LoggerOptions): Logger {
  return pino({
    level: opts.level ?? 'info',
    base: { component: opts.component },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    redact: { paths: LOG_REDACTED_PATHS, censor: '[redacted]' },
    hooks: {
      logMethod(args, method) {
        // Every argument scrubbed: the message and the fields alike (path redaction runs after).
        method.apply(this, args.map((a) => scrubValue(a)) as Parameters<typeof method>);
      },
    },
  }, opts.stream ?? pino.destination({ fd: 2, sync: true }));
}

/** The servers' `log(level, msg, data)` callback over a pino logger; `msg` comes first in the line. */
export type LogFunction = (level: 'info' | 'warn' | 'error', msg: string, data?: Record<string, unknown>) => void;

export function logFunction(logger: Logger): LogFunction {
  return (level, msg, data) => logger[level]({ msg, ...data });
}
