/**
 * `/registries`: the hygiene of each repository and tag Central knows — from the images API
 * (every reference an image was pushed or seen under: age, signature, vulnerability counts)
 * and the registry-watches API (repositories the hygiene job audits: last run, tags, error).
 * Tags older than six months are flagged. `?flagged=1` keeps only tags with a problem.
 */
import { useCallback, useEffect, useMemo, useState } from 'react';
import { Link, useSearchParams } from 'react-router';
import { api, ApiError } from '../api/client';
import { collect } from '../api/collect';
import { useLiveChanges } from '../api/hooks';
import { vulnCount, type Image } from '../api/types';
import { ErrorNote, Loading, Section, When, age, shortDigest } from '../components/bits';
import { WatchTags } from '../components/WatchTags';
import { currentSearchParams } from '../api/url';

interface Watch { id: string; registry: string; repository: string; target: string; createdAt: string; lastRunAt?: string | null; lastError?: string | null; tags?: number | null }

/** Six months, in days: older tags are flagged. */
const OLD_DAYS = 182;

export interface TagRow {
  registry: string; repository: string; tag: string; ref: string; image: Image;
  ageDays: number | null; old: boolean; signed: 'verified' | 'not verified' | 'not checked';
}

/** REGISTRY/REPOSITORY[:TAG][@DIGEST] read the way image references are (Docker Hub when the first part is no host). */
export function splitRef(ref: string): { registry: string; repository: string; tag: string } {
  if (/^(oci|oci-archive|docker-archive|dir):/.test(ref)) {
    // A local layout or archive: the path is the "repository", the tag after its last colon.
    const m = /^([a-z-]+):(.*?)(?::([^:/]+))?$/.exec(ref)!;
    return { registry: `(${m[1]})`, repository: m[2]!, tag: m[3] ?? 'latest' };
  }
  const noDigest = ref.split('@')[0]!;
  const slash = noDigest.indexOf('/');
  const first = slash < 0 ? '' : noDigest.slice(0, slash);
  const isHost = first !== '' && (first.includes('.') || first.includes(':') || first === 'localhost');
  const rest = isHost ? noDigest.slice(slash + 1) : noDigest;
  const colon = rest.lastIndexOf(':');
  let repository = colon > 0 ? rest.slice(0, colon) : rest;
  const tag = colon > 0 ? rest.slice(colon + 1) : ref.includes('@') ? `@${shortDigest(ref.split('@')[1]!)}` : 'latest';
  const registry = isHost ? first : 'docker.io';
  if (registry === 'docker.io' && !repository.includes('/')) repository = `library/${repository}`;
  return { registry, repository, tag };
}

export function tagRows(images: Image[], now = Date.now()): TagRow[] {
  const rows: TagRow[] = [];
  for (const image of images) {
    for (const ref of image.refs) {
      const { registry, repository, tag } = splitRef(ref);
      const ageDays = image.created ? Math.floor((now - Date.parse(image.created)) / 86_400_000) : null;
      const sig = image.signature;
      rows.push({ registry, repository, tag, ref, image, ageDays, old: ageDays !== null && ageDays > OLD_DAYS, signed: !sig ? 'not checked' : sig.verified ? 'verified' : 'not verified' });
    }
  }
  return rows.sort((a, b) => a.registry.localeCompare(b.registry) || a.repository.localeCompare(b.repository) || (b.ageDays ?? -1) - (a.ageDays ?? -1) || a.tag.localeCompare(b.tag));
}

/** registry/repository; a local layout as "(oci) /path". */
const repoName = (r: TagRow) => (r.registry.startsWith('(') ? `${r.registry} ${r.repository}` : `${r.registry}/${r.repository}`);
const vulnerable = (r: TagRow) => vulnCount(r.image.summary, 'CRITICAL') + vulnCount(r.image.summary, 'HIGH') > 0;
const flagged = (r: TagRow) => r.old || r.signed !== 'verified' || vulnerable(r);

