/**
 * A one-shot drift check of a container (`gatehouse evidence drift`): every path the engine
 * says the container added or changed (`/changes`) that is a regular file able to run or be
 * loaded (an x bit, or a shared object's name) is read through the archive endpoint and
 * hashed; it is drift unless the image holds the same path with the same sha256 (a
 * metadata-only change, e.g. a chmod or touch, is not drift).
 */
import { UserError } from '../../util/errors.js';
import { readChangedFile } from '../evidence/archive.js';
import { readUpperFile, upperDirOf } from '../evidence/upperdir.js';
import { EngineApi, containerName, statIsRegular } from '../evidence/engine.js';
import type { Finding } from '../../findings/finding.js';
import { ImageIndexCache, isExecutableCandidate, isSharedObjectPath, loadImageIndex } from './image-index.js';
import { driftFinding, type DriftVerdict } from './verdict.js';

export interface DriftCheckOptions {
  host?: string;
  engine?: EngineApi;
  cache?: ImageIndexCache;
  /** Files bigger than this are flagged without a hash (default 512 MiB). */
  hashLimit?: number;
  workDir?: string;
  /** The engine is on another host: read files through its API only. */
  remote?: boolean;
}

export interface DriftCheckResult {
  container: { id: string; name?: string };
  image: { ref?: string; id: string };
  /** Paths the engine listed as added or changed. */
  changes: number;
  /** Executables and libraries drifted from the image (no events: a static check). */
  drift: Array<Omit<DriftVerdict, 'event'>>;
  /** Changed paths that are in the image with the same content (not drift). */
  unchanged: string[];
  findings: Finding[];
}

export async function checkContainerDrift(container: string, opts: DriftCheckOptions = {}): Promise<DriftCheckResult> {
  const engine = opts.engine ?? new EngineApi(opts.host);
  try {
    const inspect = await engine.inspectContainer(container).catch((e: unknown) => {
      if ((e as { statusCode?: number }).statusCode === 404) throw new UserError(`no such container "${container}" in the engine at ${engine.endpoint}`, 'not-found');
      throw e;
    });
    if (!inspect.Image) throw new UserError(`container ${container} has no image id`, 'engine-error');
    const cache = opts.cache ?? new ImageIndexCache((id) => loadImageIndex(id, { host: engine.endpoint, workDir: opts.workDir }), 1);
    const [index, changes] = await Promise.all([cache.get(inspect.Image), engine.changes(inspect.Id)]);
    const name = containerName(inspect);
    const upperDir = opts.remote ? undefined : upperDirOf(inspect);
    const candidates = changes.filter((c) => c.Kind !== 2);
    const drift: DriftCheckResult['drift'] = [];
    const unchanged: string[] = [];
    let next = 0;
    const worker = async () => {
      while (next < candidates.length) {
        const c = candidates[next++]!;
        // Type and mode: from the writable layer here (a hash limit of -1 reads no content), else the engine.
        const local = upperDir ? await readUpperFile(upperDir, c.Path, { copyLimit: 0, hashLimit: -1 }) : undefined;
        let mode: number;
        if (local) {
          if (local.type !== 'file') continue;
          mode = local.mode;
        } else {
          const st = await engine.statPath(inspect.Id, c.Path);
          if (!st || !statIsRegular(st)) continue;
          mode = st.mode & 0o7777;
        }
        if (!isExecutableCandidate(c.Path, mode)) continue;
        const file = await readChangedFile(engine, inspect.Id, c.Path, { copyLimit: 0, hashLimit: opts.hashLimit ?? 512 << 20 }, upperDir);
        const inImage = index.files.get(c.Path);
        if (file?.sha256 && inImage?.sha256 === file.sha256 && (inImage.mode & 0o111) === (mode & 0o111)) {
          unchanged.push(c.Path);
          continue;
        }
        drift.push({
          containerId: inspect.Id,
          ...(name ? { containerName: name } : {}),
          ...(inspect.Config?.Image ? { image: inspect.Config.Image } : {}),
          imageId: index.imageId,
          path: c.Path,
          kind: isSharedObjectPath(c.Path) && (mode & 0o111) === 0 ? 'library' : 'exec',
          reason: inImage ? 'modified' : c.Kind === 1 ? 'added' : 'not-in-image',
          ...(file?.sha256 ? { sha256: file.sha256 } : {}),
          ...(inImage?.sha256 ? { imageSha256: inImage.sha256 } : {}),
        });
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
    drift.sort((a, b) => a.path.localeCompare(b.path));
    unchanged.sort();
    return {
      container: { id: inspect.Id, ...(name ? { name } : {}) },
      image: { ...(inspect.Config?.Image ? { ref: inspect.Config.Image } : {}), id: index.imageId },
      changes: candidates.length,
      drift,
      unchanged,
      findings: drift.map((d) => driftFinding(d)),
    };
  } finally {
    if (!opts.engine) await engine.close();
  }
}
