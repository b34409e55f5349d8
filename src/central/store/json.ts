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
 * PostgreSQL: rows as one JSON parameter, `select * from json_to_recordset($1::json) as x(id text, …)`,
 * for `insertInto(t).columns(…).expression(…)`. One statement of one parameter, where a
 * multi-row VALUES of 1,000 rows has one parameter per cell (11,000–24,000), each parsed,
 * bound and planned by PostgreSQL. Measured on 2,000 event rows (CPU per row): VALUES Central
 * 0.010 ms + PostgreSQL 0.024 ms; this 0.0035 + 0.017 ms; arrays through unnest 0.032 + 0.015 ms
 * (node-postgres escapes every array element in JavaScript). Types are PostgreSQL's.
 */
export function jsonRecordset<R>(rows: readonly R[], columns: readonly (readonly [keyof R & string, 'text' | 'integer' | 'bigint'])[]): RawBuilder<unknown> {
  const types = sql.join(columns.map(([c, type]) => sql`${sql.id(c)} ${sql.raw(type)}`));
  return sql`select * from json_to_recordset(${JSON.stringify(rows)}::json) as x(${types})`;
}
