/** `/settings`: the clusters and hosts Central watches (admins add and remove them), and API tokens (admins only). */
import { useState, type FormEvent } from 'react';
import { api, ApiError } from '../api/client';
import { useApi, useLiveChanges } from '../api/hooks';
import type { Source, SummaryCounts, TokenInfo } from '../api/types';
import { ErrorNote, Loading, Section, StateBadge, When } from '../components/bits';
import { useWhoami } from '../api/role';

const ROLES = ['admin', 'analyst', 'ci', 'sensor', 'admission'];

/** The vulnerability DB Central matches with (GET /api/v1/summary's vulnDb): version, age, sources; how to get one when there is none. */
function VulnDbStatus() {
  const { data, error, reload } = useApi<SummaryCounts>('/api/v1/summary');
  useLiveChanges(['db'], reload);
  if (!data) return error ? <ErrorNote error={error} /> : <Loading what="the vulnerability DB status" />;
  const db = data.vulnDb;
  if (!db.present) {
    return <p className="muted">{db.error ?? 'No vulnerability DB yet'}: <code>gatehouse db update</code> (or <code>db import</code> / <code>db pull</code> when air-gapped) on Central's machine; Central picks it up by itself.</p>;
  }
  return (
    <>
      <dl className="facts">
        <div><dt>Version</dt><dd><code>{db.version ?? '—'}</code></dd></div>
        <div><dt>Updated</dt><dd><When iso={db.updatedAt} /></dd></div>
        <div><dt>Advisories</dt><dd>{db.advisories?.toLocaleString() ?? '—'}</dd></div>
        <div><dt>Images matched</dt><dd>{db.imagesCurrent} current, {db.imagesStale} behind</dd></div>
      </dl>
      {db.error && <p className="error" role="alert">{db.error}</p>}
      {db.sources.length > 0 && (
        <table className="compact">
          <thead><tr><th scope="col">Source</th><th scope="col">Advisories</th><th scope="col">Updated</th></tr></thead>
          <tbody>{db.sources.map((src) => <tr key={src.name}><td>{src.name}</td><td>{src.advisories.toLocaleString()}</td><td><When iso={src.updatedAt} short /></td></tr>)}</tbody>
        </table>
      )}
    </>
  );
}

