/**
 * Small file helpers for the TLS material: private keys must never be readable by others,
 * not even for the instant between create and chmod, and a crash mid-write must never
 * leave a half-written PEM behind (a temporary file beside the target, then rename).
 */
import { randomBytes } from 'node:crypto';
import { open, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { UserError, describeError } from '../../util/errors.js';

export async function writeFileAtomic(path: string, text: string, mode: number): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    const fh = await open(tmp, 'wx', mode);
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

/** The file's text, or undefined when it does not exist; other read errors are UserErrors. */
export async function readTextIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new UserError(`cannot read ${path}: ${describeError(e)}`, 'io');
  }
}
