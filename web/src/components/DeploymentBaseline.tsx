/**
 * The deployment page's "Behavioural baseline": per container, what Central's merged baseline
 * knows (`GET /api/v1/baselines?deployment=ID`, then `GET /api/v1/baselines/{workload}` for
 * the deviations): learning with the time left, or locked; known items per channel; the
 * deviations seen since it locked. Admins lock, unlock and accept (each asks to confirm);
 * the API decides, and the card re-reads what it answered.
 */
import { useEffect, useState } from 'react';
import { api, ApiError, type Page } from '../api/client';
import { useApi, useLiveChanges } from '../api/hooks';
import { useIsAdmin } from '../api/role';
import type { BaselineDetail, BaselineSummary } from '../api/types';
import { channelName, duration } from '../api/baseline-text';
import { ErrorNote, Loading, Section, StateBadge, When } from './bits';

/** Re-renders every 30 s, so "time left" counts down. */
function useNow(): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => { const t = setInterval(() => setNow(Date.now()), 30_000); return () => clearInterval(t); }, []);
  return now;
}

function Lifecycle({ b, now }: { b: BaselineSummary; now: number }) {
  if (b.state === 'locked') return <p data-testid="baseline-state">Locked {b.lockedAt ? <>since <When iso={b.lockedAt} /></> : null}: deviations from it raise anomaly alerts.</p>;
  if (!b.learnUntil) return <p data-testid="baseline-state">Learning: the window starts with the first event a sensor sees.</p>;
  const left = Date.parse(b.learnUntil) - now;
  return (
    <p data-testid="baseline-state">
      Learning: {left > 0 ? <strong>{duration(left)} left</strong> : <strong>window over</strong>} (until <When iso={b.learnUntil} />)
      {left > 0 ? '' : '; it locks at the next sensor push'}.
    </p>
  );
}

