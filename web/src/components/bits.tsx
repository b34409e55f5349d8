/** Small shared pieces: severity and state badges, dates, loading and error states. */
import type { ReactNode } from 'react';
import type { ApiError } from '../api/client';
import type { Severity } from '../api/types';

export function SeverityBadge({ severity }: { severity: Severity | string }) {
  return <span className={`badge sev-${severity.toLowerCase()}`}>{severity}</span>;
}

export function StateBadge({ state }: { state: string }) {
  return <span className={`badge state-${state}`} data-state={state}>{state}</span>;
}

export function When({ iso, short }: { iso: string | null | undefined; short?: boolean }) {
  if (!iso) return <span className="muted">—</span>;
  const d = new Date(iso);
  return <time dateTime={iso} title={d.toISOString()}>{d.toLocaleString(undefined, { dateStyle: short ? 'short' : 'medium', timeStyle: 'short' })}</time>;
}

/** "3 days", "5 months": how long ago `iso` was. */
export function age(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return '—';
  const days = Math.floor((now - Date.parse(iso)) / 86_400_000);
  if (days < 1) return 'today';
  if (days < 60) return `${days} day${days === 1 ? '' : 's'}`;
  if (days < 730) return `${Math.floor(days / 30)} months`;
  return `${Math.floor(days / 365)} years`;
}

export const shortDigest = (d: string) => d.replace(/^sha256:/, '').slice(0, 12);

export function Loading({ what }: { what: string }) {
  return <p className="muted" role="status">Loading {what}…</p>;
}

export function ErrorNote({ error }: { error: ApiError | undefined }) {
  if (!error) return null;
  return <p className="error" role="alert">{error.message}</p>;
}

export function Section({ title, children, id }: { title: string; children: ReactNode; id?: string }) {
  return (
    <section className="card" aria-labelledby={id ?? slug(title)}>
      <h2 id={id ?? slug(title)}>{title}</h2>
      {children}
    </section>
  );
}

const slug = (s: string) => `h-${s.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`;
