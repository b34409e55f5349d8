/**
 * A real PostgreSQL 15 for tests: each test (or suite) gets a database of its own, made
 * through the role .ci/setup.d/80-postgres.sh creates, and dropped afterwards.
 *
 *   describe('store on PostgreSQL', { skip: await postgresSkip() }, () => { ... freshDatabase() ... });
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { missing, postgresTestUrl } from './components.js';

const SETUP_HINT = 'run .ci/setup.d/80-postgres.sh, or set GATEHOUSE_TEST_POSTGRES_URL';

export interface FreshDatabase {
  /** postgres://… for this database alone. */
  url: string;
  name: string;
  /** Drops the database, closing any connection still open to it. Safe to call twice. */
  drop(): Promise<void>;
}

let status: Promise<string | undefined> | undefined;

/** Why PostgreSQL cannot be used, or undefined when it answers (checked once per process). */
function postgresProblem(): Promise<string | undefined> {
  status ??= (async () => {
    const url = postgresTestUrl();
    if (url === undefined) return `PostgreSQL test URL not configured (${SETUP_HINT})`;
    try {
      await withClient(url, (c) => c.query('SELECT 1'));
      return undefined;
    } catch (e) {
      // pg's messages name the host and the role, never the password.
      return `PostgreSQL not reachable: ${(e as Error).message} (${SETUP_HINT})`;
    }
  })();
  return status;
}

export async function postgresAvailable(): Promise<boolean> {
  return (await postgresProblem()) === undefined;
}

/** For `{ skip: await postgresSkip() }`: a reason on a laptop, a thrown error under CI=true. */
export async function postgresSkip(): Promise<string | false> {
  const problem = await postgresProblem();
  return missing(problem === undefined, problem ?? '');
}

export async function freshDatabase(): Promise<FreshDatabase> {
  const admin = postgresTestUrl();
  const problem = await postgresProblem();
  if (admin === undefined || problem !== undefined) throw new Error(problem ?? 'PostgreSQL unavailable');
  // The gatehouse_test_ prefix is what the setup script sweeps up after killed runs.
  const name = `gatehouse_test_${process.pid}_${randomBytes(6).toString('hex')}`;
  await withClient(admin, (c) => c.query(`CREATE DATABASE "${name}"`));
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    drop: async () => {
      // FORCE cannot end an autovacuum worker (a backend of another role: error 42501) for a
      // role without pg_signal_backend; the worker finishes within seconds, so try again.
      for (let attempt = 1; ; attempt++) {
        try {
          return void (await withClient(admin, (c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)));
        } catch (e) {
          if ((e as { code?: string }).code !== '42501' || attempt >= 30) throw e;
          await new Promise((r) => setTimeout(r, 1000));
        }
      }
    },
  };
}

async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}
