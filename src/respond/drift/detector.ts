/**
 * Drift from the image at runtime: an executable run, or a shared library opened for
 * reading, that is not in the container's image or was added or changed since it started
 * (Kubescape R1001, NeuVector zero-drift, Falco's "Drop and execute new binary").
 *
 * A `DriftDetector` keeps per watched container: its image's file index (one load per image
 * id, shared through a bounded cache), and the set of paths the container changed — the
 * engine's `/changes` list at watch time, plus every write the sensor reports afterwards
 * (opens for writing, creat, rename/link targets). Each event is then decided in O(1):
 *   path changed (added or modified)       → drift (`added` / `modified`)
 *   path not in the image, not changed     → drift (`not-in-image`: written before we saw it)
 *   path in the image, not changed         → no drift
 *   (exec paths resolved through the image's symlinks; the sensor's
 *   proc.is_exe_upper_layer counts as a change).
 * At watch time, image executables the diff lists as modified are hashed once: a touch or
 * chmod that left content and x bits as in the image is not a change.
 * Events are RuntimeEvents keyed by Falco field names (src/runtime/event.ts): the sensor's
 * exec (`evt.type` execve/execveat, `proc.exepath`) and open (`fd.name`,
 * `evt.is_open_write`) events, keyed to the container by `container.id` (12-char or full).
 */
import type { RuntimeEvent } from '../../runtime/event.js';
import { readChangedFile } from '../evidence/archive.js';
import { upperDirOf } from '../evidence/upperdir.js';
import { EngineApi, containerName, type ContainerInspect } from '../evidence/engine.js';
import { ImageIndexCache, isSharedObjectPath, loadImageIndex, resolveInIndex, type ImageFileIndex } from './image-index.js';
import type { DriftKind, DriftReason, DriftVerdict } from './verdict.js';

export interface WatchedContainer {
  id: string;
  name?: string;
  /** The image as the container names it (Config.Image). */
  image?: string;
  imageId: string;
  index: ImageFileIndex;
  /** Paths the container added or modified (deleted ones cannot run). */
  changed: Map<string, 'added' | 'modified'>;
  /** New paths remembered from the sensor's writes (bounded by maxAddedWrites). */
  addedWrites: number;
  /** Image executables the diff listed but whose content and x bits are the image's (not written since). */
  sameAsImage: Set<string>;
}

export interface DriftDetectorOptions {
  /** An engine client to use (not closed by the detector), else one for `host`. */
  engine?: EngineApi;
  host?: string;
  /** Share image indexes between detectors, or bound them (default 8 images). */
  cache?: ImageIndexCache;
  maxImages?: number;
  /** Where image exports are spooled. */
  workDir?: string;
  /** The engine is on another host: read files through its API only (not the writable layer here). */
  remote?: boolean;
  /** New paths written per container remembered to name them `added` (default 10,000; memory bound). */
  maxAddedWrites?: number;
  /** Image executables listed as modified whose content is compared at watch time (default 64). */
  maxVerify?: number;
}

const FD_EXEC = /^(?:\/proc\/|\/dev\/fd\/|\/memfd:)/;
const EXEC_TYPES = new Set(['execve', 'execveat']);
const OPEN_TYPES = new Set(['open', 'openat', 'openat2', 'creat']);

export class DriftDetector {
  readonly engine: EngineApi;
  private readonly ownsEngine: boolean;
  readonly images: ImageIndexCache;
  private readonly byId = new Map<string, WatchedContainer>();
  private readonly pending = new Map<string, Promise<WatchedContainer | undefined>>();
  private readonly maxVerify: number;
  private readonly remote: boolean;
  private readonly maxAddedWrites: number;

  constructor(opts: DriftDetectorOptions = {}) {
    this.engine = opts.engine ?? new EngineApi(opts.host);
    this.ownsEngine = !opts.engine;
    this.maxVerify = opts.maxVerify ?? 64;
    this.remote = opts.remote ?? false;
    this.maxAddedWrites = opts.maxAddedWrites ?? 10_000;
    this.images = opts.cache ?? new ImageIndexCache((id) => loadImageIndex(id, { host: this.engine.endpoint, workDir: opts.workDir }), opts.maxImages ?? 8);
  }

