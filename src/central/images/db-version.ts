/**
 * Which vulnerability DB Central matches against, and whether it changed. `db update`
 * replaces the file by a rename and `db import` writes into it (its WAL is checkpointed into
 * the file when it closes), so a cheap stamp of the file (inode, size, mtime) says "maybe
 * changed" (the WAL is left out: Central's own read-only opening creates and removes it), and
 * the DB's own content summary (its sources, when each was last updated, how many
 * advisories) says whether it really did: that summary is the version stored in
 * images.db_version.
 */
import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { VulnDb } from '../../vuln/db.js';

/** The version of an open DB: when it was last updated, plus a hash of what it holds. */
export function vulnDbVersion(db: VulnDb): string {
  const s = db.status();
  const content = JSON.stringify({ a: s.advisories, p: s.affectedPackages, s: s.sources.map((x) => [x.name, x.updatedAt, x.advisories]) });
  return `${s.updatedAt ?? 'never'}+${createHash('sha256').update(content).digest('hex').slice(0, 12)}`;
}

/** A stamp of the DB file; a different stamp means the DB may have changed. Undefined when there is no file. */
export function dbFileStamp(path: string): string | undefined {
  try {
    const st = statSync(path);
    return `${st.ino}:${st.size}:${st.mtimeMs}`;
  } catch {
    return undefined;
  }
}

/** Opens the DB read-only with its version, or says why it cannot. */
export function openVulnDb(path: string): { db: VulnDb; version: string } {
  const db = VulnDb.open(path, { readonly: true });
  try {
    return { db, version: vulnDbVersion(db) };
  } catch (e) {
    db.close();
    throw e;
  }
}