/** Clusters or hosts: the list, and for admins an add form and a remove button per row. */
function Sources({ kind }: { kind: 'clusters' | 'hosts' }) {
  const { data, error, reload } = useApi<{ items: Source[] }>(`/api/v1/${kind}`);
  const [formError, setFormError] = useState<string | null>(null);
  const [draft, setDraft] = useState({ name: '', endpoint: '', kubeconfig: '', context: '' });
  useLiveChanges(['sources'], reload);
  if (!data) return error ? <ErrorNote error={error} /> : <Loading what={kind} />;
  const noun = kind === 'clusters' ? 'cluster' : 'host';

  const add = async (e: FormEvent) => {
    e.preventDefault();
    const body = kind === 'hosts'
      ? { name: draft.name.trim(), endpoint: draft.endpoint.trim() }
      : { name: draft.name.trim(), kubeconfig: draft.kubeconfig, ...(draft.context.trim() ? { context: draft.context.trim() } : {}) };
    try {
      await api('POST', `/api/v1/${kind}`, body);
      setDraft({ name: '', endpoint: '', kubeconfig: '', context: '' });
      setFormError(null);
      reload();
    } catch (err) {
      setFormError(err instanceof ApiError ? err.message : String(err));
    }
  };
  const remove = async (src: Source) => {
    if (!window.confirm(`Stop watching the ${noun} "${src.name}" and forget what was seen on it?`)) return;
    try { await api('DELETE', `/api/v1/${kind}/${encodeURIComponent(src.id)}`); reload(); } catch (err) { setFormError(err instanceof ApiError ? err.message : String(err)); }
  };

  return (
    <>
      {data.items.length === 0 ? <p className="muted">None yet.</p> : (
        <table className="compact">
          <thead><tr><th scope="col">Name</th><th scope="col">State</th><th scope="col">Deployments</th><th scope="col">Last seen</th><th scope="col">Message</th><th scope="col"><span className="sr-only">Actions</span></th></tr></thead>
          <tbody>{data.items.map((s) => (
            <tr key={s.id}>
              <td>{s.name}</td><td><StateBadge state={s.state} /></td><td>{s.deployments}</td><td><When iso={s.lastSeen} short /></td><td>{s.message ?? ''}</td>
              <td><button type="button" className="small secondary" onClick={() => void remove(s)} aria-label={`Remove ${noun} ${s.name}`}>Remove</button></td>
            </tr>
          ))}</tbody>
        </table>
      )}
      <details className="add-source">
        <summary>Add a {noun}</summary>
        <form className="stack" onSubmit={add} aria-label={`Add a ${noun}`}>
          <label htmlFor={`${kind}-name`}>Name</label>
          <input id={`${kind}-name`} required value={draft.name} onChange={(e) => setDraft({ ...draft, name: e.target.value })} />
          {kind === 'hosts' ? (
            <>
              <label htmlFor="hosts-endpoint">Engine endpoint</label>
              <input id="hosts-endpoint" required placeholder="unix:///run/podman/podman.sock" value={draft.endpoint} onChange={(e) => setDraft({ ...draft, endpoint: e.target.value })} />
            </>
          ) : (
            <>
              <label htmlFor="clusters-kubeconfig">Kubeconfig (its content; sealed in Central's store, never shown again)</label>
              <textarea id="clusters-kubeconfig" required rows={6} spellCheck={false} value={draft.kubeconfig} onChange={(e) => setDraft({ ...draft, kubeconfig: e.target.value })} />
              <label htmlFor="clusters-context">Context (optional)</label>
              <input id="clusters-context" value={draft.context} onChange={(e) => setDraft({ ...draft, context: e.target.value })} />
            </>
          )}
          <div className="actions"><button type="submit">Add {noun}</button></div>
        </form>
      </details>
      {formError && <p className="error" role="alert">{formError}</p>}
    </>
  );
}

function Tokens() {
  const { data, error, reload } = useApi<{ items: TokenInfo[] }>('/api/v1/tokens');
  const [name, setName] = useState('');
  const [role, setRole] = useState('analyst');
  const [expires, setExpires] = useState('');
  const [created, setCreated] = useState<{ name: string; token: string } | null>(null);
  const [formError, setFormError] = useState<string | null>(null);
  if (error?.status === 403) return <p className="muted">Only admins see and manage API tokens.</p>;
  if (!data) return error ? <ErrorNote error={error} /> : <Loading what="tokens" />;

  const create = async (e: FormEvent) => {
    e.preventDefault();
    try {
      const body = { name: name.trim(), role, ...(expires ? { expires: new Date(`${expires}T23:59:59Z`).toISOString() } : {}) };
      const res = await api<{ token: string; name: string }>('POST', '/api/v1/tokens', body);
      setCreated({ name: res.name, token: res.token });
      setName('');
      setFormError(null);
      reload();
    } catch (err) {
      setFormError(err instanceof ApiError ? err.message : String(err));
    }
  };
  const revoke = async (t: TokenInfo) => {
    if (!window.confirm(`Revoke the token "${t.name}"? Whatever uses it stops working.`)) return;
    try { await api('DELETE', `/api/v1/tokens/${encodeURIComponent(t.id)}`); reload(); } catch (err) { setFormError(err instanceof ApiError ? err.message : String(err)); }
  };

  return (
    <>
      <table className="compact">
        <thead><tr><th scope="col">Name</th><th scope="col">Role</th><th scope="col">Created</th><th scope="col">Expires</th><th scope="col">Last used</th><th scope="col">State</th><th scope="col"><span className="sr-only">Actions</span></th></tr></thead>
        <tbody>
          {data.items.map((t) => (
            <tr key={t.id}>
              <td>{t.name}</td><td>{t.role}</td><td><When iso={t.createdAt} /></td><td><When iso={t.expiresAt} /></td><td><When iso={t.lastUsedAt} /></td>
              <td>{t.revokedAt ? <StateBadge state="revoked" /> : t.expiresAt && t.expiresAt < new Date().toISOString() ? <StateBadge state="expired" /> : <StateBadge state="valid" />}</td>
              <td>{!t.revokedAt && <button type="button" className="small secondary" onClick={() => void revoke(t)} aria-label={`Revoke token ${t.name}`}>Revoke</button>}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <form className="filters" onSubmit={create} aria-label="Create an API token">
        <label><span>Name</span><input required maxLength={200} value={name} onChange={(e) => setName(e.target.value)} /></label>
        <label><span>Role</span><select value={role} onChange={(e) => setRole(e.target.value)}>{ROLES.map((r) => <option key={r}>{r}</option>)}</select></label>
        <label><span>Expires (optional)</span><input type="date" value={expires} onChange={(e) => setExpires(e.target.value)} /></label>
        <button type="submit">Create token</button>
      </form>
      {formError && <p className="error" role="alert">{formError}</p>}
      {created && (
        <div className="notice" role="status">
          <p>Token <strong>{created.name}</strong> — copy it now, it is not shown again:</p>
          <code className="secret-once">{created.token}</code>
          <button type="button" className="small secondary" onClick={() => setCreated(null)}>Done</button>
        </div>
      )}
    </>
  );
}

/** Which token this session uses (`GET /api/v1/whoami`): its name, role and expiry. */
function SignedInAs() {
  const me = useWhoami();
  if (!me) return null;
  return (
    <p className="hint" data-testid="whoami">
      Signed in with the token <strong>{me.name}</strong> (role <strong>{me.role}</strong>), {me.expiresAt ? <>which expires <When iso={me.expiresAt} /></> : 'which does not expire'}.
    </p>
  );
}

export function Settings() {
  return (
    <>
      <h1>Settings</h1>
      <SignedInAs />
      <div className="grid">
        <Section title="Clusters"><Sources kind="clusters" /></Section>
        <Section title="Hosts"><Sources kind="hosts" /></Section>
      </div>
      <Section title="API tokens"><Tokens /></Section>
      <Section title="Vulnerability DB"><VulnDbStatus /></Section>
    </>
  );
}
