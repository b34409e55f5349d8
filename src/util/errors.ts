/**
 * An error meant for the user: its message is one clear line, printed without a stack
 * trace. Engines throw these for bad input; anything else reaching the CLI is a bug.
 */
export class UserError extends Error {
  constructor(
    message: string,
    /** Short machine-readable category, e.g. "digest-mismatch", "auth", "bad-archive". */
    readonly code: string = 'error',
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'UserError';
  }
}

export function isUserError(e: unknown): e is UserError {
  return e instanceof UserError;
}

/** One line describing any thrown value, for messages that wrap a lower-level failure. */
export function describeError(e: unknown): string {
  if (e instanceof Error) return e.message.split('\n')[0] ?? String(e);
  return String(e);
}
