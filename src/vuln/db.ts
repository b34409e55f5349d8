/**
 * The local vulnerability store: one SQLite file (better-sqlite3) holding normalized
 * advisories, indexed by (ecosystem, package name) for matching and by alias.
 * Writes are incremental by `modified`: a record is replaced only by a newer one.
 */
import { mkdirSync, existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { UserError, describeError } from '../util/errors.js';
import { normalizeName, type Advisory } from './model.js';

const SCHEMA_VERSION = 1;

export function defaultDbPath(): string {
  return process.env.GATEHOUSE_DB ?? join(homedir(), '.cache', 'gatehouse', 'db', 'vuln.db');
}

export type UpsertResult = 'added' | 'updated' | 'unchanged';

export interface SourceInfo {
  name: string;
  url?: string;
  etag?: string;
  lastModified?: string;
  updatedAt: string;
  advisories: number;
}

export interface DbStatus {
  path: string;
  schemaVersion: number;
  advisories: number;
  affectedPackages: number;
  ecosystems: { ecosystem: string; advisories: number }[];
  sources: SourceInfo[];
  /** When the newest import or update finished. */
  updatedAt?: string;
}

export class VulnDb {
  private constructor(
    readonly path: string,
    private readonly db: Database.Database,
  ) {}

  /** Opens (creating when `create`) the database at `path`. */
  static open(path: string = defaultDbPath(), opts: { create?: boolean; readonly?: boolean } = {}): VulnDb {
    if (!existsSync(path)) {
      if (!opts.create) throw new UserError(`no vulnerability database at ${path} (run \`gatehouse db update\` or \`gatehouse db import PATH\`)`, 'no-db');
      mkdirSync(dirname(path), { recursive: true });
    }
    let db: Database.Database;
    try {
      db = new Database(path, { readonly: opts.readonly ?? false });
      if (!opts.readonly) db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
    } catch (e) {
      throw new UserError(`cannot open vulnerability database ${path}: ${describeError(e)}`, 'bad-db', { cause: e });
    }
    const v = new VulnDb(path, db);
    if (!opts.readonly) v.migrate();
    else v.checkSchema();
    return v;
  }

  private checkSchema(): void {
    let version: number;
    try {
      version = this.db.pragma('user_version', { simple: true }) as number;
    } catch (e) {
      throw new UserError(`${this.path} is not a Gatehouse vulnerability database: ${describeError(e)}`, 'bad-db');
    }
    if (version !== SCHEMA_VERSION) throw new UserError(`${this.path}: unsupported database schema ${version} (expected ${SCHEMA_VERSION}); run \`gatehouse db update\``, 'bad-db');
  }

  private migrate(): void {
    try {
      const version = this.db.pragma('user_version', { simple: true }) as number;
      if (version === SCHEMA_VERSION) return;
      if (version !== 0) throw new Error(`unsupported schema version ${version}`);
      this.db.exec(`
        CREATE TABLE advisories (
          source TEXT NOT NULL, id TEXT NOT NULL, modified TEXT NOT NULL, withdrawn TEXT, record TEXT NOT NULL,
          PRIMARY KEY (source, id));
        CREATE TABLE affected (
          source TEXT NOT NULL, id TEXT NOT NULL, ecosystem TEXT NOT NULL, name TEXT NOT NULL, idx INTEGER NOT NULL);
        CREATE INDEX affected_pkg ON affected (ecosystem, name);
        CREATE INDEX affected_adv ON affected (source, id);
        CREATE TABLE aliases (alias TEXT NOT NULL, source TEXT NOT NULL, id TEXT NOT NULL);
        CREATE INDEX aliases_alias ON aliases (alias);
        CREATE INDEX aliases_adv ON aliases (source, id);
        CREATE TABLE sources (name TEXT PRIMARY KEY, url TEXT, etag TEXT, last_modified TEXT, updated_at TEXT NOT NULL);
        PRAGMA user_version = ${SCHEMA_VERSION};`);
    } catch (e) {
      throw new UserError(`${this.path} is not a usable Gatehouse vulnerability database: ${describeError(e)}`, 'bad-db', { cause: e });
    }
  }

  private stmts?: ReturnType<VulnDb['prepare']>;
  private prepare() {
    return {
      getModified: this.db.prepare<[string, string], { modified: string }>('SELECT modified FROM advisories WHERE source = ? AND id = ?'),
      delAffected: this.db.prepare('DELETE FROM affected WHERE source = ? AND id = ?'),
      delAliases: this.db.prepare('DELETE FROM aliases WHERE source = ? AND id = ?'),
      putAdvisory: this.db.prepare('INSERT OR REPLACE INTO advisories (source, id, modified, withdrawn, record) VALUES (?, ?, ?, ?, ?)'),
      putAffected: this.db.prepare('INSERT INTO affected (source, id, ecosystem, name, idx) VALUES (?, ?, ?, ?, ?)'),
      putAlias: this.db.prepare('INSERT INTO aliases (alias, source, id) VALUES (?, ?, ?)'),
      candidates: this.db.prepare<[string, string], { record: string; idx: number }>(
        'SELECT a.record AS record, f.idx AS idx FROM affected f JOIN advisories a ON a.source = f.source AND a.id = f.id WHERE f.ecosystem = ? AND f.name = ? AND a.withdrawn IS NULL',
      ),
    };
  }
  private get s() {
    return (this.stmts ??= this.prepare());
  }

  /** Stores one advisory unless an equal-or-newer copy is already there. */
  upsert(adv: Advisory): UpsertResult {
    this.names.clear();
    const s = this.s;
    const existing = s.getModified.get(adv.source, adv.id);
    if (existing && existing.modified >= adv.modified) return 'unchanged';
    if (existing) {
      s.delAffected.run(adv.source, adv.id);
      s.delAliases.run(adv.source, adv.id);
    }
    s.putAdvisory.run(adv.source, adv.id, adv.modified, adv.withdrawn ?? null, JSON.stringify(adv));
    adv.affected.forEach((a, i) => s.putAffected.run(adv.source, adv.id, a.ecosystem, normalizeName(a.ecosystem, a.name), i));
    for (const alias of new Set([adv.id, ...adv.aliases])) s.putAlias.run(alias, adv.source, adv.id);
    return existing ? 'updated' : 'added';
  }

  /** Runs `fn` in one transaction (imports are much faster batched). */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  /** Advisories (not withdrawn) with an affected entry for this exact ecosystem key and name. */
  candidates(ecosystem: string, name: string): { advisory: Advisory; affectedIndex: number }[] {
    const normalized = normalizeName(ecosystem, name);
    if (!this.namesOf(ecosystem).has(normalized)) return [];
    return this.s.candidates.all(ecosystem, normalized).map((row) => ({ advisory: JSON.parse(row.record) as Advisory, affectedIndex: row.idx }));
  }

  /**
   * Package names with any advisory under an ecosystem key, read once per key: most installed
   * packages have none, and a set lookup is far cheaper than one SQL query per package.
   */
  private readonly names = new Map<string, Set<string>>();
  private namesOf(ecosystem: string): Set<string> {
    let set = this.names.get(ecosystem);
    if (!set) {
      set = new Set(this.db.prepare<[string], { name: string }>('SELECT DISTINCT name FROM affected WHERE ecosystem = ?').pluck().all(ecosystem) as unknown as string[]);
      this.names.set(ecosystem, set);
    }
    return set;
  }

  /**
   * How well the DB covers these ecosystem keys (one ecosystem of a scan, e.g. "Debian:12" and
   * "Debian:bookworm"): distinct advisories (withdrawn ones included, as in status()), and when
   * the newest source that contributed any of them was last updated.
   */
  coverage(keys: readonly string[]): { advisories: number; updatedAt?: string } {
    if (keys.length === 0) return { advisories: 0 };
    const row = this.db
      .prepare<string[], { n: number; t: string | null }>(
        `SELECT count(DISTINCT f.source || char(0) || f.id) AS n, max(s.updated_at) AS t FROM affected f LEFT JOIN sources s ON s.name = f.source WHERE f.ecosystem IN (${keys.map(() => '?').join(', ')})`,
      )
      .get(...keys);
    return { advisories: row?.n ?? 0, ...(row?.t ? { updatedAt: row.t } : {}) };
  }

  get(source: string, id: string): Advisory | undefined {
    const row = this.db.prepare<[string, string], { record: string }>('SELECT record FROM advisories WHERE source = ? AND id = ?').get(source, id);
    return row ? (JSON.parse(row.record) as Advisory) : undefined;
  }

  /** Advisories known under an id or alias (CVE, GHSA, …). */
  byAlias(alias: string): Advisory[] {
    return this.db
      .prepare<[string], { record: string }>('SELECT a.record AS record FROM aliases s JOIN advisories a ON a.source = s.source AND a.id = s.id WHERE s.alias = ?')
      .all(alias)
      .map((r) => JSON.parse(r.record) as Advisory);
  }

  recordSource(info: { name: string; url?: string; etag?: string; lastModified?: string }): void {
    this.db
      .prepare('INSERT OR REPLACE INTO sources (name, url, etag, last_modified, updated_at) VALUES (?, ?, ?, ?, ?)')
      .run(info.name, info.url ?? null, info.etag ?? null, info.lastModified ?? null, new Date().toISOString());
  }

  source(name: string): SourceInfo | undefined {
    return this.status().sources.find((s) => s.name === name);
  }

  status(): DbStatus {
    const count = (sql: string): number => (this.db.prepare(sql).get() as { n: number }).n;
    const sources = this.db
      .prepare<[], { name: string; url: string | null; etag: string | null; last_modified: string | null; updated_at: string; n: number }>(
        'SELECT s.name, s.url, s.etag, s.last_modified, s.updated_at, (SELECT count(*) FROM advisories a WHERE a.source = s.name) AS n FROM sources s ORDER BY s.name',
      )
      .all()
      .map((r) => {
        const info: SourceInfo = { name: r.name, updatedAt: r.updated_at, advisories: r.n };
        if (r.url) info.url = r.url;
        if (r.etag) info.etag = r.etag;
        if (r.last_modified) info.lastModified = r.last_modified;
        return info;
      });
    const ecosystems = this.db
      .prepare<[], { ecosystem: string; n: number }>('SELECT ecosystem, count(DISTINCT source || char(0) || id) AS n FROM affected GROUP BY ecosystem ORDER BY ecosystem')
      .all()
      .map((r) => ({ ecosystem: r.ecosystem, advisories: r.n }));
    const status: DbStatus = {
      path: this.path,
      schemaVersion: SCHEMA_VERSION,
      advisories: count('SELECT count(*) AS n FROM advisories'),
      affectedPackages: count('SELECT count(*) AS n FROM affected'),
      ecosystems,
      sources,
    };
    const newest = sources.map((s) => s.updatedAt).sort().at(-1);
    if (newest) status.updatedAt = newest;
    return status;
  }

  /** When any source was last updated (what `status().updatedAt` says, without the counts). */
  updatedAt(): string | undefined {
    const row = this.db.prepare<[], { t: string | null }>('SELECT max(updated_at) AS t FROM sources').get();
    return row?.t ?? undefined;
  }

  /** A consistent copy of the whole DB at `path` (the update works on such a copy). */
  copyTo(path: string): void {
    this.db.prepare('VACUUM INTO ?').run(path);
  }

  close(): void {
    this.db.close();
  }
}
