/** docker-archive:FILE[:repo:tag] — `docker save` / `podman save` output. */
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { posix } from 'node:path';
import type { Readable } from 'node:stream';
import { UserError, describeError } from '../../util/errors.js';
import { digestOf } from '../digest.js';
import type { WalkLimits } from '../limits.js';
import type { ImageReference } from '../reference.js';
import { layerInfos, parseConfig, parseJsonDocument } from '../resolve.js';
import type { OpenedImage } from '../source.js';
import { MediaTypes, type Descriptor, type ImageManifest } from '../types.js';
import { indexTar, type TarMember } from './tar-index.js';

interface ArchiveManifestEntry {
  Config: string;
  RepoTags?: string[] | null;
  Layers: string[];
}

async function readMember(path: string, m: TarMember, max: number, what: string): Promise<Buffer> {
  if (m.size > max) throw new UserError(`${what} is larger than ${max} bytes`, 'too-large');
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(m.size);
    await fh.read(buf, 0, m.size, m.offset);
    return buf;
  } finally {
    await fh.close();
  }
}

/** Follows symlink members (newer docker saves link <id>/layer.tar into blobs/). */
function lookup(members: Map<string, TarMember>, name: string, what: string): TarMember {
  let current = posix.normalize(name).replace(/^\.\//, '');
  for (let hops = 0; hops < 16; hops++) {
    const m = members.get(current);
    if (!m) throw new UserError(`${what}: archive member "${name}" is missing`, 'bad-archive');
    if (m.type !== '2') return m;
    current = posix.normalize(posix.join(posix.dirname(current), m.linkname));
  }
  throw new UserError(`${what}: symlink loop at archive member "${name}"`, 'bad-archive');
}

export async function openDockerArchive(
  path: string,
  opts: { tag?: string; limits: WalkLimits; reference: ImageReference; name?: string; onClose?: () => Promise<void> },
): Promise<OpenedImage> {
  const name = opts.name ?? `docker-archive:${path}`;
  let members: Map<string, TarMember>;
  try {
    members = await indexTar(path);
  } catch (e) {
    if (e instanceof UserError) throw new UserError(`${name}: ${e.message.replace(`${path}: `, '').replace(path, 'file')}`, e.code);
    throw new UserError(`${name}: cannot read archive (${describeError(e)})`, 'bad-archive');
  }
  const manifestMember = members.get('manifest.json');
  if (!manifestMember) throw new UserError(`${name} is not an image archive (no manifest.json)`, 'bad-archive');
  const entries = parseJsonDocument<ArchiveManifestEntry[]>(
    await readMember(path, manifestMember, opts.limits.maxDocumentBytes, `${name}: manifest.json`),
    `${name}: manifest.json`,
    'array',
  );
  if (!Array.isArray(entries) || entries.length === 0) throw new UserError(`${name}: manifest.json lists no images`, 'bad-archive');
  let entry: ArchiveManifestEntry | undefined;
  if (opts.tag) {
    entry = entries.find((e) => (e.RepoTags ?? []).some((t) => t === opts.tag || t.endsWith(`/${opts.tag}`)));
    if (!entry) throw new UserError(`${name}: no image tagged "${opts.tag}"`, 'not-found');
  } else if (entries.length === 1) {
    entry = entries[0];
  } else {
    throw new UserError(`${name}: the archive holds ${entries.length} images; name one with docker-archive:FILE:REPO:TAG`, 'ambiguous');
  }
  if (!entry || typeof entry.Config !== 'string' || !Array.isArray(entry.Layers)) {
    throw new UserError(`${name}: manifest.json entry lacks Config or Layers`, 'bad-archive');
  }
  const configMember = lookup(members, entry.Config, name);
  const configBytes = await readMember(path, configMember, opts.limits.maxDocumentBytes, `${name}: config`);
  const configDigest = digestOf(configBytes);
  const config = parseConfig(configBytes, `${name}: config`);
  const layerMembers = entry.Layers.map((l) => lookup(members, l, name));
  const descriptors: Descriptor[] = layerMembers.map((m, i) => {
    const blobDigest = /^blobs\/sha256\/([a-f0-9]{64})$/.exec(m.name);
    return {
      mediaType: MediaTypes.dockerLayerTar,
      digest: blobDigest ? `sha256:${blobDigest[1]}` : (config.rootfs.diff_ids[i] ?? ''),
      size: m.size,
    };
  });
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MediaTypes.dockerManifest,
    config: { mediaType: MediaTypes.dockerConfig, digest: configDigest, size: configBytes.length },
    layers: descriptors,
  };
  return {
    reference: opts.reference,
    name,
    digest: configDigest,
    manifest,
    config,
    configDigest,
    platform: { os: config.os, architecture: config.architecture, ...(config.variant ? { variant: config.variant } : {}) },
    layers: layerInfos(descriptors, config, name),
    // Layers here are usually uncompressed; the walker verifies each against its diff_id.
    openLayer: async (i): Promise<Readable> => {
      const m = layerMembers[i];
      if (!m) throw new UserError(`${name}: no layer ${i}`, 'bad-layer');
      if (m.size === 0) return createReadStream(path, { start: 1, end: 0 });
      return createReadStream(path, { start: m.offset, end: m.offset + m.size - 1, highWaterMark: 1024 * 1024 });
    },
    close: opts.onClose ?? (async () => {}),
  };
}
