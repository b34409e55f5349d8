/**
 * `/compliance`: CIS Kubernetes and NIST SP 800-190 per control, from Central's report
 * (GET /api/v1/compliance/report). Framework, cluster and status filter live in the URL;
 * every control shows its status, its checks' counts and the evidence behind it. Export: CSV,
 * and the self-contained HTML report (prints to PDF), or print this page (print stylesheet).
 */
import { useMemo, useState } from 'react';
import { useSearchParams } from 'react-router';
import { api, ApiError, query } from '../api/client';
import { session } from '../api/session';
import { useApi, useLiveChanges } from '../api/hooks';
import type { Source } from '../api/types';
import { ErrorNote, Loading, When } from '../components/bits';
import '../components/compliance.css';
import { currentSearchParams } from '../api/url';

const STATUSES = ['fail', 'manual', 'pass', 'not-applicable'] as const;
type Status = (typeof STATUSES)[number];
const LABEL: Record<Status, string> = { fail: 'Fail', manual: 'Manual', pass: 'Pass', 'not-applicable': 'Not applicable' };

interface FrameworkInfo { id: string; title: string; version: string; controls: number }
interface CheckSummary { id: string; title: string; pass: number; fail: number; unknown: number; evaluated: boolean }
interface ControlResult {
  id: string; title: string; section: string; assessment: 'automated' | 'manual'; description?: string; status: Status; reason: string;
  checks: CheckSummary[]; results: { id: string; status: string; evidence: string[]; reason?: string }[];
}
interface Report { framework: { id: string; title: string; version: string }; generatedAt: string; inputs: string[]; summary: Record<Status, number>; controls: ControlResult[] }

