/**
 * `/policies`: every policy Central enforces (filter by subject, stage, pack, text); a
 * policy's YAML (`?id=`); an editor for a pack (a plain monospace textarea, bundled — no CDN)
 * whose "Validate and dry run" posts it to `POST /api/v1/policies/dry-run`: problems at
 * file:line, or the violations the pack would produce against the stored images and
 * deployments, told apart as new, unchanged, reopened, and those that would resolve.
 * "Save as pack" uploads it (`POST /api/v1/policies`, admins).
 */
import { useEffect, useMemo, useState } from 'react';
import { Link, useSearchParams } from 'react-router';
import { ApiError } from '../api/client';
import { useApi, useLiveChanges } from '../api/hooks';
import { dryRunPolicy, packOf, PolicyProblems, uploadPack, type DryRunResult, type PolicyItem } from '../api/policies';
import { ErrorNote, Loading, Section, SeverityBadge } from '../components/bits';
import { currentSearchParams } from '../api/url';

/** The yaml library is loaded with the page's first YAML, not with the console's first load. */
async function toYaml(doc: unknown): Promise<string> {
  const { stringify } = await import('yaml');
  return stringify(doc, { lineWidth: 0 });
}

const NEW_POLICY = `apiVersion: gatehouse.dev/v1
kind: PolicyPack
metadata:
  name: custom
subject: image
policies:
  - id: custom-critical-vulnerability
    name: Critical vulnerability
    severity: HIGH
    stages: [build]
    criteria: { field: vulnerability.severity, op: equals, value: CRITICAL }
    enforcement: [inform]
`;

