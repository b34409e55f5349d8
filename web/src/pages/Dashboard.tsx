/**
 * `/`: what needs attention first — active violations by severity and stage (exact counts
 * from `GET /api/v1/summary`), the riskiest deployments, recently scanned images, what
 * Central covers (clusters and hosts connected, sensors up), the vulnerability DB's age, and
 * the trend of open violations over 30 days (GET /api/v1/summary/trends).
 * Re-read on live changes.
 */
import { useCallback, useEffect, useState } from 'react';
import { Link } from 'react-router';
import { api, ApiError, type Page } from '../api/client';
import { useLiveChanges } from '../api/hooks';
import { SEVERITIES, STAGES, vulnCount, type Deployment, type Image, type Incident, type SummaryCounts } from '../api/types';
import { ErrorNote, Loading, Section, SeverityBadge, StateBadge, shortDigest, age, When } from '../components/bits';
import { readableTitle, Tactics } from '../components/incidents';
import { TrendChart, type TrendPoint } from '../components/TrendChart';

interface Summary { counts: SummaryCounts; top: Deployment[]; images: Image[]; incidents: Incident[]; trends: TrendPoint[] }

/** A DB older than this is shown as stale (the DB-watch job re-matches on every update). */
const DB_STALE_DAYS = 2;

async function loadSummary(): Promise<Summary> {
  const [counts, top, images, incidents, trends] = await Promise.all([
    api<SummaryCounts>('GET', '/api/v1/summary'),
    api<Page<Deployment>>('GET', '/api/v1/deployments?sort=risk&limit=10'),
    api<Page<Image>>('GET', '/api/v1/images?limit=1000'),
    api<Page<Incident>>('GET', '/api/v1/incidents?limit=6'),
    api<{ points: TrendPoint[] }>('GET', '/api/v1/summary/trends?days=30'),
  ]);
  return { counts, top: top.items, images: images.items, incidents: incidents.items, trends: trends.points };
}

/** "3 d 4 h", "25 min": how long ago, from seconds. */
export function duration(seconds: number): string {
  if (seconds < 60) return 'under a minute';
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
  return `${Math.floor(seconds / 86_400)} d ${Math.floor((seconds % 86_400) / 3600)} h`;
}

export function Dashboard() {
  const [data, setData] = useState<Summary>();
  const [error, setError] = useState<ApiError>();
  const reload = useCallback(() => {
    loadSummary().then((s) => { setData(s); setError(undefined); }, (e: unknown) => setError(e instanceof ApiError ? e : new ApiError(0, 'error', String(e))));
  }, []);
  useEffect(reload, [reload]);
  useLiveChanges(['image', 'images', 'exceptions', 'policies', 'alerts', 'sources', 'objects', 'deployments', 'violations', 'events', 'incidents'], reload);

  return (
    <>
      <h1>Dashboard</h1>
      <ErrorNote error={error} />
      {!data ? <Loading what="the summary" /> : <DashboardBody data={data} />}
    </>
  );
}

