/**
 * `/images/:digest`: one image — vulnerabilities grouped by the layer that brought them, with
 * fixed versions; components; signature and signer; age; secrets found (where, never what).
 * `?vuln=ID` opens one vulnerability, so it can be linked.
 */
import { useState } from 'react';
import { Link, useParams, useSearchParams } from 'react-router';
import { downloadFile } from '../api/download';
import { useApi, useLiveChanges } from '../api/hooks';
import type { Finding, ImageDetail as Detail } from '../api/types';
import { age, ErrorNote, Loading, Section, SeverityBadge, StateBadge, When, shortDigest } from '../components/bits';

const str = (v: unknown): string => (typeof v === 'string' || typeof v === 'number' ? String(v) : '');

export function ImageDetail() {
  const { digest = '' } = useParams();
  const [params, setParams] = useSearchParams();
  const { data: img, error, reload } = useApi<Detail>(`/api/v1/images/${encodeURIComponent(digest)}`);
  const [sbomError, setSbomError] = useState<string | null>(null);
  useLiveChanges(['image', 'images', 'exceptions', 'policies'], (n) => { if (n.topic !== 'image' || n.subject === digest) reload(); });
  if (!img) return <><h1>Image</h1><ErrorNote error={error} />{!error && <Loading what="the image" />}</>;

  const openId = params.get('vuln');
  const open = openId ? img.vulnerabilities.find((v) => v.id === openId) : undefined;
  const layerOf = (f: Finding) => f.resource.image?.layer;
  const layers = [...new Set(img.vulnerabilities.map(layerOf))].sort((a, b) => (a ?? -1) - (b ?? -1));
  const secrets = img.findings.filter((f) => f.kind === 'secret');
  const others = img.findings.filter((f) => f.kind !== 'secret');
  const sig = img.signature;
  const sbom = (format: 'cyclonedx' | 'spdx') => {
    setSbomError(null);
    downloadFile(`/api/v1/images/${encodeURIComponent(img.digest)}/sbom?format=${format}`, `sbom.${format}.json`)
      .catch((e: unknown) => setSbomError(e instanceof Error ? e.message : String(e)));
  };

  return (
    <>
      <p className="crumbs"><Link to="/images">Images</Link> /</p>
      <h1>{img.refs[0] ?? shortDigest(img.digest)}</h1>
      <ErrorNote error={error} />
      <dl className="facts">
        <div><dt>Digest</dt><dd><code>{img.digest}</code></dd></div>
        <div><dt>OS</dt><dd>{img.os ? `${img.os.family} ${img.os.version ?? ''}` : '—'}</dd></div>
        <div><dt>Age</dt><dd>{age(img.created)} {img.created && <span className="muted">(<When iso={img.created} />)</span>}</dd></div>
        <div><dt>Signature</dt><dd data-testid="signature">{!sig ? 'not checked' : sig.verified ? `verified${sig.signers?.length ? ` — signed by ${sig.signers.join(', ')}` : ''}` : `not verified${sig.message ? ` (${sig.message})` : ''}`}</dd></div>
        <div><dt>Scanned</dt><dd><When iso={img.scannedAt} /> {img.dbVersion && <span className="muted">DB {img.dbVersion}</span>}</dd></div>
        <div><dt>Vulnerabilities</dt><dd>{img.vulnerabilities.length} ({img.summary.fixable} fixable)</dd></div>
      </dl>
      {img.refs.length > 1 && <p className="labels">{img.refs.map((r) => <code key={r}>{r}</code>)}</p>}

      {open && (
        <section className="card vuln-detail" aria-labelledby="vuln-title">
          <h2 id="vuln-title">{open.id} <SeverityBadge severity={open.severity} /></h2>
          <p>{open.title}</p>
          {open.detail && <p className="muted">{open.detail}</p>}
          <dl className="facts">
            <div><dt>Package</dt><dd>{str(open.data?.package)}</dd></div>
            <div><dt>Installed</dt><dd>{str(open.data?.installedVersion)}</dd></div>
            <div><dt>Fixed in</dt><dd data-testid="fixed-version">{str(open.data?.fixedVersion) || 'no fix yet'}</dd></div>
            <div><dt>Layer</dt><dd>{layerOf(open) ?? '—'}</dd></div>
            {open.resource.image?.path && <div><dt>Path</dt><dd><code>{open.resource.image.path}</code></dd></div>}
          </dl>
          {open.remediation && <p>{open.remediation}</p>}
          {open.references?.length ? <ul>{open.references.map((r) => <li key={r}><a href={r} rel="noreferrer noopener" target="_blank">{r}</a></li>)}</ul> : null}
          <button type="button" className="secondary" onClick={() => { params.delete('vuln'); setParams(params); }}>Close</button>
        </section>
      )}

      <Section title="Vulnerabilities by layer">
        {img.vulnerabilities.length === 0 ? <p className="muted">No known vulnerability.</p> : layers.map((layer) => {
          const inLayer = img.vulnerabilities.filter((v) => layerOf(v) === layer);
          const info = layer !== undefined ? img.layers[layer] : undefined;
          return (
            <div key={String(layer)} className="layer">
              <h3>Layer {layer ?? '?'} {info?.createdBy && <code className="created-by">{String(info.createdBy).slice(0, 120)}</code>}</h3>
              <table className="compact">
                <thead><tr><th scope="col">Vulnerability</th><th scope="col">Severity</th><th scope="col">Package</th><th scope="col">Installed</th><th scope="col">Fixed in</th></tr></thead>
                <tbody>
                  {inLayer.map((v) => (
                    <tr key={`${v.id}-${v.fingerprint ?? str(v.data?.package)}`}>
                      <td><Link to={`?vuln=${encodeURIComponent(v.id)}`} aria-current={v.id === openId ? 'true' : undefined}>{v.id}</Link></td>
                      <td><SeverityBadge severity={v.severity} /></td>
                      <td>{str(v.data?.package)}</td>
                      <td>{str(v.data?.installedVersion)}</td>
                      <td>{str(v.data?.fixedVersion) || <span className="muted">no fix</span>}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          );
        })}
      </Section>

      <div className="grid">
        <Section title="Secrets found">
          {secrets.length === 0 ? <p className="muted">No secret found.</p> : (
            <table className="compact">
              <thead><tr><th scope="col">Rule</th><th scope="col">Severity</th><th scope="col">File</th><th scope="col">Layer</th></tr></thead>
              {/* Only where a secret is: its value never leaves Central's store through the console. */}
              <tbody>{secrets.map((s) => <tr key={s.fingerprint ?? `${s.id}${s.resource.image?.path}`}><td>{s.title}</td><td><SeverityBadge severity={s.severity} /></td><td><code>{s.resource.image?.path ?? '—'}</code></td><td>{s.resource.image?.layer ?? '—'}</td></tr>)}</tbody>
            </table>
          )}
        </Section>
        <Section title="Policy violations">
          {img.violations.length === 0 ? <p className="muted">None.</p> : (
            <ul className="plain">{img.violations.map((v) => <li key={v.id}><SeverityBadge severity={v.severity} /> {v.title} <StateBadge state={v.state} /></li>)}</ul>
          )}
        </Section>
        {others.length > 0 && (
          <Section title="Other findings">
            <ul className="plain">{others.map((f) => <li key={f.fingerprint ?? f.id}><SeverityBadge severity={f.severity} /> {f.title}</li>)}</ul>
          </Section>
        )}
      </div>

      <Section title={`Components (${img.components.length})`} id="h-components">
        <p className="downloads">
          <span className="muted">SBOM:</span>{' '}
          <button type="button" className="secondary" disabled={img.components.length === 0} onClick={() => sbom('cyclonedx')}>Download CycloneDX</button>{' '}
          <button type="button" className="secondary" disabled={img.components.length === 0} onClick={() => sbom('spdx')}>Download SPDX</button>
          {img.components.length === 0 && <span className="muted"> (no SBOM pushed for this image)</span>}
        </p>
        {sbomError && <p className="error" role="alert">SBOM download failed: {sbomError}</p>}
        <div className="table-scroll short" tabIndex={0} role="region" aria-label="Components">
          <table className="compact">
            <thead><tr><th scope="col">Name</th><th scope="col">Version</th><th scope="col">Type</th><th scope="col">Package URL</th></tr></thead>
            <tbody>{img.components.map((c, i) => <tr key={`${c.purl ?? c.name}-${i}`}><td>{c.name}</td><td>{c.version ?? '—'}</td><td>{c.type ?? '—'}</td><td><code>{c.purl ?? ''}</code></td></tr>)}</tbody>
          </table>
        </div>
      </Section>
    </>
  );
}
