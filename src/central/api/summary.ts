/**
 * `GET /api/v1/summary`: the dashboard's numbers, exact and counted in SQL — violations by
 * severity, stage and state; deployments; images (scanned, with an SBOM); clusters and hosts
 * by connection state; sensors up (clusters and hosts that sent events in the last N
 * minutes); and the vulnerability DB Central matches with (its version, last update and age).
 *
 * The DB is the file the DB-watch job matches against (defaultDbPath: $GATEHOUSE_DB or the
 * user cache). It is not opened per request: a stat gives its stamp (inode, size, mtime, as
 * the job uses), and the DB is opened read-only only when the stamp changed since the last
 * request; its status is kept in this module until then.
 */
import { sql } from 'kysely';
import { describeError } from '../../util/errors.js';
import { defaultDbPath } from '../../vuln/db.js';
import { dbFileStamp, openVulnDb } from '../images/db-version.js';
import type { ApiModule } from './module.js';

export interface VulnDbSummary {
  /** Whether the DB file is there. */
  present: boolean;
  /** The version images are matched with (images.db_version). */
  version: string | null;
  /** When the newest import or update of the DB finished. */
  updatedAt: string | null;
  /** Seconds since updatedAt, by Central's clock. */
  ageSeconds: number | null;
  advisories: number | null;
  sources: { name: string; updatedAt: string; advisories: number }[];
  /** Why the DB could not be read, when it could not. */
  error: string | null;
  /** Scanned images matched with this version, and with another (they are re-matched by the DB-watch job). */
  imagesCurrent: number;
  imagesStale: number;
}

interface DbInfo { version: string; updatedAt: string | null; advisories: number; sources: VulnDbSummary['sources'] }

/** The DB's status by file stamp: opened once per change of the file. */
let cached: { path: string; stamp: string; info?: DbInfo; error?: string } | undefined;

function dbInfo(path: string): { present: boolean; info?: DbInfo; error?: string } {
  const stamp = dbFileStamp(path);
  if (!stamp) return { present: false };
  if (cached?.path !== path || cached.stamp !== stamp) {
    try {
      const { db, version } = openVulnDb(path);
      try {
        const s = db.status();
        cached = { path, stamp, info: { version, updatedAt: s.updatedAt ?? null, advisories: s.advisories, sources: s.sources.map((x) => ({ name: x.name, updatedAt: x.updatedAt, advisories: x.advisories ?? 0 })) } };
      } finally {
        db.close();
      }
    } catch (e) {
      cached = { path, stamp, error: describeError(e) };
    }
  }
  return { present: true, info: cached.info, error: cached.error };
}

const countMap = { type: 'object', additionalProperties: { type: 'integer' } } as const;
const summarySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    generatedAt: { type: 'string' },
    violations: {
      type: 'object', additionalProperties: false,
      properties: {
        total: { type: 'integer' }, active: { type: 'integer' },
        byState: countMap, bySeverity: countMap, byStage: countMap,
        cells: { type: 'array', items: { type: 'object', additionalProperties: false, properties: { severity: { type: 'string' }, stage: { type: 'string' }, state: { type: 'string' }, count: { type: 'integer' } } } },
      },
    },
    deployments: { type: 'object', additionalProperties: false, properties: { total: { type: 'integer' }, bySource: countMap } },
    images: { type: 'object', additionalProperties: false, properties: { total: { type: 'integer' }, scanned: { type: 'integer' }, withSbom: { type: 'integer' }, signed: { type: 'integer' } } },
    clusters: { type: 'object', additionalProperties: false, properties: { total: { type: 'integer' }, up: { type: 'integer' }, byState: countMap } },
    hosts: { type: 'object', additionalProperties: false, properties: { total: { type: 'integer' }, up: { type: 'integer' }, byState: countMap } },
    sensors: {
      type: 'object', additionalProperties: false,
      properties: { windowMinutes: { type: 'integer' }, since: { type: 'string' }, up: { type: 'integer' }, clustersUp: { type: 'integer' }, hostsUp: { type: 'integer' }, known: { type: 'integer' }, lastEventAt: { type: ['string', 'null'] } },
    },
    vulnDb: {
      type: 'object', additionalProperties: false,
      properties: {
        present: { type: 'boolean' }, version: { type: ['string', 'null'] }, updatedAt: { type: ['string', 'null'] }, ageSeconds: { type: ['integer', 'null'] },
        advisories: { type: ['integer', 'null'] }, error: { type: ['string', 'null'] }, imagesCurrent: { type: 'integer' }, imagesStale: { type: 'integer' },
        sources: { type: 'array', items: { type: 'object', additionalProperties: false, properties: { name: { type: 'string' }, updatedAt: { type: 'string' }, advisories: { type: 'integer' } } } },
      },
    },
  },
} as const;

const n = (v: unknown): number => Number(v ?? 0);

