/** The facts `gatehouse image inspect` reports, computed from an opened and walked image. */
import { formatPlatform } from './platform.js';
import { collectFiles } from './visitors.js';
import { OS_RELEASE_PATHS, parseOsRelease } from './os-release.js';
import type { OpenedImage } from './source.js';
import { walkImage, type WalkOptions } from './walk.js';
import type { FileEntry } from './files.js';

export interface InspectReport {
  name: string;
  digest: string;
  indexDigest?: string;
  configDigest: string;
  platform: string;
  created?: string;
  os?: { id?: string; versionId?: string; prettyName?: string };
  config: {
    user: string;
    env: string[];
    entrypoint: string[];
    cmd: string[];
    workingDir: string;
    exposedPorts: string[];
    labels: Record<string, string>;
  };
  layers: {
    index: number;
    digest: string;
    diffId: string;
    mediaType: string;
    size: number;
    expandedSize: number;
    entries: number;
    createdBy?: string;
    created?: string;
  }[];
  history: { created?: string; createdBy?: string; emptyLayer: boolean; comment?: string }[];
  totalSize: number;
  expandedSize: number;
  fileCount: number;
  entryCount: number;
  warnings: string[];
}

export async function inspectImage(image: OpenedImage, opts: WalkOptions = {}): Promise<InspectReport> {
  const osVisitor = collectFiles('os-release', OS_RELEASE_PATHS, 64 * 1024);
  const walk = await walkImage(image, { ...opts, visitors: [...(opts.visitors ?? []), osVisitor] });
  const osFiles = new Map((walk.results.get('os-release') ?? []).map((r) => [r.path, r.result as Buffer]));
  let os: InspectReport['os'];
  for (const p of OS_RELEASE_PATHS) {
    let real: string;
    try {
      real = walk.files.resolvePath(p);
    } catch {
      continue;
    }
    const bytes = osFiles.get(real);
    if (bytes) {
      const f = parseOsRelease(bytes.toString('utf8'));
      os = { id: f.ID, versionId: f.VERSION_ID, prettyName: f.PRETTY_NAME };
      break;
    }
  }
  let fileCount = 0;
  for (const e of walk.files.entries()) if (e.type === 'file' || e.type === 'hardlink') fileCount++;
  const c = image.config.config ?? {};
  return {
    name: image.name,
    digest: image.digest,
    indexDigest: image.indexDigest,
    configDigest: image.configDigest,
    platform: formatPlatform(image.platform),
    created: image.config.created,
    os,
    config: {
      user: c.User ?? '',
      env: c.Env ?? [],
      entrypoint: c.Entrypoint ?? [],
      cmd: c.Cmd ?? [],
      workingDir: c.WorkingDir ?? '',
      exposedPorts: Object.keys(c.ExposedPorts ?? {}),
      labels: c.Labels ?? {},
    },
    layers: image.layers.map((l, i) => ({
      index: l.index,
      digest: l.digest,
      diffId: l.diffId,
      mediaType: l.mediaType,
      size: l.size,
      expandedSize: walk.layers[i]?.expandedBytes ?? 0,
      entries: walk.layers[i]?.entries ?? 0,
      createdBy: l.createdBy,
      created: l.created,
    })),
    history: (image.config.history ?? []).map((h) => ({
      created: h.created,
      createdBy: h.created_by,
      emptyLayer: h.empty_layer === true,
      comment: h.comment,
    })),
    totalSize: image.layers.reduce((s, l) => s + l.size, 0),
    expandedSize: walk.layers.reduce((s, l) => s + l.expandedBytes, 0),
    fileCount,
    entryCount: walk.files.size,
    warnings: walk.warnings,
  };
}

/** One row of `gatehouse image ls --format json`: exactly these keys. */
export interface ListingRow {
  path: string;
  type: FileEntry['type'];
  size: number;
  mode: string;
  uid: number;
  gid: number;
  linkname: string | null;
  layer: number;
}

export function listingRow(e: FileEntry): ListingRow {
  return {
    path: e.path,
    type: e.type,
    size: e.size,
    mode: e.mode.toString(8).padStart(4, '0'),
    uid: e.uid,
    gid: e.gid,
    linkname: e.linkname ?? null,
    layer: e.layer,
  };
}
