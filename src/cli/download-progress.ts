/**
 * What `db update` shows on stderr: on a terminal, a progress bar per feed download (bytes
 * and, when the server gives the size, percent); elsewhere, one line per feed and phase, so
 * logs stay readable and stdout stays clean.
 */
import cliProgress from 'cli-progress';
import type { UpdateOptions } from '../vuln/update.js';

export const humanBytes = (n: number): string => (n < 1048576 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1048576).toFixed(1)} MiB`);

export function updateProgress(): Pick<UpdateOptions, 'onFeed' | 'onBytes'> & { stop(): void } {
  const line = (url: string, phase: string, detail?: string) => process.stderr.write(`${phase}: ${url}${detail ? ` (${detail})` : ''}\n`);
  if (!process.stderr.isTTY || process.env.CI) return { onFeed: line, stop() {} };
  let bar: cliProgress.SingleBar | undefined;
  const stop = () => {
    bar?.stop();
    bar = undefined;
  };
  return {
    onFeed: (url, phase, detail) => {
      if (phase === 'download' && !detail) return; // the bar announces the download
      stop();
      if (phase !== 'download') line(url, phase, detail);
    },
    onBytes: (url, received, total) => {
      if (!bar) {
        const name = new URL(url).pathname.split('/').filter(Boolean).slice(-2).join('/') || url;
        const format = total ? `downloading ${name} [{bar}] {percentage}% | {got} of {size}` : `downloading ${name} {got}`;
        bar = new cliProgress.SingleBar({ stream: process.stderr, format, hideCursor: true, clearOnComplete: true }, cliProgress.Presets.shades_classic);
        bar.start(total ?? 1, 0, { got: humanBytes(received), size: total ? humanBytes(total) : '?' });
      }
      bar.update(total ? received : 0, { got: humanBytes(received) });
    },
    stop,
  };
}
