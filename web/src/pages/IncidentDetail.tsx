/**
 * `/incidents/:id`: one correlated incident — its timeline across hosts and layers (API,
 * runtime, network, admission), ATT&CK tactics and techniques, the response actions Central
 * took on its alerts (GET /api/v1/response-actions?incident=) and the admission and
 * engine-proxy refusals in its timeline, and its evidence bundles. Re-read live.
 */
import { useState } from 'react';
import { Link, useParams } from 'react-router';
import { ApiError, query } from '../api/client';
import { downloadFile } from '../api/download';
import { useApi, useLiveChanges } from '../api/hooks';
import type { Incident, IncidentTimelineEntry, ResponseAction } from '../api/types';
import { ErrorNote, Loading, Section, SeverityBadge, StateBadge, When } from '../components/bits';
import { LAYER_NAMES, readableTitle, WorkloadLink } from '../components/incidents';

/** attack.mitre.org's page of a technique (sub-techniques as T1059/004). */
const techniqueUrl = (id: string) => `https://attack.mitre.org/techniques/${id.replace('.', '/')}/`;
const tacticUrl = (id: string) => `https://attack.mitre.org/tactics/${id}/`;

export function IncidentDetail() {
  const { id = '' } = useParams();
  const { data: inc, error, reload } = useApi<Incident>(`/api/v1/incidents/${encodeURIComponent(id)}`);
  useLiveChanges(['alerts', 'events', 'incidents'], reload);
  const actions = useApi<{ items: ResponseAction[] }>(`/api/v1/response-actions?incident=${encodeURIComponent(id)}`);
  useLiveChanges(['response-actions'], actions.reload);
  if (!inc) return <><p className="crumbs"><Link to="/incidents">Incidents</Link> /</p><h1>Incident</h1><ErrorNote error={error} />{!error && <Loading what="the incident" />}</>;
  const names = new Map(inc.techniques.map((t) => [t.id, t.name]));
  const responses = inc.timeline.filter((e) => e.kind === 'denial');
  return (
    <>
      <p className="crumbs"><Link to="/incidents">Incidents</Link> /</p>
      <h1 title={inc.title}>{readableTitle(inc.title)}</h1>
      <ErrorNote error={error} />
      <dl className="facts">
        <div><dt>Severity</dt><dd><SeverityBadge severity={inc.severity} /></dd></div>
        <div><dt>State</dt><dd><StateBadge state={inc.state} />{inc.closedAt && <> <span className="small muted">closed <When iso={inc.closedAt} short /></span></>}</dd></div>
        <div><dt>Stage reached</dt><dd data-testid="stage">{inc.stage || '—'}</dd></div>
        <div><dt>First seen</dt><dd><When iso={inc.firstSeen} /></dd></div>
        <div><dt>Last seen</dt><dd><When iso={inc.lastSeen} /></dd></div>
        <div><dt>Signals</dt><dd>{inc.signals}</dd></div>
        <div><dt>Layers</dt><dd>{inc.layers.map((l) => LAYER_NAMES[l] ?? l).join(', ') || '—'}</dd></div>
        <div><dt>Id</dt><dd><code>{inc.id}</code></dd></div>
      </dl>
      <Section title="Timeline">
        <Timeline entries={inc.timeline} names={names} />
        {inc.timelineDropped > 0 && <p className="hint">{inc.timelineDropped} later entries are not kept (the timeline is capped).</p>}
      </Section>
      <div className="grid">
        <Section title="MITRE ATT&CK">
          <h3>Tactics</h3>
          {inc.tactics.length === 0 ? <p className="muted">No tactic mapped.</p> : (
            <ol className="kill-chain" aria-label="Tactics in kill-chain order">
              {inc.tactics.map((t) => <li key={t.id}><a href={tacticUrl(t.id)} rel="noreferrer" target="_blank">{t.name}</a> <span className="muted small">{t.id}</span></li>)}
            </ol>
          )}
          <h3>Techniques</h3>
          {inc.techniques.length === 0 ? <p className="muted">No technique mapped.</p> : (
            <table className="compact">
              <thead><tr><th scope="col">Id</th><th scope="col">Technique</th><th scope="col">Entries</th></tr></thead>
              <tbody>
                {inc.techniques.map((t) => (
                  <tr key={t.id}>
                    <td className="nowrap"><a href={techniqueUrl(t.id)} rel="noreferrer" target="_blank">{t.id}</a></td>
                    <td>{t.name}</td>
                    <td>{inc.timeline.filter((e) => e.techniques.includes(t.id)).length || <span className="muted small">the correlation (a link between entries)</span>}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </Section>
        <Section title="Involved">
          <h3>Hosts</h3>
          {inc.hosts.length === 0 ? <p className="muted">None named.</p> : <ul className="plain" data-testid="hosts">{inc.hosts.map((h) => <li key={h}><Link to={`/incidents${query({ host: h })}`} title={`Incidents on ${h}`}>{h}</Link></li>)}</ul>}
          <h3>Workloads</h3>
          {inc.workloads.length === 0 ? <p className="muted">None named.</p> : <ul className="plain" data-testid="workloads">{inc.workloads.map((w) => <li key={w}><WorkloadLink id={w} /></li>)}</ul>}
        </Section>
        <Section title="Response actions">
          <ActionsTaken actions={actions.data?.items ?? []} />
          <ErrorNote error={actions.error} />
          <h3>Refusals</h3>
          {responses.length === 0 ? <p className="muted" data-testid="no-response">No admission or engine-proxy refusal in this incident.</p> : (
            <table className="compact">
              <thead><tr><th scope="col">Time</th><th scope="col">Action</th><th scope="col">By</th></tr></thead>
              <tbody>{responses.map((e) => <tr key={e.ref + e.time}><td><When iso={e.time} short /></td><td>Refused: {readableTitle(e.title)}</td><td>{LAYER_NAMES[e.layer] ?? e.layer}{e.host ? ` on ${e.host}` : ''}</td></tr>)}</tbody>
            </table>
          )}
          <Evidence incident={inc} />
        </Section>
      </div>
    </>
  );
}

/** What Central's response engine did on the incident's alerts (GET /api/v1/response-actions?incident=). */
function ActionsTaken({ actions }: { actions: ResponseAction[] }) {
  if (actions.length === 0) return <p className="muted" data-testid="no-actions">No response action taken for this incident.</p>;
  const target = (a: ResponseAction) => (a.target.type === 'kube' ? `${a.target.kind.toLowerCase()} ${a.target.namespace ? `${a.target.namespace}/` : ''}${a.target.name}` : `container ${a.target.container}`);
  return (
    <table className="compact" data-testid="actions">
      <thead><tr><th scope="col">Time</th><th scope="col">Action</th><th scope="col">Target</th><th scope="col">Outcome</th><th scope="col">Policies</th></tr></thead>
      <tbody>
        {actions.map((a) => (
          <tr key={a.id}>
            <td className="nowrap"><When iso={a.time} short /></td>
            <td>{a.action}{a.dryRun ? ' (dry run)' : ''}</td>
            <td>{target(a)}{a.cluster ? <span className="muted small"> in {a.cluster}</span> : null}</td>
            <td title={a.detail}>{a.outcome}</td>
            <td className="small">{(a.trigger.policies ?? []).join(', ') || a.trigger.by}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Timeline({ entries, names }: { entries: IncidentTimelineEntry[]; names: Map<string, string> }) {
  if (entries.length === 0) return <p className="muted">No entry.</p>;
  const hosts = [...new Set(entries.map((e) => e.host).filter((h): h is string => !!h))];
  return (
    <ol className="timeline" aria-label="Correlated entries, oldest first">
      {entries.map((e, i) => (
        <li key={`${e.ref}-${i}`} className={`tl-entry layer-${e.layer}`} data-layer={e.layer} data-kind={e.kind}>
          <div className="tl-when"><When iso={e.time} /></div>
          <div className="tl-body">
            <div className="tl-head">
              <span className={`layer-tag layer-${e.layer}`}>{LAYER_NAMES[e.layer] ?? e.layer}</span>
              <SeverityBadge severity={e.severity} />
              <strong className="tl-title" title={e.title}>{readableTitle(e.title)}</strong>
            </div>
            <div className="tl-meta small">
              {e.host && <span className={`host-tag h${hosts.indexOf(e.host) % 4}`}>host {e.host}</span>}
              {e.workload && <span><WorkloadLink id={e.workload} /></span>}
              <span className="muted">{e.kind} · {readableTitle(e.reason)}</span>
              {e.techniques.map((t) => <a key={t} href={techniqueUrl(t)} rel="noreferrer" target="_blank" title={names.get(t) ?? t}>{t}{names.get(t) ? ` ${names.get(t)}` : ''}</a>)}
            </div>
          </div>
        </li>
      ))}
    </ol>
  );
}

function Evidence({ incident }: { incident: Incident }) {
  const [error, setError] = useState<ApiError>();
  const [saved, setSaved] = useState<string>();
  const bundles = incident.evidence ?? [];
  return (
    <>
      <h3>Evidence</h3>
      {bundles.length === 0 ? <p className="muted" data-testid="no-evidence">No evidence bundle captured for this incident.</p> : (
        <ul className="plain">
          {bundles.map((b) => (
            <li key={b.id}>
              <button type="button" className="small" onClick={() => downloadFile(b.path, `${b.id}.tar.gz`).then(setSaved, (e: unknown) => setError(e as ApiError))}>
                Download evidence {b.id}
              </button>
              {b.container && <span className="muted small"> container {b.container}</span>}
              {b.createdAt && <span className="muted small"> <When iso={b.createdAt} short /></span>}
            </li>
          ))}
        </ul>
      )}
      {saved && <p className="hint" role="status">Saved {saved}.</p>}
      <ErrorNote error={error} />
    </>
  );
}
