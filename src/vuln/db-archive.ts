/**
 * The vulnerability DB as one file for air-gapped machines (`db export` / `db import`).
 *
 * An exported file is a header line `GATEHOUSE-VULNDB/1`, one line of JSON metadata (the
 * SQLite file's sha256 digest and size, schema version, per-source freshness) and then the
 * SQLite file itself, a consistent copy made with `VACUUM INTO` (never a byte copy of a DB
 * that may be being written). Importing verifies digest, size, schema and SQLite's
 * `quick_check` on a temporary file beside the target DB and only then renames it over
 * the old one, so a corrupt or wrong file leaves the old DB untouched.
 */
import { createHash } from 'node:crypto';
import { closeSync, createReadStream, createWriteStream, existsSync, mkdirSync, openSync, readSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { pipeline } from 'node:stream/promises';
import Database from 'better-sqlite3';
import { UserError, describeError, isUserError } from '../util/errors.js';
import { VulnDb } from './db.js';

export const ARCHIVE_MAGIC = 'GATEHOUSE-VULNDB/1\n';
const SQLITE_MAGIC = 'SQLite format 3\0';
const MAX_HEADER = 1024 * 1024;

export interface DbMetadata {
  format: 'gatehouse-vulndb';
  schemaVersion: number;
  /** sha256 of the SQLite file. */
  digest: string;
  size: number;
  createdAt: string;
  advisories: number;
  /** When the newest source was updated. */
  updatedAt?: string;
  sources: { name: string; updatedAt: string; advisories: number }[];
}

let counter = 0;
/** A temporary path beside `path` (same file system, so rename is atomic). */
export function tempBeside(path: string, tag: string): string {
  return `${path}.${tag}-${process.pid}-${++counter}.tmp`;
}

function removeDb(path: string): void {
  for (const p of [path, `${path}-wal`, `${path}-shm`, `${path}-journal`]) rmSync(p, { force: true });
}

export async function fileDigest(path: string): Promise<{ digest: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    size += chunk.length;
  }
  return { digest: `sha256:${hash.digest('hex')}`, size };
}

/** A consistent SQLite copy of the DB at `dbPath` in `out`, with its metadata. */
export async function snapshotDb(dbPath: string, out: string): Promise<DbMetadata> {
  const db = VulnDb.open(dbPath, { readonly: true });
  let status;
  try {
    rmSync(out, { force: true });
    status = db.status();
    db.copyTo(out);
  } finally {
    db.close();
  }
  const { digest, size } = await fileDigest(out);
  const meta: DbMetadata = {
    format: 'gatehouse-vulndb',
    schemaVersion: status.schemaVersion,
    digest,
    size,
    createdAt: new Date().toISOString(),
    advisories: status.advisories,
    sources: status.sources.map((s) => ({ name: s.name, updatedAt: s.updatedAt, advisories: s.advisories })),
  };
  if (status.updatedAt) meta.updatedAt = status.updatedAt;
  return meta;
}

/** Writes the DB at `dbPath` as an export file `file` (atomically). */
export async function exportDb(dbPath: string, file: string): Promise<DbMetadata> {
  if (!existsSync(dirname(file))) throw new UserError(`${dirname(file)}: no such directory`, 'not-found');
  const snap = tempBeside(file, 'sqlite');
  const tmp = tempBeside(file, 'export');
  try {
    const meta = await snapshotDb(dbPath, snap);
    const out = createWriteStream(tmp);
    out.write(ARCHIVE_MAGIC + JSON.stringify(meta) + '\n');
    await pipeline(createReadStream(snap), out);
    renameSync(tmp, file);
    return meta;
  } catch (e) {
    if (isUserError(e)) throw e;
    throw new UserError(`cannot export the vulnerability database to ${file}: ${describeError(e)}`, 'io-error', { cause: e });
  } finally {
    removeDb(snap);
    rmSync(tmp, { force: true });
  }
}

export type DbFileKind = 'archive' | 'sqlite' | 'other';

/** What a file is, by its first bytes: an exported DB, a bare SQLite file, or something else. */
export function dbFileKind(path: string): DbFileKind {
  let fd: number;
  try {
    if (!statSync(path).isFile()) return 'other';
    fd = openSync(path, 'r');
  } catch {
    return 'other';
  }
  try {
    const head = Buffer.alloc(ARCHIVE_MAGIC.length);
    const n = readSync(fd, head, 0, head.length, 0);
    const text = head.subarray(0, n).toString('latin1');
    if (text === ARCHIVE_MAGIC) return 'archive';
    if (text.startsWith(SQLITE_MAGIC)) return 'sqlite';
    return 'other';
  } finally {
    closeSync(fd);
  }
}

