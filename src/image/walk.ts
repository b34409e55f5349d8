/**
 * Streams an image's layers in order into a squashed filesystem, handing the files
 * analyzers ask for to them as streams. Nothing is extracted to disk; memory holds the
 * metadata tree and whatever the visitors keep.
 */
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { extract as tarExtract, type Header } from 'tar-stream';
import { UserError, describeError } from '../util/errors.js';
import { Meter } from '../util/meter.js';
import { DigestingStream } from './digest.js';
import { bufferedContent, collectContent, type FileEntry, type FileType, type FileVisitor, type VisitResult } from './files.js';
import { AutoDecompress } from './layers/decompress.js';
import { withLimits, type WalkLimits } from './limits.js';
import type { LayerInfo, OpenedImage, ProgressReporter } from './source.js';
import { SquashedFs, normalizeEntryPath } from './squash.js';

export interface WalkOptions {
  visitors?: FileVisitor[];
  limits?: Partial<WalkLimits>;
  progress?: ProgressReporter;
  /** Fail on symlinks that loop or point outside the root (default true). */
  checkSymlinks?: boolean;
}

export interface LayerStats {
  index: number;
  entries: number;
  /** Uncompressed tar bytes. */
  expandedBytes: number;
  /** Bytes of regular-file content the layer adds. */
  fileBytes: number;
  compression?: string;
}

export interface ImageWalk {
  files: SquashedFs;
  results: Map<string, VisitResult[]>;
  layers: LayerStats[];
  warnings: string[];
}

const TYPES: Record<string, FileType | undefined> = {
  file: 'file',
  'contiguous-file': 'file',
  directory: 'dir',
  symlink: 'symlink',
  link: 'hardlink',
  'character-device': 'char',
  'block-device': 'block',
  fifo: 'fifo',
};

export async function walkImage(image: OpenedImage, opts: WalkOptions = {}): Promise<ImageWalk> {
  const limits = withLimits({ ...image.limits, ...withoutUndefined(opts.limits) });
  const fs = new SquashedFs(limits.maxSymlinkHops);
  const visitors = opts.visitors ?? [];
  const pending = new Map<string, Map<string, PendingResult>>(visitors.map((v) => [v.name, new Map()]));
  const warnings: string[] = [];
  const layers: LayerStats[] = [];
  const totals = { entries: 0, expanded: 0 };

  const state: WalkState = { fs, visitors, pending, warnings, limits, totals, progress: opts.progress, inFlight: new Set(), seq: 0 };
  for (const layer of image.layers) {
    const stats = await walkLayer(image, layer, state);
    layers.push(stats);
  }
  if (opts.checkSymlinks !== false) fs.validateSymlinks();

  const results = new Map<string, VisitResult[]>();
  for (const [name, byPath] of pending) {
    // Keep only what survives in the final filesystem, from the layer that wrote it last.
    results.set(
      name,
      [...byPath.values()]
        .filter((r) => {
          const e = fs.get(r.path);
          return e !== undefined && e.type === 'file' && e.layer === r.layer;
        })
        .map(({ path, layer, result }) => ({ path, layer, result })),
    );
  }
  return { files: fs, results, layers, warnings: [...warnings, ...fs.warnings] };
}

