/**
 * `GET /api/v1/summary/trends?days=N`: the dashboard's trends, one point per UTC day for the
 * last N days (today included) — violations open at the end of each day by severity and by
 * stage, runtime alerts received, and incidents opened.
 *
 * Open violations are rebuilt from their history (first_seen, resolved_at) rather than kept as
 * daily snapshots: one grouped query gives how many opened on day A and resolved on day B per
 * severity and stage, and a running sum gives each day's open count. A violation that is
 * excepted today is left out of every day (when it was excepted is not recorded); one that
 * reopened counts from its latest opening.
 */
import { sql } from 'kysely';
import type { ApiModule } from './module.js';

const SEVERITIES = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'UNKNOWN'] as const;
const STAGES = ['build', 'deploy', 'runtime'] as const;

export interface TrendPoint {
  /** YYYY-MM-DD (UTC). */
  date: string;
  /** Violations open at the end of the day. */
  open: { total: number; bySeverity: Record<string, number>; byStage: Record<string, number> };
  alerts: number;
  incidents: number;
}

const countsSchema = { type: 'object', additionalProperties: { type: 'integer' } } as const;
const pointSchema = {
  type: 'object', additionalProperties: false, required: ['date', 'open', 'alerts', 'incidents'],
  properties: {
    date: { type: 'string' },
    open: { type: 'object', additionalProperties: false, required: ['total', 'bySeverity', 'byStage'], properties: { total: { type: 'integer' }, bySeverity: countsSchema, byStage: countsSchema } },
    alerts: { type: 'integer' }, incidents: { type: 'integer' },
  },
} as const;

const day = (d: Date) => d.toISOString().slice(0, 10);

export const trendsApi: ApiModule = (app, ctx) => {
  app.get<{ Querystring: { days: number } }>('/api/v1/summary/trends', {
    config: { permission: 'read' },
    schema: {
      summary: 'Violations open per day by severity and stage, alerts and incidents per day, for the last N days',
      querystring: { type: 'object', additionalProperties: false, properties: { days: { type: 'integer', minimum: 1, maximum: 366, default: 30 } } },
      response: { 200: { type: 'object', additionalProperties: false, required: ['days', 'points'], properties: { days: { type: 'integer' }, points: { type: 'array', items: pointSchema } } } },
    },
  }, async (req) => {
    const days = req.query.days;
    const now = ctx.now();
    const dates: string[] = [];
    for (let i = days - 1; i >= 0; i--) dates.push(day(new Date(now.getTime() - i * 86_400_000)));
    const first = dates[0]!;
    const since = `${first}T00:00:00.000Z`;
    const points = new Map<string, TrendPoint>(dates.map((date) => [date, {
      date,
      open: { total: 0, bySeverity: Object.fromEntries(SEVERITIES.map((s) => [s, 0])), byStage: Object.fromEntries(STAGES.map((s) => [s, 0])) },
      alerts: 0, incidents: 0,
    }]));

    // Opened on day A (or before the window), resolved on day B (or not): counted open on [A, B).
    const opened = sql<string>`substr(first_seen, 1, 10)`;
    const resolved = sql<string | null>`substr(resolved_at, 1, 10)`;
    const rows = await ctx.db.selectFrom('violations')
      .select([opened.as('opened'), resolved.as('resolved'), 'severity', 'stage', (eb) => eb.fn.countAll<number>().as('n')])
      .where('state', '!=', 'excepted')
      .where((eb) => eb.or([eb('resolved_at', 'is', null), eb('resolved_at', '>=', since)]))
      .groupBy([opened, resolved, 'severity', 'stage'])
      .execute();
    for (const r of rows) {
      const n = Number(r.n);
      for (const date of dates) {
        if (r.opened > date) continue;
        if (r.resolved !== null && r.resolved <= date) continue;
        const p = points.get(date)!;
        p.open.total += n;
        p.open.bySeverity[r.severity] = (p.open.bySeverity[r.severity] ?? 0) + n;
        p.open.byStage[r.stage] = (p.open.byStage[r.stage] ?? 0) + n;
      }
    }

    const alertDay = sql<string>`substr(time, 1, 10)`;
    for (const r of await ctx.db.selectFrom('events').select([alertDay.as('d'), (eb) => eb.fn.countAll<number>().as('n')])
      .where('type', '=', 'alert').where('time', '>=', since).groupBy(alertDay).execute()) {
      const p = points.get(r.d);
      if (p) p.alerts = Number(r.n);
    }
    const incidentDay = sql<string>`substr(first_seen, 1, 10)`;
    for (const r of await ctx.db.selectFrom('incidents').select([incidentDay.as('d'), (eb) => eb.fn.countAll<number>().as('n')])
      .where('first_seen', '>=', since).groupBy(incidentDay).execute()) {
      const p = points.get(r.d);
      if (p) p.incidents = Number(r.n);
    }
    return { days, points: [...points.values()] };
  });
};