function DashboardBody({ data }: { data: Summary }) {
  const c = data.counts;
  const bySeverity = c.violations.bySeverity;
  const byStage = c.violations.byStage;
  const recent = data.images.filter((i) => i.scannedAt).sort((a, b) => (b.scannedAt ?? '').localeCompare(a.scannedAt ?? '')).slice(0, 8);
  const maxSeverity = Math.max(1, ...Object.values(bySeverity));
  const db = c.vulnDb;
  const dbStale = db.ageSeconds !== null && db.ageSeconds > DB_STALE_DAYS * 86_400;

  return (
    <div className="grid">
      <Section title="Active violations by severity">
        <ul className="bars">
          {SEVERITIES.map((s) => {
            const n = bySeverity[s] ?? 0;
            return (
              <li key={s}>
                <Link to={`/violations?state=active&severity=${s}`} className="bar-label"><SeverityBadge severity={s} /></Link>
                <span className="bar" aria-hidden="true"><span className={`bar-fill sev-${s.toLowerCase()}`} style={{ width: `${(n / maxSeverity) * 100}%` }} /></span>
                <span className="bar-count" data-testid={`severity-${s}`}>{n}</span>
              </li>
            );
          })}
        </ul>
        <p className="hint">{c.violations.active} active of {c.violations.total}: {Object.entries(c.violations.byState).filter(([k]) => k !== 'active').map(([k, v]) => `${v} ${k}`).join(', ') || 'none resolved or excepted'}.</p>
      </Section>
      <Section title="Open violations, last 30 days">
        <TrendChart points={data.trends} />
      </Section>
      <Section title="Active violations by stage">
        <dl className="stats">
          {STAGES.map((s) => (
            <div key={s}><dt><Link to={`/violations?state=active&stage=${s}`}>{s}</Link></dt><dd data-testid={`stage-${s}`}>{byStage[s] ?? 0}</dd></div>
          ))}
        </dl>
        <p className="hint">What raises them: <Link to="/policies">policies</Link> (edit and dry run); image age and signatures per tag: <Link to="/registries">registries</Link>.</p>
      </Section>
      <Section title="Coverage">
        <dl className="stats">
          <div><dt><Link to="/settings">Clusters</Link></dt><dd data-testid="clusters">{c.clusters.total}</dd><dd className="small muted" data-testid="clusters-up">{c.clusters.up} connected</dd></div>
          <div><dt><Link to="/settings">Hosts</Link></dt><dd data-testid="hosts">{c.hosts.total}</dd><dd className="small muted" data-testid="hosts-up">{c.hosts.up} connected</dd></div>
          <div><dt><Link to="/deployments">Deployments</Link></dt><dd data-testid="deployments">{c.deployments.total}</dd></div>
          <div><dt><Link to="/images">Images scanned</Link></dt><dd data-testid="images-scanned">{c.images.scanned}</dd><dd className="small muted">of {c.images.total}, {c.images.signed} signed</dd></div>
          <div><dt>Sensors up</dt><dd data-testid="sensors-up">{c.sensors.up}</dd><dd className="small muted" title={c.sensors.lastEventAt ? `last event ${c.sensors.lastEventAt}` : 'no event yet'}>sent events in the last {c.sensors.windowMinutes} min ({c.sensors.known} ever)</dd></div>
        </dl>
      </Section>
      <Section title="Vulnerability DB">
        {!db.present ? <p className="warning" data-testid="db-age">No vulnerability DB on Central: run <code>gatehouse db update</code> where Central runs.</p>
          : db.error ? <p className="error" data-testid="db-age">The DB cannot be read: {db.error}</p> : (
            <>
              <dl className="stats">
                <div><dt>Age</dt><dd data-testid="db-age" className={dbStale ? 'stale' : undefined}>{db.ageSeconds === null ? 'never updated' : duration(db.ageSeconds)}</dd>{db.updatedAt && <dd className="small muted">updated <When iso={db.updatedAt} short /></dd>}</div>
                <div><dt>Advisories</dt><dd>{db.advisories ?? '—'}</dd><dd className="small muted">{db.sources.length} source{db.sources.length === 1 ? '' : 's'}</dd></div>
                <div><dt>Images matched</dt><dd data-testid="db-current">{db.imagesCurrent}</dd><dd className="small muted">{db.imagesStale ? `${db.imagesStale} behind, being re-matched` : 'none behind'}</dd></div>
              </dl>
              {dbStale && <p className="warning">The DB is more than {DB_STALE_DAYS} days old: run <code>gatehouse db update</code>.</p>}
              <p className="hint">Version <code>{db.version}</code></p>
            </>
          )}
      </Section>
      <Section title="Newest incidents">
        {data.incidents.length === 0 ? <p className="muted">No incident: correlated alerts, audit events and flows show here.</p> : (
          <table className="compact" data-testid="newest-incidents">
            <thead><tr><th scope="col">Severity</th><th scope="col">Incident</th><th scope="col">Tactics</th><th scope="col">Last seen</th></tr></thead>
            <tbody>
              {data.incidents.map((i) => (
                <tr key={i.id}>
                  <td><SeverityBadge severity={i.severity} /></td>
                  <td><Link to={`/incidents/${encodeURIComponent(i.id)}`} title={i.title}>{readableTitle(i.title)}</Link>{i.state === 'closed' && <> <StateBadge state="closed" /></>}<div className="small muted">{i.hosts.join(', ')}</div></td>
                  <td><Tactics incident={i} max={2} /></td>
                  <td><When iso={i.lastSeen} short /></td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        <p className="hint"><Link to="/incidents">All incidents</Link></p>
      </Section>
      <Section title="Riskiest deployments">
        {data.top.length === 0 ? <p className="muted">No deployments yet: add a cluster or a host in Settings.</p> : (
          <ol className="ranked">
            {data.top.map((d) => (
              <li key={d.id}>
                <Link to={`/deployments/${encodeURIComponent(d.id)}`}>{d.namespace ? `${d.namespace}/` : ''}{d.name}</Link>
                <span className="muted"> {d.cluster ?? d.host ?? ''}</span>
                <span className="score" title="risk score">{d.riskScore.toFixed(1)}</span>
              </li>
            ))}
          </ol>
        )}
      </Section>
      <Section title="Recently scanned images">
        {recent.length === 0 ? <p className="muted">No image scanned yet: push one with <code>gatehouse image scan IMAGE --server URL</code>.</p> : (
          <table className="compact">
            <thead><tr><th scope="col">Image</th><th scope="col">Critical</th><th scope="col">High</th><th scope="col">Scanned</th></tr></thead>
            <tbody>
              {recent.map((i) => (
                <tr key={i.digest}>
                  <td><Link to={`/images/${i.digest}`}>{i.refs[0] ?? shortDigest(i.digest)}</Link></td>
                  <td>{vulnCount(i.summary, 'CRITICAL')}</td>
                  <td>{vulnCount(i.summary, 'HIGH')}</td>
                  <td><time dateTime={i.scannedAt ?? ''} title={i.scannedAt ?? ''}>{age(i.scannedAt)}</time></td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>
    </div>
  );
}
