/** Where Central keeps its store and TLS material when --data-dir is not given (XDG base directories). */
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';

/** `$XDG_DATA_HOME/gatehouse`, or `~/.local/share/gatehouse`. */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  // The XDG spec says a relative XDG_DATA_HOME is invalid and must be ignored.
  const xdg = env.XDG_DATA_HOME;
  const base = xdg && isAbsolute(xdg) ? xdg : join(env.HOME || homedir(), '.local', 'share');
  return join(base, 'gatehouse');
}
