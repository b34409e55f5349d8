import { isUserError } from '../util/errors.js';

/** Exit code for errors (1 is reserved for "findings remain" gates, as Trivy does). */
export const EXIT_ERROR = 2;

/**
 * Prints a failure as one line on stderr. User errors print their message; anything else
 * is a bug, so its stack goes only behind GATEHOUSE_DEBUG=1.
 */
export function reportFatal(e: unknown): void {
  if (isUserError(e)) {
    process.stderr.write(`gatehouse: ${e.message}\n`);
  } else {
    const msg = e instanceof Error ? e.message : String(e);
    process.stderr.write(`gatehouse: internal error: ${msg.split('\n')[0]}\n`);
    if (process.env.GATEHOUSE_DEBUG) process.stderr.write(`${e instanceof Error ? e.stack : e}\n`);
  }
  process.exitCode = EXIT_ERROR;
}