  /** Starts watching a container (id or name): its image index and its current changes. */
  async watch(container: string): Promise<WatchedContainer> {
    const inspect: ContainerInspect = await this.engine.inspectContainer(container);
    if (!inspect.Image) throw new Error(`container ${container} has no image id`);
    const [index, changes] = await Promise.all([this.images.get(inspect.Image), this.engine.changes(inspect.Id)]);
    const changed = new Map<string, 'added' | 'modified'>();
    for (const c of changes) if (c.Kind === 0 || c.Kind === 1) changed.set(c.Path, c.Kind === 1 ? 'added' : 'modified');
    const sameAsImage = await this.dropSameContent(inspect.Id, index, changed, this.remote ? undefined : upperDirOf(inspect));
    const name = containerName(inspect);
    const w: WatchedContainer = {
      id: inspect.Id,
      ...(name ? { name } : {}),
      ...(inspect.Config?.Image ? { image: inspect.Config.Image } : {}),
      imageId: index.imageId,
      index,
      changed,
      addedWrites: 0,
      sameAsImage,
    };
    this.byId.set(w.id, w);
    this.byId.set(w.id.slice(0, 12), w);
    return w;
  }

  /** Stops watching (the container is gone). */
  forget(containerId: string): void {
    const w = this.byId.get(containerId) ?? this.byId.get(containerId.slice(0, 12));
    if (!w) return;
    this.byId.delete(w.id);
    this.byId.delete(w.id.slice(0, 12));
  }

  watched(containerId: string): WatchedContainer | undefined {
    return this.byId.get(containerId) ?? (containerId.length > 12 ? this.byId.get(containerId.slice(0, 12)) : undefined);
  }

  /**
   * Decides one event for a watched container, in O(1): a write is remembered (and is no
   * drift by itself), an exec or library load of a changed or unknown path is drift.
   * Events of containers not watched answer undefined (see `observe`).
   */
  check(ev: RuntimeEvent): DriftVerdict | undefined {
    const cid = ev['container.id'];
    if (typeof cid !== 'string' || cid === '' || cid === 'host') return undefined;
    const w = this.watched(cid);
    if (!w) return undefined;
    const type = typeof ev['evt.type'] === 'string' ? ev['evt.type'] : '';
    // A failed syscall ran or wrote nothing.
    if (typeof ev['evt.rawres'] === 'number' && ev['evt.rawres'] < 0) return undefined;
    // The container runtime entering the container (runc init, executed through /dev/fd/N)
    // loads the host's libraries by host paths before it pivots: its events are not the
    // container's content.
    if (!EXEC_TYPES.has(type) && typeof ev['proc.exepath'] === 'string' && FD_EXEC.test(ev['proc.exepath'])) return undefined;
    let kind: DriftKind;
    let path: string;
    if (EXEC_TYPES.has(type)) {
      const p = ev['proc.exepath'] ?? ev['proc.exe'];
      if (typeof p !== 'string' || !p.startsWith('/')) return undefined;
      // Execs through a file descriptor (/dev/fd/N, /proc/self/exe, memfd) name no path of the
      // container's filesystem: runc init re-executing its sealed copy does this on every
      // `exec`; fileless execution is the runtime rules' business (memfd_create, /dev/shm).
      if (FD_EXEC.test(p)) return undefined;
      kind = 'exec';
      path = p;
    } else if (OPEN_TYPES.has(type)) {
      const p = ev['fd.name'];
      if (typeof p !== 'string' || !p.startsWith('/')) return undefined;
      if (ev['evt.is_open_write'] === true || type === 'creat') {
        this.noteWrite(w, p);
        return undefined;
      }
      if (!isSharedObjectPath(p)) return undefined;
      kind = 'library';
      path = p;
    } else {
      // rename/link targets: the new name now holds content the image did not.
      for (const key of ['evt.arg.newpath', 'evt.arg.linkpath', 'evt.arg.path'] as const) {
        const p = ev[key];
        if (typeof p === 'string' && p.startsWith('/') && (type.startsWith('rename') || type.startsWith('link') || type.startsWith('symlink'))) this.noteWrite(w, p);
      }
      return undefined;
    }
    const reason = this.decide(w, path, kind === 'exec' && ev['proc.is_exe_upper_layer'] === true);
    if (!reason) return undefined;
    const inImage = w.index.files.get(path);
    return {
      containerId: w.id,
      ...(w.name ? { containerName: w.name } : {}),
      ...(w.image ? { image: w.image } : {}),
      imageId: w.imageId,
      path,
      kind,
      reason,
      ...(inImage?.sha256 ? { imageSha256: inImage.sha256 } : {}),
      event: ev,
    };
  }

