/**
 * GET /api/v1/summary/trends on both stores: for generated violation histories (opened on
 * some day, resolved later or not, excepted or not, reopened), the open count per day by
 * severity and stage equals a direct count over the same histories; alerts pushed through the
 * ingest route and stored incidents are counted on their day; bad queries are refused.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { startTestCentral, storeTest } from '../helpers/central.js';
import { incidentService } from '../../src/central/incidents/service.js';

/** mulberry32: a small seeded PRNG, so a failure reproduces. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a |= 0; a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SEVERITIES = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'UNKNOWN'];
const STAGES = ['build', 'deploy', 'runtime'];
const DAY = 86_400_000;

await storeTest('trends: open violations per day equal a direct count over their histories; alerts and incidents by day', async (dialect) => {
  const clock = new Date('2026-12-07T15:30:00Z');
  const c = await startTestCentral({ dialect, now: () => clock });
  try {
    const random = rng(dialect === 'sqlite' ? 7 : 11);
    const at = (daysAgo: number, hour = Math.floor(random() * 24)) => new Date(Date.UTC(2026, 11, 7 - daysAgo, hour, Math.floor(random() * 60))).toISOString();
    const histories: { opened: string; resolved: string | null; severity: string; stage: string; state: string }[] = [];
    for (let i = 0; i < 400; i++) {
      const openedAgo = Math.floor(random() * 45); // some before the 30-day window
      const resolvedAgo = random() < 0.5 ? Math.floor(random() * (openedAgo + 1)) : undefined;
      const opened = at(openedAgo);
      let resolved = resolvedAgo === undefined ? null : at(resolvedAgo);
      if (resolved !== null && resolved < opened) resolved = opened; // opened and resolved the same day
      const state = resolved ? 'resolved' : random() < 0.15 ? 'excepted' : 'active';
      histories.push({ opened, resolved, severity: SEVERITIES[Math.floor(random() * SEVERITIES.length)]!, stage: STAGES[Math.floor(random() * STAGES.length)]!, state });
    }
    await c.db().insertInto('violations').values(histories.map((h, i) => ({
      id: `v-${i}`, policy_id: `p-${i % 7}`, stage: h.stage, subject_kind: 'deployment', subject_key: `d-${i}`, severity: h.severity, title: 't', body: '{}',
      state: h.state as 'active' | 'resolved' | 'excepted', exception_id: h.state === 'excepted' ? 'x' : null, first_seen: h.opened, last_seen: h.resolved ?? h.opened, resolved_at: h.resolved,
    }))).execute();

    // Alerts through the real ingest route, on known days.
    const sensor = await c.token('sensor');
    const alertDays = [0, 0, 0, 2, 5, 5, 40];
    const events = alertDays.map((d) => ({
      id: randomUUID(), type: 'alert', time: new Date(clock.getTime() - d * DAY).toISOString(),
      finding: { id: 'r', kind: 'runtime', severity: 'HIGH', title: 'rule', resource: { host: 'h1' }, data: { rule: 'rule', priority: 'Warning', output_fields: {} } },
    }));
    assert.equal((await c.api('POST', '/api/v1/ingest/events', { source: { kind: 'runtime-replay', host: 'h1' }, events }, sensor)).status, 200);
    await c.db().insertInto('incidents').values([1, 1, 3].map((d, i) => ({
      id: `inc-${i}`, state: 'open' as const, severity: 'HIGH', stage: 'execution', title: 'x', first_seen: new Date(clock.getTime() - d * DAY).toISOString(),
      last_seen: clock.toISOString(), closed_at: null, signals: 1, body: '{}', updated_at: clock.toISOString(),
    }))).execute();

    // The replayed alerts open incidents of their own too (the correlator): every stored incident counts on its first day.
    await incidentService(c.ctx).idle();
    const incidentDays = (await c.db().selectFrom('incidents').select('first_seen').execute()).map((i) => i.first_seen.slice(0, 10));
    assert.ok(incidentDays.length > 3, 'the correlator opened incidents from the alerts');
    const analyst = await c.token('analyst');
    const r = await c.api('GET', '/api/v1/summary/trends?days=30', undefined, analyst);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.points.length, 30);
    assert.equal(r.body.points[29].date, '2026-12-07');
    assert.equal(r.body.points[0].date, '2026-11-08');
    for (const p of r.body.points) {
      const open = histories.filter((h) => h.state !== 'excepted' && h.opened.slice(0, 10) <= p.date && (h.resolved === null || h.resolved.slice(0, 10) > p.date));
      assert.equal(p.open.total, open.length, `${p.date} total`);
      for (const s of SEVERITIES) assert.equal(p.open.bySeverity[s], open.filter((h) => h.severity === s).length, `${p.date} ${s}`);
      for (const s of STAGES) assert.equal(p.open.byStage[s], open.filter((h) => h.stage === s).length, `${p.date} ${s}`);
      const daysAgo = Math.round((Date.parse('2026-12-07') - Date.parse(p.date)) / DAY);
      assert.equal(p.alerts, alertDays.filter((d) => d === daysAgo).length, `${p.date} alerts`);
      assert.equal(p.incidents, incidentDays.filter((d) => d === p.date).length, `${p.date} incidents`);
    }
    assert.ok(r.body.points.some((p: any) => p.open.total > 0) && r.body.points.some((p: any, i: number) => i > 0 && p.open.total !== r.body.points[i - 1].open.total), 'the histories make the counts move');

    assert.equal((await c.api('GET', '/api/v1/summary/trends?days=0', undefined, analyst)).status, 400);
    assert.equal((await c.api('GET', '/api/v1/summary/trends?days=400', undefined, analyst)).status, 400);
    assert.equal((await c.api('GET', '/api/v1/summary/trends?since=x', undefined, analyst)).status, 400);
    assert.equal((await c.api('GET', '/api/v1/summary/trends', undefined, '')).status, 401);
    assert.equal((await c.api('GET', '/api/v1/summary/trends', undefined, analyst)).body.points.length, 30, 'default 30 days');
  } finally {
    await c.close();
  }
});