/** The metadata line of an export file and where the SQLite bytes start. */
export function readArchiveHeader(file: string): { meta: DbMetadata; offset: number } {
  const fd = openSync(file, 'r');
  let head: Buffer;
  try {
    const buf = Buffer.alloc(MAX_HEADER + ARCHIVE_MAGIC.length);
    head = buf.subarray(0, readSync(fd, buf, 0, buf.length, 0));
  } finally {
    closeSync(fd);
  }
  const end = head.indexOf(0x0a, ARCHIVE_MAGIC.length);
  if (head.toString('latin1', 0, ARCHIVE_MAGIC.length) !== ARCHIVE_MAGIC || end < 0) throw new UserError(`${file}: not a Gatehouse DB export (no metadata header)`, 'bad-db');
  let meta: DbMetadata;
  try {
    meta = JSON.parse(head.toString('utf8', ARCHIVE_MAGIC.length, end)) as DbMetadata;
  } catch {
    throw new UserError(`${file}: not a Gatehouse DB export (its metadata header is not JSON)`, 'bad-db');
  }
  checkMetadata(meta, file);
  return { meta, offset: end + 1 };
}

export function checkMetadata(meta: DbMetadata, what: string): void {
  if (meta?.format !== 'gatehouse-vulndb' || typeof meta.digest !== 'string' || !/^sha256:[0-9a-f]{64}$/.test(meta.digest) || !Number.isSafeInteger(meta.size)) {
    throw new UserError(`${what}: not a Gatehouse DB export (metadata without format, sha256 digest and size)`, 'bad-db');
  }
}

/**
 * Checks the SQLite file `tmp` (digest and size when `expected` is given, schema, SQLite
 * quick_check) and renames it over `dbPath`. `tmp` must sit beside `dbPath`. On any
 * failure `tmp` is removed and `dbPath` is left as it was.
 */
export async function installDb(tmp: string, dbPath: string, expected: { digest: string; size: number } | undefined, what: string): Promise<void> {
  try {
    if (expected) {
      const got = await fileDigest(tmp);
      if (got.size !== expected.size) throw new UserError(`${what}: size mismatch (expected ${expected.size} bytes, got ${got.size}); the old database is unchanged`, 'digest-mismatch');
      if (got.digest !== expected.digest) throw new UserError(`${what}: digest mismatch (expected ${expected.digest}, got ${got.digest}); the old database is unchanged`, 'digest-mismatch');
    }
    let check: string;
    try {
      const db = new Database(tmp, { readonly: true, fileMustExist: true });
      try {
        check = String(db.pragma('quick_check', { simple: true }));
      } finally {
        db.close();
      }
    } catch (e) {
      throw new UserError(`${what}: not a usable SQLite database (${describeError(e)}); the old database is unchanged`, 'bad-db');
    }
    if (check !== 'ok') throw new UserError(`${what}: SQLite integrity check failed (${check.split('\n')[0]}); the old database is unchanged`, 'bad-db');
    try {
      VulnDb.open(tmp, { readonly: true }).close();
    } catch (e) {
      throw new UserError(`${what}: ${describeError(e).replace(`${tmp}: `, '').replace(/; run `[^`]*`$/, '')}; the old database is unchanged`, 'bad-db');
    }
    mkdirSync(dirname(dbPath), { recursive: true });
    rmSync(`${dbPath}-wal`, { force: true }); // the old file's journal must not be replayed onto the new one
    rmSync(`${dbPath}-shm`, { force: true });
    renameSync(tmp, dbPath);
  } finally {
    removeDb(tmp);
  }
}

/** `db import FILE` of an export file (digest-verified) or a bare SQLite DB (checked). */
export async function importDbFile(file: string, dbPath: string): Promise<DbMetadata | undefined> {
  const kind = dbFileKind(file);
  if (kind === 'other') throw new UserError(`${file}: not a Gatehouse DB export or SQLite database`, 'bad-db');
  mkdirSync(dirname(dbPath), { recursive: true });
  const tmp = tempBeside(dbPath, 'import');
  try {
    if (kind === 'sqlite') {
      await pipeline(createReadStream(file), createWriteStream(tmp));
      await installDb(tmp, dbPath, undefined, file);
      return undefined;
    }
    const { meta, offset } = readArchiveHeader(file);
    await pipeline(createReadStream(file, { start: offset }), createWriteStream(tmp));
    await installDb(tmp, dbPath, meta, file);
    return meta;
  } catch (e) {
    if (isUserError(e)) throw e;
    throw new UserError(`cannot import ${file}: ${describeError(e)}; the old database is unchanged`, 'io-error', { cause: e });
  } finally {
    if (existsSync(tmp)) removeDb(tmp);
  }
}
