/**
 * `db update`: downloads the configured feeds and imports them atomically — into a copy of
 * the DB that replaces the old file only when every feed succeeded, so a failed update
 * leaves the previous DB usable. Conditional requests (ETag / If-Modified-Since) skip
 * feeds that did not change since the last update. Downloads are resumable: a feed cut off
 * mid-transfer stays in `<db>.downloads/` with its validator, and the next update asks only
 * for the rest (`Range` + `If-Range`); a server that answers 200 instead starts it afresh.
 */
import { createHash } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { UserError, describeError } from '../util/errors.js';
import { Meter } from '../util/meter.js';
import { VulnDb } from './db.js';
import { importPath, type ImportStats } from './feeds/index.js';

export function defaultFeeds(): string[] {
  const file = fileURLToPath(new URL('./feeds/default-feeds.yaml', import.meta.url));
  const doc = parseYaml(readFileSync(file, 'utf8')) as { feeds?: string[] };
  return doc.feeds ?? [];
}

export interface FeedResult {
  url: string;
  status: 'updated' | 'not-modified';
  stats?: ImportStats;
}

export interface UpdateOptions {
  feeds?: string[];
  onFeed?: (url: string, phase: 'download' | 'import' | 'done', detail?: string) => void;
  /** Bytes of the feed on disk so far (a resumed download starts at what it had), and the full size when the server says it. */
  onBytes?: (url: string, received: number, total: number | undefined) => void;
}


/** The whole feed's size: Content-Range's total on a resumed answer, else Content-Length. */
function fullSize(res: Response, resumedFrom: number): number | undefined {
  const range = /\/(\d+)$/.exec(res.headers.get('content-range') ?? '');
  if (range) return Number(range[1]);
  const length = Number(res.headers.get('content-length'));
  return Number.isFinite(length) && length > 0 ? resumedFrom + length : undefined;
}

const feedSourceName = (url: string): string => `feed:${url}`;

function fileNameFor(url: string, contentType: string | null): string {
  const last = new URL(url).pathname.split('/').filter(Boolean).at(-1) ?? 'feed';
  if (/\.(zip|json|ya?ml)$/i.test(last)) return last;
  if (contentType?.includes('zip')) return `${last}.zip`;
  if (contentType?.includes('yaml')) return `${last}.yaml`;
  return `${last}.json`;
}

/** What a previous, interrupted download of this feed left: its size and validator. */
function resumeState(partial: string): { bytes: number; validator: string } | undefined {
  if (!existsSync(partial) || !existsSync(`${partial}.meta`)) return undefined;
  try {
    const meta = JSON.parse(readFileSync(`${partial}.meta`, 'utf8')) as { validator?: unknown };
    const bytes = statSync(partial).size;
    if (typeof meta.validator !== 'string' || bytes === 0) return undefined;
    return { bytes, validator: meta.validator };
  } catch {
    return undefined;
  }
}

/** First byte of `Content-Range: bytes START-END/TOTAL`. */
function contentRangeStart(header: string | null): number | undefined {
  const m = header ? /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(header.trim()) : null;
  return m ? Number(m[1]) : undefined;
}

