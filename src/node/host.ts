/**
 * Reads a host's files under a root directory (default `/`): the real machine, or a fixture
 * tree holding `proc/`, `sys/`, `etc/`, … Every read returns what it got or why it could not,
 * so a fact that cannot be read becomes `unknown` with that reason instead of a guess.
 */
import { closeSync, constants, openSync, readSync } from 'node:fs';
import { lstat, readFile, readdir, stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { join, resolve } from 'node:path';
import { describeError } from '../util/errors.js';

export type Read<T> = { ok: true; value: T } | { ok: false; reason: string; absent: boolean };

const MAX_FILE = 4 << 20;

export function errorReason(path: string, e: unknown): { ok: false; reason: string; absent: boolean } {
  const code = (e as NodeJS.ErrnoException)?.code;
  const absent = code === 'ENOENT' || code === 'ENOTDIR';
  const why = code === 'ENOENT' ? 'does not exist' : code === 'EACCES' || code === 'EPERM' ? 'permission denied' : describeError(e);
  return { ok: false, reason: `${path}: ${why}`, absent };
}

export class HostRoot {
  readonly root: string;
  constructor(root = '/') {
    this.root = resolve(root);
  }

  get isLive(): boolean {
    return this.root === '/';
  }

  /** The real path of a host path (absolute, as seen on the host) under the root. */
  path(hostPath: string): string {
    return this.isLive ? hostPath : join(this.root, hostPath);
  }

  async read(hostPath: string): Promise<Read<string>> {
    try {
      const st = await stat(this.path(hostPath));
      if (st.isDirectory()) return { ok: false, reason: `${hostPath}: is a directory`, absent: false };
      if (st.size > MAX_FILE) return { ok: false, reason: `${hostPath}: larger than ${MAX_FILE} bytes`, absent: false };
      return { ok: true, value: await readFile(this.path(hostPath), 'utf8') };
    } catch (e) {
      return errorReason(hostPath, e);
    }
  }

  async readBytes(hostPath: string): Promise<Read<Buffer>> {
    try {
      return { ok: true, value: await readFile(this.path(hostPath)) };
    } catch (e) {
      return errorReason(hostPath, e);
    }
  }

  async stat(hostPath: string, follow = true): Promise<Read<Stats>> {
    try {
      return { ok: true, value: await (follow ? stat : lstat)(this.path(hostPath)) };
    } catch (e) {
      return errorReason(hostPath, e);
    }
  }

  async list(hostPath: string): Promise<Read<string[]>> {
    try {
      return { ok: true, value: (await readdir(this.path(hostPath))).sort() };
    } catch (e) {
      return errorReason(hostPath, e);
    }
  }

  async exists(hostPath: string): Promise<boolean> {
    return (await this.stat(hostPath)).ok;
  }

  /**
   * The kernel log: /dev/kmsg on the live machine (read without blocking, up to what is
   * buffered), or a saved log (/var/log/dmesg, /var/log/kern.log) under a fixture root.
   */
  async kernelLog(): Promise<Read<string>> {
    if (this.isLive) {
      let fd: number | undefined;
      try {
        fd = openSync('/dev/kmsg', constants.O_RDONLY | constants.O_NONBLOCK);
        const buf = Buffer.alloc(8192);
        const lines: string[] = [];
        for (let i = 0; i < 100_000; i++) {
          let n: number;
          try {
            n = readSync(fd, buf, 0, buf.length, null);
          } catch (e) {
            const code = (e as NodeJS.ErrnoException).code;
            if (code === 'EAGAIN') break;
            if (code === 'EPIPE') continue; // a record was overwritten while reading
            throw e;
          }
          if (n <= 0) break;
          const rec = buf.toString('utf8', 0, n);
          const semi = rec.indexOf(';');
          lines.push((semi >= 0 ? rec.slice(semi + 1) : rec).split('\n')[0]!);
        }
        return { ok: true, value: lines.join('\n') };
      } catch (e) {
        return errorReason('/dev/kmsg', e);
      } finally {
        if (fd !== undefined) closeSync(fd);
      }
    }
    for (const p of ['/var/log/dmesg', '/var/log/kern.log']) {
      const r = await this.read(p);
      if (r.ok || !r.absent) return r;
    }
    return { ok: false, reason: 'no kernel log under the root (/var/log/dmesg, /var/log/kern.log)', absent: true };
  }
}
