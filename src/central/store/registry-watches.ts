/**
 * Registry repositories Central audits for hygiene (the registry-hygiene job).
 */
import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from './schema.js';

/** The table of migration 0002 (kept beside its queries, so Central's shared schema file stays the lead's). */
export interface RegistryWatchesTable {
  id: string;
  registry: string;
  /** A repository path, or a glob over repository paths (team/**), inside the registry. */
  repository: string;
  created_at: string;
  created_by: string | null;
  last_run_at: string | null;
  last_error: string | null;
  tags: number | null;
  /** JSON of WatchTag[] from the last successful audit (migration 0014). */
  tag_rows?: string | null;
}

/** One tag as the last audit saw it: what the console's per-tag hygiene view shows. */
export interface WatchTag {
  repository: string;
  tag: string;
  digest?: string;
  created?: string;
  ageDays?: number;
  signed: boolean;
  /** Older than the audit's maximum age (six months by default). */
  stale: boolean;
  /** Vulnerabilities by severity from Central's last scan of the digest; absent when never scanned. */
  vulnerabilities?: Record<string, number>;
  error?: string;
}

/** Tags kept per watch: a repository with more shows the first ones (by repository and tag) and says how many. */
export const MAX_WATCH_TAGS = 5000;

type WatchDb = Kysely<Database & { registry_watches: RegistryWatchesTable }>;

export interface RegistryWatch {
  id: string;
  registry: string;
  repository: string;
  /** registry/repository: the target its findings are stored under. */
  target: string;
  createdAt: string;
  createdBy: string | null;
  lastRunAt: string | null;
  lastError: string | null;
  tags: number | null;
}

/** Every column but the tag rows (read only by the per-tag route). */
const WATCH_COLUMNS = ['id', 'registry', 'repository', 'created_at', 'created_by', 'last_run_at', 'last_error', 'tags'] as const;

const watches = (db: Kysely<Database>): WatchDb => db.withTables<{ registry_watches: RegistryWatchesTable }>();

function toWatch(r: RegistryWatchesTable): RegistryWatch {
  return {
    id: r.id, registry: r.registry, repository: r.repository, target: `${r.registry}/${r.repository}`,
    createdAt: r.created_at, createdBy: r.created_by, lastRunAt: r.last_run_at, lastError: r.last_error, tags: r.tags === null ? null : Number(r.tags),
  };
}

/** Adds a watch; the same registry and repository again returns the existing one (created: false). */
export async function addWatch(db: Kysely<Database>, w: { registry: string; repository: string }, by: string | null, now: string): Promise<{ watch: RegistryWatch; created: boolean }> {
  const existing = await watches(db).selectFrom('registry_watches').selectAll().where('registry', '=', w.registry).where('repository', '=', w.repository).executeTakeFirst();
  if (existing) return { watch: toWatch(existing), created: false };
  const row: RegistryWatchesTable = { id: `rw-${randomBytes(6).toString('hex')}`, registry: w.registry, repository: w.repository, created_at: now, created_by: by, last_run_at: null, last_error: null, tags: null };
  await watches(db).insertInto('registry_watches').values(row).execute();
  return { watch: toWatch(row), created: true };
}

export async function listWatches(db: Kysely<Database>): Promise<RegistryWatch[]> {
  return (await watches(db).selectFrom('registry_watches').select(WATCH_COLUMNS).orderBy('registry').orderBy('repository').execute()).map(toWatch);
}

/** Removes a watch and the findings it stored; its open violations resolve (nothing watches them any more). */
export async function removeWatch(db: Kysely<Database>, id: string, now: string): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    const w = await trx.withTables<{ registry_watches: RegistryWatchesTable }>().selectFrom('registry_watches').selectAll().where('id', '=', id).executeTakeFirst();
    if (!w) return false;
    await trx.withTables<{ registry_watches: RegistryWatchesTable }>().deleteFrom('registry_watches').where('id', '=', id).execute();
    const target = `${w.registry}/${w.repository}`;
    await trx.deleteFrom('findings').where('source', '=', REGISTRY_AUDIT_SOURCE).where('target', '=', target).execute();
    await trx.updateTable('violations').set({ state: 'resolved', resolved_at: now, exception_id: null })
      .where('subject_kind', '=', REGISTRY_AUDIT_SOURCE).where('subject_key', '=', target).where('state', '!=', 'resolved').execute();
    return true;
  });
}

/** Records a run; a failed run (no `rows`) keeps the tags of the last good one. */
export async function recordWatchRun(db: Kysely<Database>, id: string, run: { at: string; error: string | null; tags: number | null; rows?: WatchTag[] }): Promise<void> {
  const rows = run.rows ? [...run.rows].sort((a, b) => a.repository.localeCompare(b.repository) || a.tag.localeCompare(b.tag)).slice(0, MAX_WATCH_TAGS) : undefined;
  await watches(db).updateTable('registry_watches')
    .set({ last_run_at: run.at, last_error: run.error, tags: run.tags, ...(rows ? { tag_rows: JSON.stringify(rows) } : {}) })
    .where('id', '=', id).execute();
}

/** The tags of a watch's last good audit; undefined for an unknown watch. */
export async function watchTags(db: Kysely<Database>, id: string): Promise<WatchTag[] | undefined> {
  const r = await watches(db).selectFrom('registry_watches').select(['tag_rows']).where('id', '=', id).executeTakeFirst();
  if (!r) return undefined;
  return r.tag_rows ? (JSON.parse(r.tag_rows) as WatchTag[]) : [];
}

/** The findings source of `registry audit` pushes and of the hygiene job alike. */
export const REGISTRY_AUDIT_SOURCE = 'registry-audit';

