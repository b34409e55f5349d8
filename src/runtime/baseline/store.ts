/**
 * Baselines on disk: one JSON file per workload in a directory. Writes are atomic (a temp
 * file in the same directory, fsync, rename), so a crash leaves the old or the new file,
 * never half of one. A file that cannot be read as a baseline is a clear error naming it and
 * is never overwritten: the store remembers it as corrupt and refuses to save over it, so
 * nothing stored is lost; moving the file away lets the workload learn again.
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../../util/errors.js';
import { Baseline, BaselineFormatError } from './baseline.js';

export class BaselineStore {
  /** Files found corrupt (by path): never written over. */
  readonly corrupt = new Map<string, string>();
  /** Modification time of each file as this store last read or wrote it. */
  private readonly seen = new Map<string, number>();

  constructor(readonly dir: string) {}

  /** Creates the directory if needed; a path that is not a directory is a UserError. */
  ensureDir(): void {
    if (existsSync(this.dir)) {
      if (!statSync(this.dir).isDirectory()) throw new UserError(`baseline dir ${this.dir} is not a directory`, 'bad-baseline-dir');
      return;
    }
    try {
      mkdirSync(this.dir, { recursive: true });
    } catch (e) {
      throw new UserError(`cannot create baseline dir ${this.dir}: ${(e as Error).message}`, 'bad-baseline-dir');
    }
  }

  /** The file of a workload: a readable slug of its id plus a hash (ids can hold any text). */
  fileFor(id: string): string {
    const slug = id.replace(/^[a-z0-9]+:/, '').replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 100);
    const hash = createHash('sha256').update(id).digest('hex').slice(0, 12);
    return join(this.dir, `${slug}.${hash}.json`);
  }

  /** The stored baseline of a workload, undefined when there is none; a corrupt file throws. */
  load(id: string): Baseline | undefined {
    const file = this.fileFor(id);
    if (!existsSync(file)) return undefined;
    return this.read(file);
  }

  private read(file: string): Baseline {
    let text: string;
    try {
      this.seen.set(file, statSync(file).mtimeMs);
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new UserError(`cannot read baseline ${file}: ${(e as Error).message}`, 'bad-baseline');
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (e) {
      return this.fail(file, `not valid JSON (${(e as Error).message})`);
    }
    try {
      return Baseline.fromJSON(json, file);
    } catch (e) {
      if (e instanceof BaselineFormatError) return this.fail(file, e.message.slice(file.length + 2));
      throw e;
    }
  }

  private fail(file: string, why: string): never {
    this.corrupt.set(file, why);
    throw new UserError(`baseline file ${file} is corrupt: ${why}; it was left as it is (move it away to learn this workload again)`, 'corrupt-baseline');
  }

  /** Writes a baseline atomically; refuses to replace a file found corrupt. */
  save(b: Baseline): void {
    const file = this.fileFor(b.workload.id);
    if (this.corrupt.has(file)) throw new UserError(`baseline file ${file} is corrupt: not overwriting it`, 'corrupt-baseline');
    this.ensureDir();
    const tmp = `${file}.tmp-${process.pid}`;
    const data = JSON.stringify(b.toJSON());
    try {
      const fd = openSync(tmp, 'w', 0o600);
      try {
        writeSync(fd, data);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, file);
      this.seen.set(file, statSync(file).mtimeMs);
    } catch (e) {
      try {
        unlinkSync(tmp);
      } catch {
        /* already gone */
      }
      throw new UserError(`cannot write baseline ${file}: ${(e as Error).message}`, 'bad-baseline-dir');
    }
    b.dirty = false;
  }

  /**
   * True when the file of a workload was written by someone else (e.g. `gatehouse baseline
   * lock|unlock|accept`) since this store read or wrote it: the caller should reload it.
   */
  changedOnDisk(id: string): boolean {
    const file = this.fileFor(id);
    if (!existsSync(file)) return false;
    const known = this.seen.get(file);
    return known === undefined || statSync(file).mtimeMs !== known;
  }

  /** Every stored baseline's workload id and state; corrupt files are listed with their error. */
  list(): Array<{ file: string; id?: string; state?: string; events?: number; error?: string }> {
    if (!existsSync(this.dir)) return [];
    const out: Array<{ file: string; id?: string; state?: string; events?: number; error?: string }> = [];
    for (const name of readdirSync(this.dir).sort()) {
      if (!name.endsWith('.json')) continue;
      const file = join(this.dir, name);
      try {
        const b = this.read(file);
        out.push({ file, id: b.workload.id, state: b.state, events: b.events });
      } catch (e) {
        out.push({ file, error: (e as Error).message });
      }
    }
    return out;
  }

  /** Loads one workload for a command; an unknown workload is a UserError listing what exists. */
  require(id: string): Baseline {
    const b = this.load(id);
    if (b) return b;
    const known = this.list().filter((x) => x.id).map((x) => x.id!);
    const hint = known.length ? `; known workloads: ${known.slice(0, 10).join(', ')}${known.length > 10 ? ', …' : ''}` : ' (the directory holds no baselines)';
    throw new UserError(`no baseline for workload '${id}' in ${this.dir}${hint}`, 'unknown-workload');
  }
}
