/**
 * Runs the real Helm and kustomize binaries, as kube-linter and Kubescape do. No
 * well-kept JavaScript library renders Helm's Go templates (sprig, `lookup`, `tpl`, subcharts)
 * or implements kustomize's transformers, so Gatehouse calls the tools a user already has:
 * argv arrays (never a shell string), bounded output, a timeout. (npm has Helm helpers for
 * versioning and READMEs, none that renders templates.)
 */
import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { UserError } from '../../util/errors.js';

/** Rendered output larger than this is refused (the same bound as a manifest file). */
export const MAX_RENDER_BYTES = 64 * 1024 * 1024;
const DEFAULT_TIMEOUT_MS = 120_000;

/** The executable NAME on PATH, or undefined. */
export function findOnPath(name: string, path = process.env.PATH ?? ''): string | undefined {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

export interface RunOptions {
  timeoutMs?: number;
  cwd?: string;
}

/**
 * Runs FILE with ARGS and returns stdout. A non-zero exit becomes a one-line UserError
 * carrying the tool's last meaningful stderr line (helm and kustomize put the cause there).
 */
export function runTool(file: string, args: string[], what: string, opts: RunOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      { cwd: opts.cwd, timeout: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS, maxBuffer: MAX_RENDER_BYTES, encoding: 'utf8', windowsHide: true },
      (err, stdout, stderr) => {
        if (!err) return resolve(stdout);
        const e = err as NodeJS.ErrnoException & { killed?: boolean; signal?: string | null };
        if (e.code === 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER') return reject(new UserError(`${what}: output is larger than ${MAX_RENDER_BYTES} bytes; refusing it`, 'bad-input'));
        if (e.killed || e.signal === 'SIGTERM') return reject(new UserError(`${what}: timed out after ${(opts.timeoutMs ?? DEFAULT_TIMEOUT_MS) / 1000} s`, 'bad-input'));
        reject(new UserError(`${what} failed: ${lastLine(stderr) || e.message.split('\n')[0]}`, 'bad-input'));
      },
    );
  });
}

function lastLine(text: string): string {
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
  // helm prints "Error: …" last; kustomize prints "Error: …" last too.
  const error = [...lines].reverse().find((l) => /^error:/i.test(l));
  return (error ?? lines.at(-1) ?? '').replace(/^error:\s*/i, '');
}