  /** `check`, watching the event's container first when it is not watched yet. */
  async observe(ev: RuntimeEvent): Promise<DriftVerdict | undefined> {
    const cid = ev['container.id'];
    if (typeof cid === 'string' && cid !== '' && cid !== 'host' && !this.watched(cid)) {
      let p = this.pending.get(cid);
      if (!p) {
        p = this.watch(cid).catch(() => undefined);
        this.pending.set(cid, p);
        void p.finally(() => this.pending.delete(cid));
      }
      await p;
    }
    return this.check(ev);
  }

  /** Reads the engine's changes again (a periodic catch-up for writes the sensor missed). */
  async refresh(containerId: string): Promise<void> {
    const w = this.watched(containerId);
    if (!w) return;
    for (const c of await this.engine.changes(w.id)) {
      if ((c.Kind === 0 || c.Kind === 1) && !w.sameAsImage.has(c.Path)) w.changed.set(c.Path, c.Kind === 1 ? 'added' : 'modified');
    }
  }

  /**
   * An image executable the engine lists as modified may only have been touched or had its
   * metadata changed (overlayfs copies it up): those with the image's sha256 and x bits are
   * not changes. Bounded: at most `maxVerify` files are read, the rest stay changed.
   */
  private async dropSameContent(id: string, index: ImageFileIndex, changed: Map<string, 'added' | 'modified'>, upperDir: string | undefined): Promise<Set<string>> {
    const same = new Set<string>();
    const candidates = [...changed].filter(([p, k]) => k === 'modified' && index.files.get(p)?.sha256).map(([p]) => p).slice(0, this.maxVerify);
    let next = 0;
    const worker = async () => {
      while (next < candidates.length) {
        const path = candidates[next++]!;
        const img = index.files.get(path)!;
        const f = await readChangedFile(this.engine, id, path, { copyLimit: 0, hashLimit: 512 << 20 }, upperDir).catch(() => undefined);
        if (f?.type === 'file' && f.sha256 === img.sha256 && (f.mode & 0o111) === (img.mode & 0o111)) {
          changed.delete(path);
          same.add(path);
        }
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
    return same;
  }

  /**
   * The decision for one path: changed (by the diff or a write) → that reason; the sensor
   * says the executable lives in the writable layer → changed (unless verified identical to
   * the image at watch time and not written since); a regular file of the image → no drift;
   * else the path is resolved through the image's symlinks (exec paths are as the process
   * gave them: /bin/ls on a merged-/usr image is /usr/bin/ls) and decided the same way.
   */
  private decide(w: WatchedContainer, path: string, upperLayer: boolean): DriftReason | undefined {
    const changed = w.changed.get(path);
    if (changed) return changed;
    const f = w.index.files.get(path);
    if (upperLayer && !w.sameAsImage.has(path)) return f ? 'modified' : 'added';
    if (f && (f.type === 'file' || f.type === 'hardlink')) return undefined;
    const resolved = resolveInIndex(w.index.files, path);
    if (resolved === undefined) return 'not-in-image';
    if (resolved !== path) {
      const rc = w.changed.get(resolved);
      if (rc) return rc;
    }
    const rf = w.index.files.get(resolved);
    return rf && (rf.type === 'file' || rf.type === 'hardlink') ? undefined : 'not-in-image';
  }

  /**
   * Writes to paths of the image are always kept (bounded by the image's size): they turn
   * the image's own files into drift. Writes to new paths are kept up to `maxAddedWrites`
   * per container, only to name the reason: a new path is drift (`not-in-image`) anyway.
   */
  private noteWrite(w: WatchedContainer, path: string): void {
    w.sameAsImage.delete(path);
    if (w.changed.has(path)) return;
    if (w.index.files.has(path)) w.changed.set(path, 'modified');
    else if (w.addedWrites < this.maxAddedWrites) {
      w.addedWrites++;
      w.changed.set(path, 'added');
    }
  }

  async close(): Promise<void> {
    if (this.ownsEngine) await this.engine.close();
  }
}