export function Compliance() {
  const [params, setParams] = useSearchParams();
  const frameworks = useApi<{ items: FrameworkInfo[] }>('/api/v1/compliance/frameworks');
  const clusters = useApi<{ items: Source[] }>('/api/v1/clusters');
  const framework = params.get('framework') ?? frameworks.data?.items[0]?.id ?? '';
  // 'none': no cluster, the node checks only. Without a choice, the first cluster.
  const cluster = params.get('cluster') ?? clusters.data?.items[0]?.id ?? 'none';
  const clusterParam = cluster === 'none' ? undefined : cluster;
  const status = (STATUSES as readonly string[]).includes(params.get('status') ?? '') ? (params.get('status') as Status) : null;
  const reportQuery = query({ framework, cluster: clusterParam });
  const report = useApi<Report>(framework && clusters.data ? `/api/v1/compliance/report${reportQuery}` : null);
  // A report runs every check over the cluster: rebuilt on demand (Refresh) and when sources change, not on every object change.
  useLiveChanges(['sources'], report.reload);
  const [downloadError, setDownloadError] = useState<string | null>(null);

  const set = (changes: Record<string, string | null>) => {
    const next = currentSearchParams();
    for (const [k, v] of Object.entries(changes)) if (v) next.set(k, v); else next.delete(k);
    setParams(next);
  };
  const shown = useMemo(() => (report.data?.controls ?? []).filter((c) => !status || c.status === status), [report.data, status]);

  const download = async (format: 'csv' | 'html') => {
    setDownloadError(null);
    try {
      const res = await fetch(`/api/v1/compliance/report${query({ framework, cluster: clusterParam, format })}`, { headers: { authorization: `Bearer ${session.token() ?? ''}` } });
      if (!res.ok) {
        const body = (await res.json().catch(() => ({}))) as { message?: string };
        throw new ApiError(res.status, 'error', body.message ?? `HTTP ${res.status}`);
      }
      const name = /filename="([^"]+)"/.exec(res.headers.get('content-disposition') ?? '')?.[1] ?? `compliance.${format}`;
      const url = URL.createObjectURL(await res.blob());
      const a = document.createElement('a');
      a.href = url;
      a.download = name;
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (e) {
      setDownloadError(e instanceof Error ? e.message : String(e));
      // Reaching Central again is the api client's business: let it notice.
      if (e instanceof TypeError) api('GET', '/healthz').catch(() => undefined);
    }
  };

  if (!frameworks.data || !clusters.data) return frameworks.error || clusters.error ? <><h1>Compliance</h1><ErrorNote error={frameworks.error ?? clusters.error} /></> : <Loading what="frameworks" />;
  const fw = frameworks.data.items.find((f) => f.id === framework);
  const total = report.data ? STATUSES.reduce((n, s) => n + report.data!.summary[s], 0) : 0;

  return (
    <div className="compliance-page">
      <h1>Compliance{fw ? `: ${fw.title}` : ''}</h1>
      <form className="compliance-pickers" aria-label="Report" onSubmit={(e) => e.preventDefault()}>
        <label>
          <span>Framework</span>
          <select value={framework} onChange={(e) => set({ framework: e.target.value, status: null })}>
            {frameworks.data.items.map((f) => <option key={f.id} value={f.id}>{f.title} ({f.version})</option>)}
          </select>
        </label>
        <label>
          <span>Cluster</span>
          <select value={cluster} onChange={(e) => set({ cluster: e.target.value })}>
            {clusters.data.items.map((c) => <option key={c.id} value={c.id}>{c.name}</option>)}
            <option value="none">none (node checks only)</option>
          </select>
        </label>
        <div className="downloads">
          <button type="button" className="secondary" onClick={report.reload} disabled={report.loading}>Refresh</button>
          <button type="button" className="secondary" onClick={() => void download('csv')}>Download CSV</button>
          <button type="button" className="secondary" onClick={() => void download('html')}>Download report (HTML, prints to PDF)</button>
          <button type="button" className="secondary" onClick={() => window.print()}>Print / PDF</button>
        </div>
      </form>
      {downloadError && <p className="error" role="alert">Download failed: {downloadError}</p>}
      <ErrorNote error={report.error} />
      {!report.data ? (report.loading ? <Loading what="the report" /> : null) : (
        <>
          <section className="card" aria-labelledby="h-compliance-summary">
            <h2 id="h-compliance-summary">Summary</h2>
            <p className="muted small">
              {report.data.framework.title} {report.data.framework.version}, generated <When iso={report.data.generatedAt} /> · {total} controls:{' '}
              {STATUSES.map((x) => `${report.data!.summary[x]} ${LABEL[x].toLowerCase()}`).join(', ')}
            </p>
            <div className="summary-bar" role="img" aria-label={STATUSES.map((s) => `${report.data!.summary[s]} ${LABEL[s].toLowerCase()}`).join(', ')}>
              {STATUSES.map((s) => report.data!.summary[s] > 0 && <span key={s} className={`status-${s}`} style={{ width: `${(100 * report.data!.summary[s]) / Math.max(total, 1)}%` }} />)}
            </div>
            <ul className="status-filters" aria-label="Filter by status">
              <li><button type="button" className="secondary" aria-pressed={status === null} onClick={() => set({ status: null })}>All <span className="count">{total}</span></button></li>
              {STATUSES.map((s) => (
                <li key={s}>
                  <button type="button" className="secondary" aria-pressed={status === s} onClick={() => set({ status: status === s ? null : s })}>
                    <span className={`status-${s}`}>{LABEL[s]}</span> <span className="count">{report.data!.summary[s]}</span>
                  </button>
                </li>
              ))}
            </ul>
            <ul className="compliance-inputs" aria-label="Inputs">
              {report.data.inputs.length ? report.data.inputs.map((i) => <li key={i}>{i}</li>) : <li>No inputs: no cluster chosen and no node check pushed.</li>}
            </ul>
          </section>
          <section className="table-scroll" aria-label="Controls">
            <table className="compact controls-table">
              <caption className="sr-only">Controls of {report.data.framework.title}{status ? `, ${LABEL[status].toLowerCase()} only` : ''}</caption>
              <thead>
                <tr><th scope="col">Control</th><th scope="col">Title and evidence</th><th scope="col">Section</th><th scope="col">Status</th><th scope="col">Pass</th><th scope="col">Fail</th><th scope="col">Unknown</th></tr>
              </thead>
              <tbody>
                {shown.map((c) => <ControlRow key={c.id} c={c} />)}
              </tbody>
            </table>
            {shown.length === 0 && <p className="empty">No control has this status.</p>}
          </section>
        </>
      )}
    </div>
  );
}

function ControlRow({ c }: { c: ControlResult }) {
  const sum = (k: 'pass' | 'fail' | 'unknown') => c.checks.reduce((n, x) => n + x[k], 0);
  const evidence = c.results.filter((r) => r.status !== 'pass').concat(c.results.filter((r) => r.status === 'pass')).slice(0, 12);
  return (
    <tr data-control={c.id} data-status={c.status}>
      <th scope="row"><code>{c.id}</code></th>
      <td>
        <details>
          <summary>{c.title}{c.assessment === 'manual' ? <span className="muted small"> (manual)</span> : null}</summary>
          <p className="small">{c.reason}</p>
          {evidence.length > 0 && (
            <ul>
              {evidence.map((r, i) => <li key={i}><span className={`status-${r.status === 'unknown' ? 'manual' : r.status}`}>{r.status}</span> <code>{r.id}</code>: {r.reason ?? r.evidence[0] ?? ''}</li>)}
            </ul>
          )}
        </details>
      </td>
      <td>{c.section}</td>
      <td><span className={`badge status-${c.status}`}>{LABEL[c.status]}</span></td>
      <td className="num">{sum('pass')}</td>
      <td className="num">{sum('fail')}</td>
      <td className="num">{sum('unknown')}</td>
    </tr>
  );
}
