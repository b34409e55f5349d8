/**
 * The deployment page's "Vulnerabilities": every CVE of the images it runs, one row per CVE and
 * package listing the images carrying it (`GET /api/v1/deployments/{id}/vulnerabilities`).
 * The severity and "fixable only" filters are the API's, kept in the URL so a link shares them.
 */
import { Link, useSearchParams } from 'react-router';
import { query, type Page } from '../api/client';
import { useApi, useLiveChanges } from '../api/hooks';
import { SEVERITIES, type DeploymentVulnerability } from '../api/types';
import { ErrorNote, Loading, Section, SeverityBadge, shortDigest } from './bits';
import { currentSearchParams } from '../api/url';

const LIMIT = 1000;

export function DeploymentVulnerabilities({ id, images }: { id: string; images: { ref: string; digest: string | null }[] }) {
  const [params, setParams] = useSearchParams();
  const severity = params.get('vulnSeverity') ?? '';
  const fixable = params.get('fixable') === 'true';
  const set = (name: string, value: string | null) => {
    const next = currentSearchParams();
    if (value) next.set(name, value); else next.delete(name);
    setParams(next, { replace: true });
  };
  const { data, error, reload } = useApi<Page<DeploymentVulnerability>>(
    `/api/v1/deployments/${encodeURIComponent(id)}/vulnerabilities${query({ severity, fixable: fixable ? 'true' : null, limit: LIMIT })}`,
  );
  useLiveChanges(['image', 'images', 'objects'], reload);
  const nameOf = (digest: string) => images.find((i) => i.digest === digest)?.ref.split('@')[0] ?? digest;
  return (
    <Section title="Vulnerabilities">
      <div className="filters" role="group" aria-label="Vulnerability filters">
        <label>Severity <select value={severity} onChange={(e) => set('vulnSeverity', e.target.value || null)}>
          <option value="">all</option>{SEVERITIES.map((s) => <option key={s}>{s}</option>)}
        </select></label>
        <label className="check"><input type="checkbox" checked={fixable} onChange={(e) => set('fixable', e.target.checked ? 'true' : null)} /> Fixable only</label>
      </div>
      <ErrorNote error={error} />
      {!data ? (!error && <Loading what="the vulnerabilities" />) : data.items.length === 0 ? <p className="muted">No known vulnerability{severity || fixable ? ' matches' : ''}.</p> : (
        <>
          <p className="hint">{data.items.length}{data.nextCursor ? `+ (the first ${LIMIT} shown)` : ''} across {new Set(data.items.flatMap((v) => v.images)).size} image(s).</p>
          <table className="compact" data-testid="deployment-vulnerabilities">
            <thead><tr><th scope="col">Vulnerability</th><th scope="col">Severity</th><th scope="col">Package</th><th scope="col">Installed</th><th scope="col">Fixed in</th><th scope="col">Images</th></tr></thead>
            <tbody>
              {data.items.map((v) => (
                <tr key={`${v.id}-${v.package}-${v.version}`} data-id={v.id}>
                  <td>{v.id}</td>
                  <td><SeverityBadge severity={v.severity} /></td>
                  <td>{v.package}</td>
                  <td>{v.version}</td>
                  <td>{v.fixedVersion || <span className="muted">no fix</span>}</td>
                  <td>{v.images.map((d, i) => <span key={d}>{i > 0 && ', '}<Link to={`/images/${d}?vuln=${encodeURIComponent(v.id)}`} title={d}>{nameOf(d)}@{shortDigest(d)}</Link></span>)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </Section>
  );
}
