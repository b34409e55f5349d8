import { PostgresAdapter, sql, type RawBuilder } from 'kysely';

/** JSON columns are text on both dialects. */
export function toJson(value: unknown): string {
  return JSON.stringify(value ?? null);
}

export function fromJson<T>(text: string | null | undefined, fallback: T): T {
  if (text === null || text === undefined || text === '') return fallback;
  return JSON.parse(text) as T;
}

/** Splits rows into chunks that stay under SQLite's and PostgreSQL's bound-parameter limits. */
export function chunks<T>(rows: T[], size = 400): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < rows.length; i += size) out.push(rows.slice(i, i + size));
  return out;
}

/** Whether the store is PostgreSQL (for the few bulk statements written differently there). */
export function isPostgres(db: { getExecutor(): { adapter: unknown } }): boolean {
  return db.getExecutor().adapter instanceof PostgresAdapter;
}

/**
 * PostgreSQL: rows as one array per column, `select * from unnest($1::text[], $2::bigint[], …)`,
 * for `insertInto(t).columns(…).expression(…)`. One statement of a few parameters, where a
 * multi-row VALUES of 1,000 rows has one parameter per cell (11,000–22,000), each parsed,
 * bound and planned by PostgreSQL on every call. Columns in the order given; types are
 * PostgreSQL's.
 */
export function unnestRows<R>(rows: readonly R[], columns: readonly (readonly [keyof R & string, 'text' | 'integer' | 'bigint'])[]): RawBuilder<unknown> {
  return sql`select * from unnest(${sql.join(columns.map(([c, type]) => sql`${rows.map((r) => r[c] ?? null)}::${sql.raw(type)}[]`))})`;
}