export const summaryApi: ApiModule = (app, ctx) => {
  app.get<{ Querystring: { sensorWindowMinutes: number } }>('/api/v1/summary', {
    config: { permission: 'read' },
    schema: {
      summary: 'Exact counts for the dashboard: violations, deployments, images, clusters, hosts, sensors up, vulnerability DB age',
      querystring: { type: 'object', additionalProperties: false, properties: { sensorWindowMinutes: { type: 'integer', minimum: 1, maximum: 10_080, default: 15 } } },
      response: { 200: summarySchema },
    },
  }, async (req) => {
    const db = ctx.db;
    const now = ctx.now();
    const windowMinutes = req.query.sensorWindowMinutes;
    const since = new Date(now.getTime() - windowMinutes * 60_000).toISOString();

    const [cells, deployments, images, sources, sensorsUp, sensorsKnown] = await Promise.all([
      db.selectFrom('violations').select(['severity', 'stage', 'state', sql<number>`count(*)`.as('n')]).groupBy(['severity', 'stage', 'state']).execute(),
      db.selectFrom('deployments').select(['source_id', sql<number>`count(*)`.as('n')]).where('deleted_at', 'is', null).groupBy('source_id').execute(),
      db.selectFrom('images').select([
        sql<number>`count(*)`.as('total'),
        sql<number>`sum(case when scanned_at is not null then 1 else 0 end)`.as('scanned'),
        sql<number>`sum(case when has_sbom = 1 then 1 else 0 end)`.as('sbom'),
        sql<number>`sum(case when signature like '%"verified":true%' then 1 else 0 end)`.as('signed'),
      ]).executeTakeFirstOrThrow(),
      db.selectFrom('sources').select(['kind', 'state', sql<number>`count(*)`.as('n')]).groupBy(['kind', 'state']).execute(),
      db.selectFrom('events').select([
        sql<number>`count(distinct cluster)`.as('clusters'),
        sql<number>`count(distinct host)`.as('hosts'),
      ]).where('received_at', '>=', since).executeTakeFirstOrThrow(),
      db.selectFrom('events').select([
        sql<number>`count(distinct cluster)`.as('clusters'),
        sql<number>`count(distinct host)`.as('hosts'),
        sql<string | null>`max(received_at)`.as('last'),
      ]).executeTakeFirstOrThrow(),
    ]);

    const violations = { total: 0, active: 0, byState: {} as Record<string, number>, bySeverity: {} as Record<string, number>, byStage: {} as Record<string, number>, cells: [] as { severity: string; stage: string; state: string; count: number }[] };
    for (const c of cells) {
      const count = n(c.n);
      violations.total += count;
      violations.byState[c.state] = (violations.byState[c.state] ?? 0) + count;
      violations.cells.push({ severity: c.severity, stage: c.stage, state: c.state, count });
      if (c.state !== 'active') continue;
      violations.active += count;
      violations.bySeverity[c.severity] = (violations.bySeverity[c.severity] ?? 0) + count;
      violations.byStage[c.stage] = (violations.byStage[c.stage] ?? 0) + count;
    }
    violations.cells.sort((a, b) => a.severity.localeCompare(b.severity) || a.stage.localeCompare(b.stage) || a.state.localeCompare(b.state));

    const sourceSummary = (kind: 'cluster' | 'host') => {
      const byState: Record<string, number> = {};
      for (const s of sources.filter((x) => x.kind === kind)) byState[s.state] = n(s.n);
      return { total: Object.values(byState).reduce((a, b) => a + b, 0), up: byState.up ?? 0, byState };
    };

    const { present, info, error } = dbInfo(defaultDbPath());
    const matched = await db.selectFrom('images').select([
      sql<number>`sum(case when db_version = ${info?.version ?? ''} then 1 else 0 end)`.as('current'),
      sql<number>`sum(case when db_version is not null and db_version <> ${info?.version ?? ''} then 1 else 0 end)`.as('stale'),
    ]).executeTakeFirstOrThrow();
    const updatedAt = info?.updatedAt ?? null;
    const vulnDb: VulnDbSummary = {
      present,
      version: info?.version ?? null,
      updatedAt,
      ageSeconds: updatedAt ? Math.max(0, Math.floor((now.getTime() - Date.parse(updatedAt)) / 1000)) : null,
      advisories: info?.advisories ?? null,
      sources: info?.sources ?? [],
      error: error ?? null,
      imagesCurrent: info ? n(matched.current) : 0,
      imagesStale: info ? n(matched.stale) : 0,
    };

    return {
      generatedAt: now.toISOString(),
      violations,
      deployments: { total: deployments.reduce((a, d) => a + n(d.n), 0), bySource: Object.fromEntries(deployments.map((d) => [d.source_id, n(d.n)])) },
      images: { total: n(images.total), scanned: n(images.scanned), withSbom: n(images.sbom), signed: n(images.signed) },
      clusters: sourceSummary('cluster'),
      hosts: sourceSummary('host'),
      sensors: {
        windowMinutes, since,
        clustersUp: n(sensorsUp.clusters), hostsUp: n(sensorsUp.hosts), up: n(sensorsUp.clusters) + n(sensorsUp.hosts),
        known: n(sensorsKnown.clusters) + n(sensorsKnown.hosts), lastEventAt: sensorsKnown.last ?? null,
      },
      vulnDb,
    };
  });
};