export function Policies() {
  const [params, setParams] = useSearchParams();
  const { data, error, reload } = useApi<{ items: PolicyItem[] }>('/api/v1/policies');
  useLiveChanges(['policies'], reload);
  const selectedId = params.get('id');
  const subject = params.get('subject') ?? '';
  const stage = params.get('stage') ?? '';
  const text = params.get('q') ?? '';
  const set = (k: string, v: string | null) => { const next = currentSearchParams(); if (v) next.set(k, v); else next.delete(k); setParams(next, { replace: k === 'q' }); };

  const items = useMemo(() => (data?.items ?? []).filter((p) => (!subject || p.subject === subject) && (!stage || p.stages.includes(stage))
    && (!text || `${p.id} ${p.name} ${p.pack} ${p.category ?? ''}`.toLowerCase().includes(text.toLowerCase()))), [data, subject, stage, text]);
  const selected = data?.items.find((p) => p.id === selectedId);
  const subjects = [...new Set((data?.items ?? []).map((p) => p.subject))].sort();

  // A shared ?id= link: its row is scrolled into view inside the table's region once.
  const [scrolled, setScrolled] = useState(false);
  useEffect(() => {
    if (scrolled || !selectedId || !data) return;
    setScrolled(true);
    document.querySelector('tr[aria-selected="true"]')?.scrollIntoView({ block: 'nearest' });
  }, [scrolled, selectedId, data]);

  const [yamlView, setYamlView] = useState('');
  const [draft, setDraft] = useState(NEW_POLICY);
  useEffect(() => {
    if (!selected) { setYamlView(''); return; }
    let cancelled = false;
    void toYaml(packOf(selected, selected.pack.startsWith('custom') ? selected.pack : `${selected.pack}-custom`)).then((y) => { if (!cancelled) setYamlView(y); });
    return () => { cancelled = true; };
  }, [selected]);

  if (!data) return <><h1>Policies</h1><ErrorNote error={error} />{!error && <Loading what="policies" />}</>;
  return (
    <>
      <h1>Policies</h1>
      <ErrorNote error={error} />
      <div className="filters" role="search">
        <label>Subject <select value={subject} onChange={(e) => set('subject', e.target.value || null)}><option value="">all</option>{subjects.map((s) => <option key={s}>{s}</option>)}</select></label>
        <label>Stage <select value={stage} onChange={(e) => set('stage', e.target.value || null)}><option value="">all</option>{['build', 'deploy', 'runtime'].map((s) => <option key={s}>{s}</option>)}</select></label>
        <label>Search <input type="search" value={text} placeholder="id, name, pack" onChange={(e) => set('q', e.target.value || null)} /></label>
        <span className="muted" data-testid="policy-count">{items.length} of {data.items.length}</span>
      </div>
      <div className="table-scroll" tabIndex={0} role="region" aria-label="Policies">
        <table className="compact">
          <thead><tr><th scope="col">Policy</th><th scope="col">Name</th><th scope="col">Subject</th><th scope="col">Stages</th><th scope="col">Severity</th><th scope="col">Enforcement</th><th scope="col">Enabled</th><th scope="col">Pack</th></tr></thead>
          <tbody>
            {items.map((p) => (
              <tr key={p.id} aria-selected={p.id === selectedId ? 'true' : undefined} data-testid="policy-row">
                <td><Link to={`?${new URLSearchParams({ ...Object.fromEntries(params), id: p.id }).toString()}`}>{p.id}</Link></td>
                <td className="text-col">{p.name}</td>
                <td>{p.subject}</td>
                <td className="nowrap">{p.stages.join(', ')}</td>
                <td><SeverityBadge severity={p.severity} /></td>
                <td className="nowrap">{p.enforcement.join(', ') || <span className="muted">none</span>}</td>
                <td>{p.enabled ? 'yes' : <span className="muted">no</span>}</td>
                <td className="nowrap">{p.pack}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>

      <div className="policy-layout">
        <Section title={selected ? `Policy ${selected.id}` : 'Policy'} id="h-policy">
          {!selected ? <p className="muted">Pick a policy above to see its YAML.</p> : (
            <>
              <p>{selected.description}</p>
              {selected.origin && <p className="hint">Defined in {selected.origin.file.split('/').pop()}:{selected.origin.line} (pack {selected.pack})</p>}
              <pre className="yaml" data-testid="policy-yaml" tabIndex={0} aria-label={`YAML of ${selected.id}`}>{yamlView || '…'}</pre>
              <div className="actions">
                <button type="button" className="secondary" disabled={!yamlView} onClick={() => setDraft(yamlView)}>Edit a copy</button>
              </div>
            </>
          )}
        </Section>
        <PolicyEditor draft={draft} setDraft={setDraft} onSaved={reload} />
      </div>
    </>
  );
}

function PolicyEditor({ draft, setDraft, onSaved }: { draft: string; setDraft: (s: string) => void; onSaved: () => void }) {
  const [result, setResult] = useState<DryRunResult>();
  const [problems, setProblems] = useState<string[]>([]);
  const [error, setError] = useState<ApiError>();
  const [busy, setBusy] = useState(false);
  const [pack, setPack] = useState('custom');
  const [saved, setSaved] = useState<string>();

  const run = async () => {
    setBusy(true); setError(undefined); setProblems([]); setResult(undefined); setSaved(undefined);
    try {
      setResult(await dryRunPolicy(draft, pack || undefined));
    } catch (e) {
      if (e instanceof PolicyProblems) setProblems(e.problems);
      else setError(e instanceof ApiError ? e : new ApiError(0, 'error', String(e)));
    } finally {
      setBusy(false);
    }
  };
  const save = async () => {
    setBusy(true); setError(undefined); setSaved(undefined);
    try {
      const r = await uploadPack(pack, draft);
      setSaved(`Saved pack ${r.pack}: ${r.policies.join(', ')}`);
      onSaved();
    } catch (e) {
      setError(e instanceof ApiError ? e : new ApiError(0, 'error', String(e)));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Section title="Edit and dry run" id="h-editor">
      <label htmlFor="policy-editor" className="hint">Policy pack YAML (fields: <code>gatehouse policy fields</code>)</label>
      <textarea id="policy-editor" className="yaml-editor" spellCheck={false} value={draft} onChange={(e) => setDraft(e.target.value)} />
      <div className="actions">
        <button type="button" disabled={busy} onClick={() => void run()}>Validate and dry run</button>
        <label>Pack name <input value={pack} onChange={(e) => setPack(e.target.value)} size={16} pattern="[a-z0-9][a-z0-9._\-]{0,62}" /></label>
        <button type="button" className="secondary" disabled={busy || !pack} onClick={() => void save()}>Save as pack</button>
      </div>
      {busy && <p className="muted" role="status">Working…</p>}
      <ErrorNote error={error} />
      {saved && <p className="ok" role="status">{saved}</p>}
      {problems.length > 0 && (
        <div role="alert" data-testid="policy-problems">
          <p className="error">The pack is not valid ({problems.length} problem{problems.length === 1 ? '' : 's'}):</p>
          <ul className="errors-list">{problems.map((p) => <li key={p}><code>{p}</code></li>)}</ul>
        </div>
      )}
      {result && <DryRun result={result} />}
    </Section>
  );
}

function DryRun({ result }: { result: DryRunResult }) {
  const skipped = result.policies.filter((p) => !p.evaluated);
  return (
    <div data-testid="dry-run">
      <p className="ok" role="status">Valid. Against {result.evaluated.images} stored images and {result.evaluated.deployments} deployments, it would produce <strong data-testid="dry-run-total">{result.total}</strong> violation{result.total === 1 ? '' : 's'}.</p>
      <dl className="stats">
        <div><dt>New</dt><dd data-testid="dry-run-new">{result.changes.new}</dd></div>
        <div><dt>Unchanged</dt><dd data-testid="dry-run-unchanged">{result.changes.unchanged}</dd></div>
        <div><dt>Reopened</dt><dd>{result.changes.reopened}</dd></div>
        <div><dt>Would resolve</dt><dd data-testid="dry-run-resolved">{result.changes.resolved}</dd></div>
      </dl>
      {skipped.length > 0 && <ul className="plain hint">{skipped.map((p) => <li key={p.id}>{p.id}: not evaluated — {p.reason}</li>)}</ul>}
      {result.violations.length > 0 && (
        <div className="table-scroll short" tabIndex={0} role="region" aria-label="Violations it would produce">
          <table className="compact">
            <thead><tr><th scope="col">Change</th><th scope="col">Policy</th><th scope="col">Severity</th><th scope="col">Subject</th><th scope="col">Title</th><th scope="col">State</th></tr></thead>
            <tbody>{result.violations.map((v) => <tr key={v.id}><td>{v.change}</td><td>{v.policyId}</td><td><SeverityBadge severity={v.severity} /></td><td>{v.subjectKind === 'image' ? <Link to={`/images/${v.subjectKey}`}>{v.subject}</Link> : <Link to={`/deployments/${encodeURIComponent(v.subjectKey)}`}>{v.subject}</Link>}</td><td>{v.title}</td><td>{v.state}</td></tr>)}</tbody>
          </table>
        </div>
      )}
      {result.resolved.length > 0 && (
        <>
          <h3>Would resolve</h3>
          <ul className="plain">{result.resolved.map((v) => <li key={v.id}><SeverityBadge severity={v.severity} /> {v.policyId} on {v.subject}</li>)}</ul>
        </>
      )}
      {result.truncated && <p className="hint">The first {result.limit} of each list are shown.</p>}
    </div>
  );
}