function withoutUndefined<T extends object>(o: T | undefined): Partial<T> {
  return Object.fromEntries(Object.entries(o ?? {}).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** A visit's result with the order of its tar entry: visits finish out of order. */
interface PendingResult extends VisitResult {
  seq: number;
}

/** Visits of buffered small files run while the tar stream moves on, at most this many at once. */
const MAX_DETACHED_VISITS = 64;

interface WalkState {
  fs: SquashedFs;
  visitors: FileVisitor[];
  pending: Map<string, Map<string, PendingResult>>;
  /** Visits still running (all end before their layer's walk does). */
  inFlight: Set<Promise<void>>;
  /** Visited entries so far, across layers (orders results for the same path). */
  seq: number;
  warnings: string[];
  limits: WalkLimits;
  totals: { entries: number; expanded: number };
  progress?: ProgressReporter;
}

async function walkLayer(image: OpenedImage, layer: LayerInfo, st: WalkState): Promise<LayerStats> {
  const what = `${image.name}: layer ${layer.index} (${layer.digest.slice(0, 19)})`;
  const stats: LayerStats = { index: layer.index, entries: 0, expandedBytes: 0, fileBytes: 0 };
  st.progress?.layerStart?.(layer);
  const blob = await image.openLayer(layer.index);
  const compressedMeter = new Meter((n) => st.progress?.bytes?.(layer, n));
  const decompress = new AutoDecompress();
  const diffId = new DigestingStream({ expected: layer.diffId, what: `${what}: uncompressed content (diff_id)` });
  const expandedMeter = new Meter((n) => {
    stats.expandedBytes += n;
    st.totals.expanded += n;
    if (st.totals.expanded > st.limits.maxExpandedBytes) {
      throw new UserError(`${what}: expands beyond ${st.limits.maxExpandedBytes} bytes (decompression bomb? raise --max-expanded-size)`, 'decompression-bomb');
    }
  });
  const extract = tarExtract();
  const streams: (Readable | NodeJS.WritableStream)[] = [blob, compressedMeter, decompress, diffId, expandedMeter, extract];
  const piping = pipeline(blob, compressedMeter, decompress, diffId, expandedMeter, extract);
  piping.catch(() => {});

  const consume = (async () => {
    for await (const entry of extract) {
      await handleEntry(entry.header, entry as unknown as Readable, layer, what, st, stats);
    }
  })();

  try {
    await Promise.all([consume, piping]);
    await Promise.all(st.inFlight);
  } catch (e) {
    await Promise.allSettled(st.inFlight);
    for (const s of streams) (s as Readable).destroy?.();
    // The first meaningful failure wins: our own errors say more than a broken pipe.
    const errors = await Promise.allSettled([consume, piping]);
    const reasons = errors.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
    const userError = reasons.find((r): r is UserError => r instanceof UserError);
    if (userError) throw userError.message.startsWith(image.name) ? userError : new UserError(`${what}: ${userError.message}`, userError.code);
    const first = reasons[0] ?? e;
    const msg = describeError(first);
    if (/tar|header/i.test(msg)) throw new UserError(`${what}: not a valid tar stream (${msg})`, 'bad-layer');
    throw new UserError(`${what}: ${msg}`, 'bad-layer');
  }
  stats.compression = decompress.compression;
  st.progress?.layerDone?.(layer);
  return stats;
}

async function handleEntry(
  h: Header,
  content: Readable,
  layer: LayerInfo,
  what: string,
  st: WalkState,
  stats: LayerStats,
): Promise<void> {
  stats.entries++;
  if (++st.totals.entries > st.limits.maxEntries) {
    content.resume();
    throw new UserError(`${what}: more than ${st.limits.maxEntries} entries (decompression bomb? raise --max-entries)`, 'decompression-bomb');
  }
  const path = normalizeEntryPath(h.name, what);
  const base = path.slice(path.lastIndexOf('/') + 1);
  const dir = path.slice(0, path.lastIndexOf('/')) || '/';
  if (base.startsWith('.wh.')) {
    if (base === '.wh..wh..opq') st.fs.opaque(dir, layer.index);
    else st.fs.whiteout(`${dir === '/' ? '' : dir}/${base.slice(4)}`);
    content.resume();
    return;
  }
  const type = TYPES[h.type ?? 'file'];
  if (!type) {
    st.warnings.push(`${what}: skipped ${path} of unsupported tar type ${h.type}`);
    content.resume();
    return;
  }
  if (path === '/') {
    content.resume();
    return;
  }
  const entry: FileEntry = {
    path,
    type,
    size: type === 'file' ? (h.size ?? 0) : 0,
    mode: (h.mode ?? 0) & 0o7777,
    uid: h.uid ?? 0,
    gid: h.gid ?? 0,
    layer: layer.index,
  };
  if (type === 'symlink') entry.linkname = h.linkname ?? '';
  if (type === 'hardlink') {
    const target = normalizeEntryPath(h.linkname ?? '', `${what}: hard link ${path}`);
    const resolved = st.fs.get(st.fs.resolvePath(target, false));
    if (!resolved) st.warnings.push(`${what}: hard link ${path} points to missing ${target}`);
    entry.linkname = target;
    entry.size = resolved?.size ?? 0;
  }
  const stored = st.fs.put(entry);
  if (type === 'file') stats.fileBytes += entry.size;
  const interested = type === 'file' ? st.visitors.filter((v) => v.wants(stored.path, stored)) : [];
  if (interested.length === 0) {
    // tar-stream's iterator moves on once this entry is drained; no need to wait for it.
    content.resume();
    return;
  }
  await runVisitors(interested, stored, content, st);
}

/**
 * Files up to this size are read into memory once and handed to every visitor as a marked
 * buffer stream: most visited files (package.json, METADATA, status files) are small, and
 * per-file stream plumbing would cost more than their parsing.
 */
const BUFFERED_FILE_BYTES = 256 * 1024;

async function runVisitors(visitors: FileVisitor[], entry: FileEntry, content: Readable, st: WalkState): Promise<void> {
  // Visitors get their own streams: one that stops early (or destroys its stream) must not
  // break the tar stream or starve the others.
  const seq = ++st.seq;
  const small = entry.size <= BUFFERED_FILE_BYTES;
  const branches: Readable[] = small ? (await collectContent(content, entry.size).then((b) => visitors.map(() => bufferedContent(b)))) : fanOut(content, visitors.length);
  const visits = Promise.all(
    visitors.map(async (v, i) => {
      const stream = branches[i]!;
      try {
        const result = await v.visit({ path: entry.path, entry, content: stream });
        const byPath = st.pending.get(v.name)!;
        if (result !== undefined && (byPath.get(entry.path)?.seq ?? 0) < seq) byPath.set(entry.path, { path: entry.path, layer: entry.layer, result, seq });
      } catch (e) {
        st.warnings.push(`${v.name}: ${entry.path}: ${describeError(e)}`);
      } finally {
        // Whatever the visitor left unread is dropped, so the tar stream moves on.
        if (!stream.destroyed) stream.resume();
      }
    }),
  ).then(() => {});
  if (!small) {
    await visits;
    content.resume();
    return;
  }
  // The bytes are in memory: the tar stream need not wait for the visitors.
  st.inFlight.add(visits);
  void visits.finally(() => st.inFlight.delete(visits));
  if (st.inFlight.size >= MAX_DETACHED_VISITS) await Promise.race(st.inFlight);
}

/**
 * Copies one entry stream to several consumers, pausing the source while any consumer is
 * behind. Written by hand because tar-stream's entries (streamx) pipe to one destination only.
 */
function fanOut(source: Readable, n: number): PassThrough[] {
  const branches = Array.from({ length: n }, () => new PassThrough({ highWaterMark: 256 * 1024 }));
  source.on('data', (chunk: Buffer) => {
    const behind = branches.filter((b) => !b.destroyed && !b.write(chunk));
    if (behind.length === 0) return;
    source.pause();
    const caughtUp = (b: PassThrough) =>
      new Promise((resolve) => {
        b.once('drain', resolve);
        b.once('close', resolve);
      });
    void Promise.all(behind.map(caughtUp)).then(() => source.resume());
  });
  source.on('end', () => {
    for (const b of branches) b.end();
  });
  source.on('error', (e: Error) => {
    for (const b of branches) b.destroy(e);
  });
  return branches;
}
