/**
 * The tags of one watched repository as Central's last hygiene audit saw them (also tags
 * Central never had pushed): age with the six-month flag, signature, and the vulnerability
 * counts of Central's last scan of the digest. Loaded when opened: a repository may have
 * thousands of tags.
 */
import { useEffect, useState } from 'react';
import { api, ApiError } from '../api/client';
import { ErrorNote, Loading, shortDigest } from './bits';

export interface WatchTag {
  repository: string; tag: string; digest?: string; created?: string; ageDays?: number;
  signed: boolean; stale: boolean; vulnerabilities?: Record<string, number>; error?: string;
}

const SEVERITIES = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW'] as const;

export function WatchTags({ watchId, target }: { watchId: string; target: string }) {
  const [tags, setTags] = useState<WatchTag[]>();
  const [error, setError] = useState<ApiError>();
  useEffect(() => {
    api<{ items: WatchTag[] }>('GET', `/api/v1/registry-watches/${encodeURIComponent(watchId)}/tags`).then(
      (r) => setTags(r.items),
      (e: unknown) => setError(e instanceof ApiError ? e : new ApiError(0, 'network', String(e))),
    );
  }, [watchId]);
  if (error) return <ErrorNote error={error} />;
  if (!tags) return <Loading what="tags" />;
  if (tags.length === 0) return <p className="muted">No tag audited yet.</p>;
  return (
    <div className="table-scroll short" tabIndex={0} role="region" aria-label={`Audited tags of ${target} (scrolls sideways on narrow windows)`}>
      <table className="compact" aria-label={`Audited tags of ${target}`}>
        <thead><tr><th scope="col">Tag</th><th scope="col">Digest</th><th scope="col">Age</th><th scope="col">Signature</th>{SEVERITIES.map((s) => <th key={s} scope="col">{s[0] + s.slice(1).toLowerCase()}</th>)}</tr></thead>
        <tbody>
          {tags.map((t) => (
            <tr key={`${t.repository}:${t.tag}`} className={t.stale ? 'row-old' : undefined} data-testid="watch-tag-row">
              <td className="nowrap">{t.repository.includes('/') && !target.endsWith(`/${t.repository}`) ? `${t.repository}:` : ''}{t.tag}</td>
              <td className="nowrap">{t.digest ? <code>{shortDigest(t.digest)}</code> : <span className="muted">—</span>}</td>
              <td>{t.error ? <span className="error">{t.error}</span> : t.ageDays === undefined ? <span className="muted">unknown</span> : <>{t.ageDays} days{t.stale && <span className="flag-old" data-testid="watch-old-flag"> · older than 6 months</span>}</>}</td>
              <td>{t.signed ? 'signed' : <span className="flag-old">unsigned</span>}</td>
              {SEVERITIES.map((s) => <td key={s}>{t.vulnerabilities ? (t.vulnerabilities[s] ?? 0) : <span className="muted" title="Central has not scanned this digest">—</span>}</td>)}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