export async function updateDb(dbPath: string, opts: UpdateOptions = {}): Promise<FeedResult[]> {
  const feeds = opts.feeds?.length ? opts.feeds : defaultFeeds();
  mkdirSync(dirname(dbPath), { recursive: true });
  const tmpDb = `${dbPath}.update-${process.pid}`;
  const tmpDir = `${tmpDb}.d`;
  const downloads = `${dbPath}.downloads`;
  mkdirSync(downloads, { recursive: true });
  rmSync(tmpDb, { force: true });
  rmSync(tmpDir, { recursive: true, force: true });
  mkdirSync(tmpDir);
  let db: VulnDb | undefined;
  try {
    if (existsSync(dbPath)) {
      const old = VulnDb.open(dbPath);
      old.copyTo(tmpDb);
      old.close();
    }
    db = VulnDb.open(tmpDb, { create: true });
    const results: FeedResult[] = [];
    for (const url of feeds) {
      opts.onFeed?.(url, 'download');
      const previous = db.source(feedSourceName(url));
      const headers: Record<string, string> = {};
      if (previous?.etag) headers['if-none-match'] = previous.etag;
      if (previous?.lastModified) headers['if-modified-since'] = previous.lastModified;
      const partial = join(downloads, createHash('sha256').update(url).digest('hex').slice(0, 32));
      const resume = resumeState(partial);
      if (resume) {
        headers.range = `bytes=${resume.bytes}-`;
        headers['if-range'] = resume.validator;
      }
      let res: Response;
      try {
        res = await fetch(url, { headers });
      } catch (e) {
        throw new UserError(`cannot download ${url}: ${describeError((e as { cause?: unknown }).cause ?? e)}`, 'download');
      }
      if (res.status === 304) {
        results.push({ url, status: 'not-modified' });
        opts.onFeed?.(url, 'done', 'not modified');
        continue;
      }
      if (!(res.ok || res.status === 206) || !res.body) throw new UserError(`cannot download ${url}: HTTP ${res.status} ${res.statusText}`, 'download');
      const resumed = res.status === 206 && resume !== undefined && contentRangeStart(res.headers.get('content-range')) === resume.bytes;
      if (res.status === 206 && !resumed) throw new UserError(`cannot download ${url}: the server answered a range we did not ask for (${res.headers.get('content-range') ?? 'no Content-Range'})`, 'download');
      const validator = res.headers.get('etag') ?? res.headers.get('last-modified');
      if (!resumed) {
        rmSync(partial, { force: true });
        if (validator) writeFileSync(`${partial}.meta`, JSON.stringify({ url, validator }));
        else rmSync(`${partial}.meta`, { force: true });
      }
      if (resumed) opts.onFeed?.(url, 'download', `resuming at byte ${resume.bytes}`);
      try {
        const from = resumed ? resume.bytes : 0;
        const total = fullSize(res, from);
        const onBytes = opts.onBytes;
        const body = Readable.fromWeb(res.body as import('node:stream/web').ReadableStream);
        const sink = createWriteStream(partial, { flags: resumed ? 'a' : 'w' });
        if (onBytes) {
          let received = from;
          onBytes(url, received, total);
          await pipeline(body, new Meter((n) => onBytes(url, (received += n), total)), sink);
        } else await pipeline(body, sink);
      } catch (e) {
        throw new UserError(`download of ${url} interrupted after ${existsSync(partial) ? statSync(partial).size : 0} bytes (the next update resumes it): ${describeError((e as { cause?: unknown }).cause ?? e)}`, 'download');
      }
      const file = join(tmpDir, fileNameFor(url, res.headers.get('content-type')));
      renameSync(partial, file);
      rmSync(`${partial}.meta`, { force: true });
      opts.onFeed?.(url, 'import');
      const lastModified = res.headers.get('last-modified') ?? undefined;
      const feedDate = lastModified && !Number.isNaN(Date.parse(lastModified)) ? new Date(lastModified).toISOString() : new Date().toISOString();
      const stats = await importPath(db, file, { feedDate });
      for (const source of stats.sources) db.recordSource({ name: source, url });
      db.recordSource({ name: feedSourceName(url), url, etag: res.headers.get('etag') ?? undefined, lastModified });
      rmSync(file, { force: true });
      results.push({ url, status: 'updated', stats });
      opts.onFeed?.(url, 'done', `${stats.added} added, ${stats.updated} updated, ${stats.unchanged} unchanged`);
    }
    db.close();
    db = undefined;
    rmSync(`${dbPath}-wal`, { force: true }); // stale journal of the old file, if any
    rmSync(`${dbPath}-shm`, { force: true });
    renameSync(tmpDb, dbPath);
    return results;
  } finally {
    db?.close();
    rmSync(tmpDb, { force: true });
    rmSync(`${tmpDb}-wal`, { force: true });
    rmSync(`${tmpDb}-shm`, { force: true });
    rmSync(tmpDir, { recursive: true, force: true });
  }
}
