/**
 * Every image in use gets scanned: images that live deployments run (deployments.images,
 * not deleted) and that Central holds no scan of (matched by digest or canonical
 * reference, as the risk catalog looks them up) are scanned by the engines, two at a time,
 * stored like a CLI push (upsertImageReport) and evaluated by the image policies.
 *
 * How an image is reached:
 * - a plain-host container's image is read from that host's engine (docker-daemon
 *   transport over the host's socket, from the host's sealed connection settings), so no
 *   registry credentials are needed;
 * - a cluster's images are pulled from their registry with the workload's pull secrets
 *   (pod spec, then service account; read on demand, pull-secrets.ts), else with Central's
 *   own registry credentials ($REGISTRY_AUTH_FILE, podman's auth.json, ~/.docker/config.json).
 * A failed scan is retried later with a growing delay (1 min, doubling, at most 1 h).
 */
import { parseReference, type OpenImageOptions } from '../../image/index.js';
import { describeError } from '../../util/errors.js';
import { defaultDbPath } from '../../vuln/db.js';
import type { CentralContext } from '../context.js';
import type { CentralJob } from '../jobs.js';
import { canonicalRef } from '../live/image-catalog.js';
import { upsertImageReport } from '../store/images.js';
import { fromJson } from '../store/json.js';
import { dbFileStamp, openVulnDb } from './db-version.js';
import { evaluateUpsertedImage, POLICIES_EVALUATED } from './image-policies.js';
import { clusterPullCredentials } from './pull-secrets.js';
import { scanImageForCentral } from './scan-image.js';

/** One image reference some live deployment runs, with where it runs. */
export interface ImageInUse {
  ref: string;
  sourceId: string;
  sourceKind: string;
  /** The deployment that runs it (the first one found): its kind ('Container' on plain hosts), namespace and name. */
  kind: string;
  namespace: string;
  name: string;
}

/** How to open an image of a source: the transport reference and options. */
export interface ImageAccess {
  ref: string;
  open: OpenImageOptions;
}

export interface InUseScanOptions {
  /** The vulnerability DB (default: $GATEHOUSE_DB or ~/.cache/gatehouse/db/vuln.db); without one, images are inventoried but not matched. */
  dbPath?: string;
  /** How often to look for unscanned images (default 60 s). */
  intervalMs?: number;
  /** Scans at a time (default 2). */
  concurrency?: number;
  /** Options for every pull (auth file, insecure, limits). */
  open?: OpenImageOptions;
  /** Overrides how an image of a source is reached (default: accessFor). */
  access?: (image: ImageInUse, ctx: CentralContext) => Promise<ImageAccess>;
}

/**
 * The default: a host's engine endpoint from its sealed settings (docker-daemon transport
 * over unix:// or plain tcp://); a cluster's image from its registry with the workload's
 * pull secrets when one names that registry.
 */
export async function accessFor(image: ImageInUse, ctx: CentralContext, base: OpenImageOptions = {}): Promise<ImageAccess> {
  if (image.sourceKind === 'host' && image.kind === 'Container') {
    const row = await ctx.db.selectFrom('sources').select('config').where('id', '=', image.sourceId).executeTakeFirst();
    if (row) {
      const config = JSON.parse(ctx.secrets.open(row.config)) as { endpoint?: string; tls?: unknown };
      // src/image speaks to engines over unix:// and plain tcp:// only; a TLS endpoint falls back to the registry.
      if (config.endpoint && !config.tls) return { ref: `docker-daemon:${image.ref}`, open: { ...base, dockerHost: config.endpoint } };
    }
  }
  if (image.sourceKind === 'cluster') {
    const parsed = parseReference(image.ref);
    if (parsed.transport === 'docker') {
      const credentials = await clusterPullCredentials(ctx, image, parsed.registry);
      if (credentials) return { ref: image.ref, open: { ...base, registry: { ...base.registry, credentials } } };
    }
  }
  return { ref: image.ref, open: base };
}

/** Canonical names Central holds a scan of (digests and references). */
async function knownImages(ctx: CentralContext): Promise<Set<string>> {
  const known = new Set<string>();
  let after = '';
  for (;;) {
    const rows = await ctx.db.selectFrom('images').select(['digest', 'refs'])
      .where((eb) => eb.or([eb('has_sbom', '=', 1), eb('scanned_at', 'is not', null)]))
      .where('digest', '>', after).orderBy('digest').limit(2000).execute();
    if (rows.length === 0) return known;
    for (const r of rows) {
      known.add(r.digest);
      for (const ref of fromJson<string[]>(r.refs, [])) known.add(canonicalRef(ref));
    }
    after = rows[rows.length - 1]!.digest;
  }
}

function isKnown(ref: string, known: Set<string>): boolean {
  const at = ref.indexOf('@');
  return (at >= 0 && known.has(ref.slice(at + 1))) || known.has(canonicalRef(ref));
}