function ContainerBaseline({ summary: b, admin, onChanged }: { summary: BaselineSummary; admin: boolean; onChanged: () => void }) {
  const now = useNow();
  const detail = useApi<BaselineDetail>(`/api/v1/baselines/${encodeURIComponent(b.workload)}`);
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState<{ ok: boolean; text: string } | null>(null);
  const channels = Object.keys(b.items);
  const deviations = detail.data?.deviations ?? [];
  const headingId = `baseline-${b.container.replace(/[^a-zA-Z0-9_-]/g, '-')}`;

  const act = async (action: 'lock' | 'unlock' | 'accept', question: string, item?: string) => {
    if (!window.confirm(question)) return;
    setBusy(true);
    try {
      const r = await api<{ state: string; changed: boolean; accepted?: string[] }>('POST', `/api/v1/baselines/${encodeURIComponent(b.workload)}/${action}`, action === 'accept' ? (item ? { item } : {}) : undefined);
      setMessage({ ok: true, text: action === 'accept' ? `Accepted ${r.accepted?.length ?? 0} item${r.accepted?.length === 1 ? '' : 's'} into the baseline.` : r.changed ? `Baseline ${r.state}.` : `It was already ${r.state}.` });
    } catch (e) {
      setMessage({ ok: false, text: e instanceof ApiError ? e.message : String(e) });
    } finally {
      setBusy(false);
      detail.reload();
      onChanged();
    }
  };

  return (
    <article className="baseline" aria-labelledby={headingId} data-workload={b.workload}>
      <h3 id={headingId}>Container {b.container} <StateBadge state={b.state} /></h3>
      <Lifecycle b={b} now={now} />
      <p className="muted small">
        {b.observations.toLocaleString()} observation{b.observations === 1 ? '' : 's'} from {b.hosts.length ? b.hosts.join(', ') : 'no host yet'}
        {detail.data?.threshold !== undefined ? `; alert threshold ${detail.data.threshold.toFixed(1)}` : ''}.
      </p>
      {admin && (
        <p className="actions">
          {b.state === 'learning'
            ? <button type="button" disabled={busy} onClick={() => void act('lock', `Lock the baseline of ${b.workload} now? Sensors start raising deviations from it.`)}>Lock now</button>
            : <button type="button" className="secondary" disabled={busy} onClick={() => void act('unlock', `Unlock the baseline of ${b.workload}? Every sensor learns again for a new window; no deviation is raised meanwhile.`)}>Unlock and learn again</button>}
        </p>
      )}
      {message && <p className={message.ok ? 'ok' : 'error'} role={message.ok ? 'status' : 'alert'}>{message.text}</p>}
      {channels.length > 0 && (
        <div className="table-scroll short" tabIndex={0} role="region" aria-label={`Known items per channel, container ${b.container}`}>
          <table className="compact channel-counts">
            <thead><tr>{channels.map((ch) => <th scope="col" key={ch} title={ch}>{channelName(ch)}</th>)}</tr></thead>
            <tbody><tr>{channels.map((ch) => <td key={ch} data-channel={ch}>{b.items[ch]}</td>)}</tr></tbody>
          </table>
        </div>
      )}
      <ErrorNote error={detail.error} />
      {b.deviations === 0 && deviations.length === 0 ? (
        <p className="muted">{b.state === 'locked' ? 'No deviation since it locked.' : 'Deviations are raised once it locks.'}</p>
      ) : !detail.data ? <Loading what="the deviations" /> : (
        <>
          <div className="table-scroll short" tabIndex={0} role="region" aria-label={`Deviations, container ${b.container}`}>
            <table className="compact deviations">
              <thead><tr><th scope="col">Item</th><th scope="col">Score</th><th scope="col">Count</th><th scope="col">Last seen</th><th scope="col">Hosts</th>{admin && <th scope="col"><span className="sr-only">Actions</span></th>}</tr></thead>
              <tbody>{deviations.map((d) => (
                <tr key={d.item} data-item={d.item}>
                  <td><span className="muted small">{channelName(d.channel)}</span><br /><code className="item" title={d.keys?.join('\n') ?? d.item}>{d.item.slice(d.channel.length + 1)}</code></td>
                  <td className="num">{d.score.toFixed(1)}</td>
                  <td className="num">{d.count}</td>
                  <td><When iso={d.lastSeen} short /></td>
                  <td className="nowrap">{d.hosts.join(', ')}</td>
                  {admin && <td><button type="button" className="small secondary" disabled={busy} aria-label={`Accept ${d.item}`}
                    onClick={() => void act('accept', `Accept "${d.item}" into the baseline of ${b.workload}? Sensors stop flagging it.`, d.item)}>Accept</button></td>}
                </tr>
              ))}</tbody>
            </table>
          </div>
          {admin && deviations.length > 1 && (
            <p className="actions"><button type="button" className="secondary" disabled={busy}
              onClick={() => void act('accept', `Accept all ${deviations.length} deviations into the baseline of ${b.workload}?`)}>Accept all {deviations.length}</button></p>
          )}
        </>
      )}
    </article>
  );
}

export function DeploymentBaseline({ id }: { id: string }) {
  const list = useApi<Page<BaselineSummary>>(`/api/v1/baselines?deployment=${encodeURIComponent(id)}&limit=100`);
  const admin = useIsAdmin();
  // 'baselines': a notice Central may send when a sensor push or an admin changes one.
  useLiveChanges(['baselines'], list.reload);
  const items = list.data?.items ?? [];
  return (
    <Section title="Behavioural baseline">
      <p className="hint">What each container normally does, learned by the sensors that see it and merged over every host. Once locked, what it never did before is a deviation (an anomaly alert).</p>
      <ErrorNote error={list.error} />
      {!list.data ? (!list.error && <Loading what="the baseline" />)
        : items.length === 0 ? <p className="muted" data-testid="no-baseline">No baseline yet: a sensor started with <code>--baseline-dir</code> and <code>--server</code> learns one when it sees this workload's containers.</p>
        : items.map((b) => <ContainerBaseline key={b.workload} summary={b} admin={admin} onChanged={list.reload} />)}
    </Section>
  );
}
