/**
 * Forensic evidence of one container, captured through the Docker Engine API (and the
 * host's /proc when the engine is local) before any destructive action: the inspect
 * output, the process tree with command lines, the triggering events, recent logs (a
 * bounded tail), open network connections, the filesystem diff against the image with the
 * sha256 of every added or changed file (small ones copied), a manifest of sha256 for
 * every part, and a signature over the manifest made with a cosign key (the trust engine).
 *
 * The bundle is a directory (docs/notes/evidence-drift.md):
 *   manifest.json  manifest.sig.json  signer.pub
 *   inspect.json  processes.json  events.json  logs.txt  network.json  changes.json
 *   files/<sha256>      copied file contents, named by their hash
 * Every name written is fixed or a hex digest: nothing a container controls becomes a
 * path, so hostile names cannot escape the output directory.
 */
import type { KeyObject } from 'node:crypto';
import { mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { UserError, describeError } from '../../util/errors.js';
import { GATEHOUSE_VERSION } from '../../version.js';
import { readChangedFile, type ContainerFile } from './archive.js';
import { upperDirOf } from './upperdir.js';
import { EngineApi, containerName, type ContainerChange, type ContainerInspect } from './engine.js';
import {
  DEFAULT_LIMITS,
  EVIDENCE_SCHEMA,
  MANIFEST_FILE,
  SIGNATURE_FILE,
  SIGNER_KEY_FILE,
  sha256Hex,
  signManifest,
  type EvidenceIncident,
  type EvidenceLimits,
  type EvidenceManifest,
  type ManifestPart,
} from './manifest.js';
import { containerConnections, containerProcesses, pidBelongsTo, type ProcessRecord } from './procfs.js';

export interface CollectEvidenceOptions {
  /** Container id (full or unique prefix) or name. */
  container: string;
  /** Engine endpoint (`unix:///path`, `tcp://host:port`); default $DOCKER_HOST, else podman's socket. */
  host?: string;
  /** An engine client to reuse (its endpoint wins over `host`); not closed. */
  engine?: EngineApi;
  /** The bundle directory to create; it must not exist or be empty. */
  output: string;
  /** The triggering alerts or events (Falco JSON alerts, runtime events, anything JSON). */
  events?: unknown[];
  incident?: EvidenceIncident;
  /** Private key to sign the manifest with (e.g. from `loadPrivateKey`); unsigned without. */
  signingKey?: KeyObject;
  limits?: Partial<EvidenceLimits>;
  /** Where the host's /proc is (default /proc); tests and containers mounting it elsewhere. */
  procRoot?: string;
  /**
   * The engine is not on this host (or its files are not to be read here): no /proc (process
   * tree, connections) and no reading of the container's writable layer; the engine API only.
   */
  noProc?: boolean;
  now?: () => Date;
}

export interface EvidenceResult {
  path: string;
  manifest: EvidenceManifest;
  /** hex sha256 of manifest.json. */
  manifestSha256: string;
  signed: boolean;
  keyId?: string;
}

/** One entry of changes.json. */
export interface ChangedFile {
  path: string;
  kind: 'modified' | 'added' | 'deleted';
  type?: ContainerFile['type'];
  size?: number;
  mode?: string;
  executable?: boolean;
  magic?: ContainerFile['magic'];
  sha256?: string;
  /** Bundle-relative path of the copy, when copied. */
  copy?: string;
  linkTarget?: string;
  note?: string;
}

const KIND: Record<number, ChangedFile['kind']> = { 0: 'modified', 1: 'added', 2: 'deleted' };

export async function collectEvidence(opts: CollectEvidenceOptions): Promise<EvidenceResult> {
  const limits: EvidenceLimits = { ...DEFAULT_LIMITS, ...withoutUndefined(opts.limits ?? {}) };
  for (const [k, v] of Object.entries(limits)) {
    if (!Number.isInteger(v) || v < 0) throw new UserError(`evidence limit ${k}: expected a non-negative integer, got ${String(v)}`, 'usage');
  }
  const out = resolve(opts.output);
  await checkOutput(out);
  const engine = opts.engine ?? new EngineApi(opts.host);
  try {
    const inspect = await engine.inspectContainer(opts.container).catch((e: unknown) => {
      if ((e as { statusCode?: number }).statusCode === 404) throw new UserError(`no such container "${opts.container}" in the engine at ${engine.endpoint}`, 'not-found');
      throw e;
    });
    await createOutput(out);
    return await collect(engine, inspect, out, limits, opts);
  } finally {
    if (!opts.engine) await engine.close();
  }
}

export async function checkOutput(out: string): Promise<void> {
  const st = await stat(out).catch(() => undefined);
  if (st && !st.isDirectory()) throw new UserError(`evidence output ${out} exists and is not a directory`, 'usage');
  if (st && (await readdir(out)).length > 0) throw new UserError(`evidence output ${out} exists and is not empty (a bundle is never written over)`, 'usage');
}

async function createOutput(out: string): Promise<void> {
  await checkOutput(out);
  try {
    await mkdir(join(out, 'files'), { recursive: true, mode: 0o700 });
  } catch (e) {
    throw new UserError(`cannot create evidence output ${out}: ${describeError(e)}`, 'io');
  }
}

async function collect(engine: EngineApi, inspect: ContainerInspect, out: string, limits: EvidenceLimits, opts: CollectEvidenceOptions): Promise<EvidenceResult> {
  const now = opts.now ?? (() => new Date());
  const createdAt = now().toISOString();
  const id = inspect.Id;
  const pid = inspect.State?.Running && inspect.State.Pid ? inspect.State.Pid : undefined;
  const parts: ManifestPart[] = [];
  const unavailable: EvidenceManifest['unavailable'] = [];

  const write = async (path: string, kind: ManifestPart['kind'], bytes: Buffer, source?: string) => {
    await writeFile(join(out, path), bytes, { flag: 'wx', mode: 0o600 });
    parts.push({ path, sha256: sha256Hex(bytes), size: bytes.length, kind, ...(source !== undefined ? { source } : {}) });
  };
  // Runtime events carry bigint times (evt.rawtime): written as decimal strings, as JSONL replay reads them.
  const json = (v: unknown) => Buffer.from(`${JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x), 1)}\n`, 'utf8');

  // The host's /proc describes the container only when its init pid here is the container's.
  const local = pid !== undefined && !opts.noProc && (await pidBelongsTo(pid, id, opts.procRoot));
  const [processes, logs, changes] = await Promise.all([
    captureProcesses(engine, id, pid, local, opts).catch((e: unknown) => ({ error: describeError(e) }) as const),
    captureLogs(engine, id, inspect, limits).catch((e: unknown) => ({ error: describeError(e) }) as const),
    captureChanges(engine, id, limits, opts.noProc ? undefined : upperDirOf(inspect)).catch((e: unknown) => ({ error: describeError(e) }) as const),
  ]);

  await write('inspect.json', 'inspect', json(inspect));
  await write('events.json', 'events', json(opts.events ?? []));

  if ('error' in processes) unavailable.push({ part: 'processes.json', reason: processes.error });
  else {
    await write('processes.json', 'processes', json({ source: processes.source, processes: processes.processes, top: processes.top }));
    if (processes.procNote) unavailable.push({ part: 'processes.json (/proc)', reason: processes.procNote });
  }

  if ('error' in logs) unavailable.push({ part: 'logs.txt', reason: logs.error });
  else await write('logs.txt', 'logs', logs.bytes);

  // Open connections: the network namespace of the init process, through the host's /proc.
  if (pid === undefined) unavailable.push({ part: 'network.json', reason: 'the container is not running' });
  else if (!local || 'error' in processes || processes.source !== 'proc') {
    unavailable.push({ part: 'network.json', reason: "the container's processes are not readable in this host's /proc (remote engine, or no privilege)" });
  } else {
    try {
      const conns = await containerConnections(pid, processes.processes as ProcessRecord[], opts.procRoot);
      await write('network.json', 'network', json({ source: `/proc/${pid}/net`, connections: conns }));
    } catch (e) {
      unavailable.push({ part: 'network.json', reason: describeError(e) });
    }
  }

  if ('error' in changes) unavailable.push({ part: 'changes.json', reason: changes.error });
  else {
    const copies = new Set<string>();
    for (const f of changes.files) {
      if (f.content) {
        const rel = `files/${f.record.sha256}`;
        if (!copies.has(rel)) await write(rel, 'file', f.content, f.record.path);
        copies.add(rel);
        f.record.copy = rel;
      }
    }
    await write('changes.json', 'changes', json({ total: changes.total, read: changes.read, truncated: changes.unread > 0 ? true : undefined, changes: changes.files.map((f) => f.record) }));
  }

  const manifest: EvidenceManifest = {
    schema: EVIDENCE_SCHEMA,
    createdAt,
    collector: { name: 'gatehouse', version: GATEHOUSE_VERSION, host: hostname() },
    engine: engine.endpoint,
    container: {
      id,
      ...(containerName(inspect) ? { name: containerName(inspect) } : {}),
      ...(inspect.Config?.Image ? { image: inspect.Config.Image } : {}),
      ...(inspect.Image ? { imageId: inspect.Image } : {}),
      ...(pid !== undefined ? { pid } : {}),
      ...(inspect.State?.Status ? { status: inspect.State.Status } : {}),
    },
    ...(opts.incident ? { incident: opts.incident } : {}),
    limits,
    unavailable,
    parts,
  };
  return finishBundle(out, manifest, json(manifest), opts.signingKey);
}

/**
 * Writes a bundle's manifest and, with a key, its signature (binding `manifest.container.id`)
 * and the signer's public key; the result the collectors return.
 */
export async function finishBundle(out: string, manifest: EvidenceManifest, manifestBytes: Buffer, signingKey: KeyObject | undefined): Promise<EvidenceResult> {
  await writeFile(join(out, MANIFEST_FILE), manifestBytes, { flag: 'wx', mode: 0o600 });
  let keyId: string | undefined;
  if (signingKey) {
    const signed = signManifest(manifestBytes, signingKey, manifest.container.id);
    await writeFile(join(out, SIGNATURE_FILE), signed.signature, { flag: 'wx', mode: 0o600 });
    await writeFile(join(out, SIGNER_KEY_FILE), signed.publicPem, { flag: 'wx', mode: 0o600 });
    keyId = signed.keyId;
  }
  return { path: out, manifest, manifestSha256: sha256Hex(manifestBytes), signed: keyId !== undefined, ...(keyId ? { keyId } : {}) };
}

interface TopAnswer {
  Titles?: string[];
  Processes?: string[][];
}

interface CapturedProcesses {
  source: 'proc' | 'engine';
  processes: unknown[];
  /** The engine's `top`, when it was asked. */
  top?: Array<Record<string, string>>;
  /** Why /proc could not answer, when it was tried. */
  procNote?: string;
}

async function captureProcesses(engine: EngineApi, id: string, pid: number | undefined, local: boolean, opts: CollectEvidenceOptions): Promise<CapturedProcesses> {
  // The host's /proc when the engine is local (cheap, and it has every process's pids and
  // parents); the engine's `top` (ps inside the container, 120–150 ms through podman) only
  // when /proc cannot answer: it was most of a kill's evidence capture (docs/notes/respond.md).
  const top = async () => (pid === undefined ? undefined : normalizeTop(await engine.json<TopAnswer>(`/containers/${encodeURIComponent(id)}/top?ps_args=${encodeURIComponent('-eo pid,ppid,user,args')}`)));
  if (pid !== undefined && local) {
    let procNote: string | undefined;
    try {
      const processes = await containerProcesses(pid, opts.procRoot);
      if (processes.length > 0) return { source: 'proc', processes };
    } catch (e) {
      procNote = describeError(e);
    }
    const engineView = await top();
    return { source: 'engine', processes: engineView ?? [], top: engineView, ...(procNote ? { procNote } : {}) };
  }
  const engineView = await top();
  return { source: 'engine', processes: engineView ?? [], top: engineView };
}

/** `top` answers as a list of objects keyed by title (podman may answer one column for Docker's ps args). */
export function normalizeTop(a: TopAnswer): Array<Record<string, string>> {
  let titles = a.Titles ?? [];
  let rows = a.Processes ?? [];
  if (titles.length === 1 && /\s/.test(titles[0]!.trim())) {
    titles = titles[0]!.trim().split(/\s+/);
    const n = titles.length;
    rows = rows.map((r) => {
      const cols = (r[0] ?? '').trim().split(/\s+/);
      return [...cols.slice(0, n - 1), cols.slice(n - 1).join(' ')];
    });
  }
  return rows.map((r) => Object.fromEntries(titles.map((t, i) => [t, r[i] ?? ''])));
}

async function captureLogs(engine: EngineApi, id: string, inspect: ContainerInspect, limits: EvidenceLimits): Promise<{ bytes: Buffer }> {
  const raw = await engine.bytes(`/containers/${encodeURIComponent(id)}/logs?stdout=1&stderr=1&timestamps=1&tail=${limits.logTailLines}`, limits.logBytes + 64 * 1024, true);
  const text = inspect.Config?.Tty ? raw : demuxLogs(raw);
  return { bytes: text.length > limits.logBytes ? text.subarray(text.length - limits.logBytes) : text };
}

/** Docker's multiplexed log stream → lines prefixed `stdout ` / `stderr `. */
export function demuxLogs(raw: Buffer): Buffer {
  const out: Buffer[] = [];
  let at = 0;
  while (at + 8 <= raw.length) {
    const stream = raw[at]!;
    if (stream > 2 || raw[at + 1] !== 0 || raw[at + 2] !== 0 || raw[at + 3] !== 0) return raw; // not multiplexed
    const size = raw.readUInt32BE(at + 4);
    const payload = raw.subarray(at + 8, Math.min(raw.length, at + 8 + size));
    out.push(Buffer.from(stream === 2 ? 'stderr ' : 'stdout '), payload);
    if (payload.length && payload[payload.length - 1] !== 0x0a) out.push(Buffer.from('\n'));
    at += 8 + size;
  }
  return Buffer.concat(out);
}

interface ChangeCapture {
  total: number;
  read: number;
  /** Added or changed entries left unread (past maxFiles). */
  unread: number;
  files: Array<{ record: ChangedFile; content?: Buffer }>;
}

async function captureChanges(engine: EngineApi, id: string, limits: EvidenceLimits, upperDir: string | undefined): Promise<ChangeCapture> {
  const changes: ContainerChange[] = await engine.changes(id);
  const files: ChangeCapture['files'] = changes.map((c) => ({ record: { path: c.Path, kind: KIND[c.Kind] ?? 'modified' } }));
  let read = 0;
  let copied = 0;
  const toRead = files.filter((f) => f.record.kind !== 'deleted').slice(0, limits.maxFiles);
  // A few archive reads at a time: the engine serves each from the container's overlay.
  let next = 0;
  const worker = async () => {
    while (next < toRead.length) {
      const f = toRead[next++]!;
      const r = await readChangedFile(engine, id, f.record.path, { copyLimit: limits.copyFileBytes, hashLimit: limits.hashFileBytes }, upperDir);
      read++;
      if (!r) {
        f.record.note = 'not readable through the engine: removed since, or a link whose target is missing (the engine follows links)';
        continue;
      }
      f.record.type = r.type;
      if (r.type === 'file' || r.type === 'symlink') f.record.mode = r.mode.toString(8).padStart(4, '0');
      if (r.type === 'file') {
        f.record.size = r.size;
        f.record.executable = (r.mode & 0o111) !== 0;
        if (r.magic) f.record.magic = r.magic;
        if (r.sha256) f.record.sha256 = r.sha256;
        if (r.content && copied + r.content.length <= limits.totalCopyBytes) {
          copied += r.content.length;
          f.content = r.content;
        } else if (r.content) f.record.note = `not copied: the bundle's copy budget (${limits.totalCopyBytes} bytes) is spent`;
        else if (r.sha256) f.record.note = `hashed, not copied (larger than ${limits.copyFileBytes} bytes)`;
      }
      if (r.linkTarget) f.record.linkTarget = r.linkTarget;
      if (r.note) f.record.note = r.note;
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
  let listed = 0;
  for (const f of files) {
    if (f.record.kind === 'deleted') continue;
    if (++listed > limits.maxFiles) f.record.note = `not read: past the limit of ${limits.maxFiles} files`;
  }
  return { total: changes.length, read, unread: Math.max(0, listed - limits.maxFiles), files };
}

function withoutUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
