/**
 * Where a report goes: stdout, or a file written atomically — a temporary file beside the
 * target, then rename — so a reader (a CI upload step, a dashboard) never sees a partial
 * report, and a failed run leaves an existing report untouched.
 */
import { randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { UserError, describeError } from '../util/errors.js';

export async function writeFileAtomic(path: string, text: string | Uint8Array): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    const fh = await open(tmp, 'wx', 0o644);
    try {
      await fh.writeFile(text);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw new UserError(`cannot write ${path}: ${describeError(e)}`, 'io');
  }
}

/** Writes the rendered report to `output` (a file; stdout when absent or "-"). */
export async function writeReportText(text: string, output: string | undefined): Promise<void> {
  if (output === undefined || output === '-') {
    process.stdout.write(text);
    return;
  }
  await writeFileAtomic(output, text);
}
