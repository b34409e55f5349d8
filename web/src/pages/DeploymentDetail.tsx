/** `/deployments/:id`: one workload — its risk explained, images, violations, runtime alerts, incidents, behavioural baseline and network neighbours. */
import { Link, useParams } from 'react-router';
import { useApi, useLiveChanges } from '../api/hooks';
import { vulnCount, type DeploymentDetail as Detail, type Incident } from '../api/types';
import type { Page } from '../api/client';
import { readableTitle, Tactics } from '../components/incidents';
import { ErrorNote, Loading, Section, SeverityBadge, StateBadge, When, shortDigest } from '../components/bits';
import { FactorTable } from '../components/RiskFactors';
import { DeploymentNeighbours } from '../components/DeploymentNeighbours';
import { DeploymentBaseline } from '../components/DeploymentBaseline';
import { DeploymentVulnerabilities } from '../components/DeploymentVulnerabilities';

export function DeploymentDetail() {
  const { id = '' } = useParams();
  const { data: d, error, reload } = useApi<Detail>(`/api/v1/deployments/${encodeURIComponent(id)}`);
  useLiveChanges(['objects', 'image', 'images', 'alerts', 'exceptions', 'policies', 'deployments', 'violations'], reload);
  const incidents = useApi<Page<Incident>>(`/api/v1/incidents?deployment=${encodeURIComponent(id)}&limit=20`);
  useLiveChanges(['incidents'], incidents.reload);
  if (!d) return <><h1>Deployment</h1><ErrorNote error={error} />{!error && <Loading what="the deployment" />}</>;
  const labels = Object.entries(d.labels);
  return (
    <>
      <p className="crumbs"><Link to="/deployments">Deployments</Link> /</p>
      <h1>{d.kind}/{d.name}</h1>
      <ErrorNote error={error} />
      <dl className="facts">
        <div><dt>Namespace</dt><dd>{d.namespace || '—'}</dd></div>
        <div><dt>{d.cluster ? 'Cluster' : 'Host'}</dt><dd>{d.cluster ?? d.host ?? '—'}</dd></div>
        <div><dt>Risk score</dt><dd className="score">{d.riskScore.toFixed(2)}</dd></div>
        <div><dt>First seen</dt><dd><When iso={d.firstSeen} /></dd></div>
        <div><dt>Last seen</dt><dd><When iso={d.lastSeen} /></dd></div>
        {d.deletedAt && <div><dt>Deleted</dt><dd><When iso={d.deletedAt} /></dd></div>}
      </dl>
      {labels.length > 0 && <p className="labels">{labels.map(([k, v]) => <code key={k}>{k}={v}</code>)}</p>}
      <Section title="Risk factors"><FactorTable factors={d.riskFactors} /></Section>
      <div className="grid">
        <Section title="Images">
          {d.images.length === 0 ? <p className="muted">No image.</p> : (
            <table className="compact">
              <thead><tr><th scope="col">Image</th><th scope="col">Critical</th><th scope="col">High</th><th scope="col">Fixable</th><th scope="col">Signature</th></tr></thead>
              <tbody>
                {d.images.map((i) => (
                  <tr key={i.ref}>
                    <td>{i.digest ? <Link to={`/images/${i.digest}`}>{i.ref.split('@')[0]}@{shortDigest(i.digest)}</Link> : <><span title={i.ref}>{i.ref.includes('@') ? `${i.ref.split('@')[0]}@${shortDigest(i.ref.split('@')[1]!)}` : i.ref}</span> <span className="muted">(not scanned)</span></>}</td>
                    <td>{i.summary ? vulnCount(i.summary, 'CRITICAL') : '—'}</td>
                    <td>{i.summary ? vulnCount(i.summary, 'HIGH') : '—'}</td>
                    <td>{i.summary?.fixable ?? '—'}</td>
                    <td>{i.signature ? (i.signature.verified ? 'verified' : 'not verified') : '—'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </Section>
        <Section title="Violations">
          {d.violations.length === 0 ? <p className="muted">No open violation.</p> : (
            <table className="compact">
              <thead><tr><th scope="col">Severity</th><th scope="col">Policy</th><th scope="col">Violation</th><th scope="col">State</th></tr></thead>
              <tbody>{d.violations.map((v) => <tr key={v.id}><td><SeverityBadge severity={v.severity} /></td><td>{v.policyId}</td><td>{v.title}</td><td><StateBadge state={v.state} /></td></tr>)}</tbody>
            </table>
          )}
        </Section>
        <Section title="Runtime alerts">
          {d.alerts.length === 0 ? <p className="muted">No alert.</p> : (
            <table className="compact">
              <thead><tr><th scope="col">Time</th><th scope="col">Severity</th><th scope="col">Rule</th></tr></thead>
              <tbody>{d.alerts.map((a) => <tr key={a.id}><td><When iso={a.time} /></td><td><SeverityBadge severity={a.severity} /></td><td>{a.rule}</td></tr>)}</tbody>
            </table>
          )}
        </Section>
        <Section title="Incidents">
          <ErrorNote error={incidents.error} />
          {(incidents.data?.items.length ?? 0) === 0 ? <p className="muted">No incident involves it.</p> : (
            <table className="compact" data-testid="deployment-incidents">
              <thead><tr><th scope="col">Severity</th><th scope="col">Incident</th><th scope="col">Tactics</th><th scope="col">Last seen</th></tr></thead>
              <tbody>{incidents.data!.items.map((i) => (
                <tr key={i.id}><td><SeverityBadge severity={i.severity} /></td><td><Link to={`/incidents/${encodeURIComponent(i.id)}`} title={i.title}>{readableTitle(i.title)}</Link></td><td><Tactics incident={i} max={2} /></td><td><When iso={i.lastSeen} short /></td></tr>
              ))}</tbody>
            </table>
          )}
        </Section>
      </div>
      <DeploymentVulnerabilities id={d.id} images={d.images} />
      <DeploymentBaseline id={d.id} />
      <DeploymentNeighbours id={d.id} />
    </>
  );
}