export function Registries() {
  const [params, setParams] = useSearchParams();
  // Local state (the URL follows): the box changes at once, even while the router's navigation is pending.
  const [onlyFlagged, setOnlyFlagged] = useState(params.get('flagged') === '1');
  const [openWatch, setOpenWatch] = useState<string>();
  const [data, setData] = useState<{ images: Image[]; complete: boolean; watches: Watch[] }>();
  const [error, setError] = useState<ApiError>();
  const reload = useCallback(() => {
    Promise.all([collect<Image>('/api/v1/images'), api<{ items: Watch[] }>('GET', '/api/v1/registry-watches')]).then(
      ([images, watches]) => { setData({ images: images.items, complete: images.complete, watches: watches.items }); setError(undefined); },
      (e: unknown) => setError(e instanceof ApiError ? e : new ApiError(0, 'error', String(e))),
    );
  }, []);
  useEffect(reload, [reload]);
  useLiveChanges(['image', 'images', 'registry-watches', 'violations'], reload);

  const rows = useMemo(() => (data ? tagRows(data.images) : []), [data]);
  const repos = useMemo(() => {
    const m = new Map<string, TagRow[]>();
    for (const r of rows) {
      if (onlyFlagged && !flagged(r)) continue;
      const k = repoName(r);
      m.set(k, [...(m.get(k) ?? []), r]);
    }
    return [...m];
  }, [rows, onlyFlagged]);

  if (!data) return <><h1>Registries</h1><ErrorNote error={error} />{!error && <Loading what="repositories" />}</>;
  const old = rows.filter((r) => r.old).length;
  const unsigned = rows.filter((r) => r.signed !== 'verified').length;
  return (
    <>
      <h1>Registries</h1>
      <ErrorNote error={error} />
      <dl className="stats" aria-label="Hygiene summary">
        <div><dt>Repositories</dt><dd data-testid="repo-count">{new Set(rows.map(repoName)).size}</dd></div>
        <div><dt>Tags</dt><dd data-testid="tag-count">{rows.length}{data.complete ? '' : '+'}</dd></div>
        <div><dt>Older than 6 months</dt><dd data-testid="old-count" className={old ? 'stale' : undefined}>{old}</dd></div>
        <div><dt>Not signed (verified)</dt><dd data-testid="unsigned-count">{unsigned}</dd></div>
        <div><dt>Critical or high</dt><dd data-testid="vulnerable-count">{rows.filter(vulnerable).length}</dd></div>
      </dl>
      <p className="actions">
        <label><input type="checkbox" checked={onlyFlagged} onChange={(e) => { setOnlyFlagged(e.target.checked); const next = currentSearchParams(); if (e.target.checked) next.set('flagged', '1'); else next.delete('flagged'); setParams(next, { replace: true }); }} /> Only tags with a problem (old, unsigned or critical/high)</label>
      </p>

      {repos.length === 0 ? <p className="muted">{rows.length ? 'No tag with a problem.' : 'No image yet: push a scan with gatehouse image scan IMAGE --server URL.'}</p> : repos.map(([name, tags]) => (
        <Section key={name} title={name}>
          <div className="table-scroll short" tabIndex={0} role="region" aria-label={`Tags of ${name} (scrolls sideways on narrow windows)`}>
          <table className="compact" aria-label={`Tags of ${name}`}>
            <thead><tr><th scope="col">Tag</th><th scope="col">Digest</th><th scope="col">Age</th><th scope="col">Signature</th><th scope="col">Critical</th><th scope="col">High</th><th scope="col">Medium</th><th scope="col">Low</th><th scope="col">Fixable</th><th scope="col">Scanned</th></tr></thead>
            <tbody>
              {tags.map((r) => (
                <tr key={r.ref + r.image.digest} className={r.old ? 'row-old' : undefined} data-testid="tag-row">
                  <td className="nowrap"><Link to={`/images/${r.image.digest}`}>{r.tag}</Link></td>
                  <td className="nowrap"><code>{shortDigest(r.image.digest)}</code></td>
                  <td>{r.ageDays === null ? <span className="muted">unknown</span> : <>{age(r.image.created)}{r.old && <span className="flag-old" data-testid="old-flag"> · older than 6 months</span>}</>}</td>
                  <td>{r.signed}{r.image.signature?.signers?.length ? <span className="muted"> ({r.image.signature.signers.join(', ')})</span> : null}</td>
                  <td>{vulnCount(r.image.summary, 'CRITICAL')}</td>
                  <td>{vulnCount(r.image.summary, 'HIGH')}</td>
                  <td>{vulnCount(r.image.summary, 'MEDIUM')}</td>
                  <td>{vulnCount(r.image.summary, 'LOW')}</td>
                  <td>{r.image.summary.fixable}</td>
                  <td>{r.image.scannedAt ? <When iso={r.image.scannedAt} short /> : <span className="muted">not scanned</span>}</td>
                </tr>
              ))}
            </tbody>
          </table>
          </div>
        </Section>
      ))}

      <Section title="Watched repositories">
        {data.watches.length === 0 ? <p className="muted">No repository is watched: <code>gatehouse registry watch add REGISTRY/REPOSITORY</code> has Central audit every tag (stale, unsigned, vulnerable) each hour.</p> : (
          <table className="compact" aria-label="Watched repositories">
            <thead><tr><th scope="col">Repository</th><th scope="col">Tags</th><th scope="col">Last audit</th><th scope="col">Status</th></tr></thead>
            <tbody>
              {data.watches.map((w) => (
                <tr key={w.id}>
                  <td><code>{w.target}</code></td>
                  <td>
                    {w.tags ?? '—'}
                    {w.tags ? <> <button type="button" className="secondary small" aria-expanded={openWatch === w.id} aria-controls={`watch-tags-${w.id}`} onClick={() => setOpenWatch(openWatch === w.id ? undefined : w.id)}>{openWatch === w.id ? 'Hide tags' : 'Show tags'}</button></> : null}
                  </td>
                  <td><When iso={w.lastRunAt ?? null} /></td>
                  <td>{w.lastError ? <span className="error">{w.lastError}</span> : w.lastRunAt ? 'ok' : <span className="muted">not audited yet</span>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {data.watches.filter((w) => w.id === openWatch).map((w) => (
          <div key={w.id} id={`watch-tags-${w.id}`}>
            <h3>Tags of <code>{w.target}</code> at its last audit</h3>
            <WatchTags watchId={w.id} target={w.target} />
          </div>
        ))}
        <p className="hint">Violations the audits opened: <Link to="/violations?state=active&stage=build">active build-stage violations</Link>.</p>
      </Section>
    </>
  );
}