/** Images live deployments run that Central has no scan of, one entry per canonical reference. */
export async function unscannedImagesInUse(ctx: CentralContext): Promise<ImageInUse[]> {
  const known = await knownImages(ctx);
  const wanted = new Map<string, ImageInUse>();
  let after = '';
  for (;;) {
    const rows = await ctx.db.selectFrom('deployments').leftJoin('sources', 'sources.id', 'deployments.source_id')
      .select(['deployments.id as id', 'deployments.source_id as sourceId', 'deployments.kind as kind', 'deployments.namespace as namespace', 'deployments.name as name', 'deployments.images as images', 'sources.kind as sourceKind'])
      .where('deployments.deleted_at', 'is', null).where('deployments.id', '>', after).orderBy('deployments.id').limit(2000).execute();
    if (rows.length === 0) break;
    for (const r of rows) {
      for (const ref of fromJson<string[]>(r.images, [])) {
        if (!ref || isKnown(ref, known)) continue;
        const key = canonicalRef(ref);
        if (!wanted.has(key)) wanted.set(key, { ref, sourceId: r.sourceId, sourceKind: r.sourceKind ?? 'cluster', kind: r.kind, namespace: r.namespace, name: r.name });
      }
    }
    after = rows[rows.length - 1]!.id;
  }
  return [...wanted.values()];
}

export interface InUseScanResult {
  scanned: { ref: string; digest: string }[];
  failed: { ref: string; error: string }[];
}

/**
 * One pass: scans every unscanned image in use (bounded concurrency) and stores it.
 * `skip` leaves out references (ones that failed recently).
 */
export async function scanImagesInUse(ctx: CentralContext, opts: InUseScanOptions & { signal?: AbortSignal; skip?: (ref: string) => boolean } = {}): Promise<InUseScanResult> {
  const todo = (await unscannedImagesInUse(ctx)).filter((i) => !opts.skip?.(canonicalRef(i.ref)));
  const result: InUseScanResult = { scanned: [], failed: [] };
  if (todo.length === 0) return result;
  const dbPath = opts.dbPath ?? defaultDbPath();
  const vuln = dbFileStamp(dbPath) ? openVulnDb(dbPath) : undefined;
  try {
    const worker = async () => {
      for (let item = todo.shift(); item && !opts.signal?.aborted; item = todo.shift()) {
        try {
          const access = await (opts.access ?? ((i, c) => accessFor(i, c, opts.open)))(item, ctx);
          const now = ctx.now();
          const report = await scanImageForCentral(access.ref, { open: access.open, refs: [item.ref], now, ...(vuln ? { db: vuln } : {}) });
          await ctx.db.transaction().execute(async (trx) => {
            const upserted = await upsertImageReport(trx, report, now.toISOString());
            await evaluateUpsertedImage(trx, ctx.policies, report.sbom, upserted, now);
          });
          ctx.events.emit('image', report.image.digest, POLICIES_EVALUATED);
          result.scanned.push({ ref: item.ref, digest: report.image.digest });
        } catch (e) {
          result.failed.push({ ref: item.ref, error: describeError(e) });
        }
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, opts.concurrency ?? 2) }, worker));
  } finally {
    vuln?.db.close();
  }
  return result;
}

/** The job: a pass every minute; an image that failed is tried again after a growing delay. */
export function inUseScanJobWith(options: InUseScanOptions = {}): CentralJob {
  return async function inUseScanJob(ctx, signal, tools) {
    const retryAt = new Map<string, { at: number; delay: number }>();
    while (!signal.aborted) {
      try {
        const now = Date.now();
        const r = await scanImagesInUse(ctx, { ...options, signal, skip: (key) => (retryAt.get(key)?.at ?? 0) > now });
        for (const s of r.scanned) retryAt.delete(canonicalRef(s.ref));
        for (const f of r.failed) {
          const key = canonicalRef(f.ref);
          const delay = Math.min((retryAt.get(key)?.delay ?? 30_000) * 2, 3_600_000);
          retryAt.set(key, { at: Date.now() + delay, delay });
          tools.log.warn({ image: f.ref, error: f.error, retryInMs: delay }, 'cannot scan an image in use');
        }
        if (r.scanned.length) tools.log.info({ images: r.scanned.length }, 'images in use scanned');
      } catch (e) {
        tools.log.warn({ err: describeError(e) }, 'scan of images in use failed (retried at the next tick)');
      }
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          signal.removeEventListener('abort', done);
          resolve();
        };
        const timer = setTimeout(done, options.intervalMs ?? 60_000);
        timer.unref();
        signal.addEventListener('abort', done, { once: true });
      });
    }
  };
}

export const inUseScanJob: CentralJob = inUseScanJobWith();
