/**
 * `/`: what needs attention first — active violations by severity and stage, the riskiest
 * deployments, recently scanned images, and what Central covers. Re-read on live changes.
 */
import { useCallback, useEffect, useState } from 'react';
import { Link } from 'react-router';
import { api, ApiError, type Page } from '../api/client';
import { collect } from '../api/collect';
import { useLiveChanges } from '../api/hooks';
import { SEVERITIES, STAGES, vulnCount, type Deployment, type Image, type Source, type Violation } from '../api/types';
import { ErrorNote, Loading, Section, SeverityBadge, shortDigest, age } from '../components/bits';

interface Summary {
  violations: Violation[]; violationsComplete: boolean;
  top: Deployment[]; images: Image[]; imagesComplete: boolean;
  clusters: Source[]; hosts: Source[];
}

async function loadSummary(): Promise<Summary> {
  const [v, top, images, clusters, hosts] = await Promise.all([
    collect<Violation>('/api/v1/violations?state=active'),
    api<Page<Deployment>>('GET', '/api/v1/deployments?sort=risk&limit=10'),
    collect<Image>('/api/v1/images'),
    api<{ items: Source[] }>('GET', '/api/v1/clusters'),
    api<{ items: Source[] }>('GET', '/api/v1/hosts'),
  ]);
  return { violations: v.items, violationsComplete: v.complete, top: top.items, images: images.items, imagesComplete: images.complete, clusters: clusters.items, hosts: hosts.items };
}

export function Dashboard() {
  const [data, setData] = useState<Summary>();
  const [error, setError] = useState<ApiError>();
  const reload = useCallback(() => {
    loadSummary().then((s) => { setData(s); setError(undefined); }, (e: unknown) => setError(e instanceof ApiError ? e : new ApiError(0, 'error', String(e))));
  }, []);
  useEffect(reload, [reload]);
  useLiveChanges(['image', 'images', 'exceptions', 'policies', 'alerts', 'sources', 'objects', 'deployments', 'violations'], reload);

  return (
    <>
      <h1>Dashboard</h1>
      <ErrorNote error={error} />
      {!data ? <Loading what="the summary" /> : <DashboardBody data={data} />}
    </>
  );
}

function DashboardBody({ data }: { data: Summary }) {
  const bySeverity = new Map<string, number>();
  const byStage = new Map<string, number>();
  for (const v of data.violations) {
    bySeverity.set(v.severity, (bySeverity.get(v.severity) ?? 0) + 1);
    byStage.set(v.stage, (byStage.get(v.stage) ?? 0) + 1);
  }
  const plus = data.violationsComplete ? '' : '+';
  const scanned = data.images.filter((i) => i.scannedAt);
  const recent = [...scanned].sort((a, b) => (b.scannedAt ?? '').localeCompare(a.scannedAt ?? '')).slice(0, 8);
  const dbVersions = [...new Set(scanned.map((i) => i.dbVersion).filter((x): x is string => !!x))].sort();
  const maxSeverity = Math.max(1, ...bySeverity.values());

  return (
    <div className="grid">
      <Section title="Active violations by severity">
        <ul className="bars">
          {SEVERITIES.map((s) => {
            const n = bySeverity.get(s) ?? 0;
            return (
              <li key={s}>
                <Link to={`/violations?state=active&severity=${s}`} className="bar-label"><SeverityBadge severity={s} /></Link>
                <span className="bar" aria-hidden="true"><span className={`bar-fill sev-${s.toLowerCase()}`} style={{ width: `${(n / maxSeverity) * 100}%` }} /></span>
                <span className="bar-count" data-testid={`severity-${s}`}>{n}{n ? plus : ''}</span>
              </li>
            );
          })}
        </ul>
      </Section>
      <Section title="Active violations by stage">
        <dl className="stats">
          {STAGES.map((s) => (
            <div key={s}><dt><Link to={`/violations?state=active&stage=${s}`}>{s}</Link></dt><dd data-testid={`stage-${s}`}>{(byStage.get(s) ?? 0)}{byStage.get(s) ? plus : ''}</dd></div>
          ))}
        </dl>
      </Section>
      <Section title="Coverage">
        <dl className="stats">
          <div><dt><Link to="/settings">Clusters</Link></dt><dd data-testid="clusters">{data.clusters.length}</dd></div>
          <div><dt><Link to="/settings">Hosts</Link></dt><dd data-testid="hosts">{data.hosts.length}</dd></div>
          <div><dt><Link to="/images">Images scanned</Link></dt><dd data-testid="images-scanned">{scanned.length}{data.imagesComplete ? '' : '+'}</dd></div>
          <div><dt>Vulnerability DB</dt><dd className="small">{dbVersions.length ? dbVersions[dbVersions.length - 1] : scanned.length ? 'not reported' : 'no scan yet'}</dd></div>
        </dl>
        <p className="hint">DB age and sensors up: not exposed by the API yet; the DB shown is the newest one images were matched with.</p>
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
