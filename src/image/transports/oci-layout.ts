/** oci:PATH[:TAG] — an OCI image layout directory (index.json + blobs/<alg>/<hex>). */
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { UserError, describeError } from '../../util/errors.js';
import { DigestingStream, parseDigest, verifyBytes } from '../digest.js';
import type { WalkLimits } from '../limits.js';
import type { OciLayoutReference } from '../reference.js';
import { openFromManifest, parseJsonDocument, resolveManifest, type FetchedDocument } from '../resolve.js';
import type { BlobStore, OpenedImage } from '../source.js';
import type { Descriptor, ImageIndex, Platform } from '../types.js';

const REF_NAME = 'org.opencontainers.image.ref.name';

export class OciLayoutStore implements BlobStore {
  constructor(
    readonly root: string,
    private readonly limits: WalkLimits,
  ) {}

  blobPath(digest: string): string {
    const { algorithm, hex } = parseDigest(digest);
    return join(this.root, 'blobs', algorithm, hex);
  }

  async openBlob(desc: Descriptor): Promise<Readable> {
    const path = this.blobPath(desc.digest);
    await stat(path).catch(() => {
      throw new UserError(`oci:${this.root}: blob ${desc.digest} is missing`, 'missing-blob');
    });
    const verifier = new DigestingStream({ expected: desc.digest, expectedSize: desc.size, what: `blob ${desc.digest}` });
    const file = createReadStream(path, { highWaterMark: 1024 * 1024 });
    file.on('error', (e) => verifier.destroy(e));
    return file.pipe(verifier);
  }

  async readDocument(desc: Descriptor): Promise<Buffer> {
    const path = this.blobPath(desc.digest);
    const info = await stat(path).catch(() => {
      throw new UserError(`oci:${this.root}: blob ${desc.digest} is missing`, 'missing-blob');
    });
    if (info.size > this.limits.maxDocumentBytes) throw new UserError(`oci:${this.root}: document ${desc.digest} is too large`, 'too-large');
    const bytes = await readFile(path);
    verifyBytes(bytes, desc.digest, `blob ${desc.digest}`);
    return bytes;
  }
}

export async function openOciLayout(
  ref: OciLayoutReference,
  opts: { platform?: Platform; limits: WalkLimits },
): Promise<OpenedImage> {
  const root = resolve(ref.path);
  const name = `oci:${ref.path}${ref.tag ? `:${ref.tag}` : ''}`;
  let indexBytes: Buffer;
  try {
    const layout = parseJsonDocument<{ imageLayoutVersion?: string }>(await readFile(join(root, 'oci-layout')), `${name}: oci-layout`);
    if (!layout.imageLayoutVersion) throw new UserError(`${name}: oci-layout has no imageLayoutVersion`, 'bad-layout');
    indexBytes = await readFile(join(root, 'index.json'));
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(`${name} is not an OCI image layout (${describeError(e)})`, 'bad-layout');
  }
  const index = parseJsonDocument<ImageIndex>(indexBytes, `${name}: index.json`);
  if (!Array.isArray(index.manifests)) throw new UserError(`${name}: index.json has no manifests`, 'bad-layout');
  let entry: Descriptor | undefined;
  if (ref.tag) {
    entry = index.manifests.find((d) => d.annotations?.[REF_NAME] === ref.tag);
    if (!entry) {
      const tags = index.manifests.map((d) => d.annotations?.[REF_NAME]).filter(Boolean);
      throw new UserError(`${name}: no image tagged "${ref.tag}" (tags: ${tags.join(', ') || 'none'})`, 'not-found');
    }
  } else if (index.manifests.length === 1) {
    entry = index.manifests[0];
  } else {
    throw new UserError(`${name}: the layout holds ${index.manifests.length} images; name one with oci:PATH:TAG`, 'ambiguous');
  }
  const store = new OciLayoutStore(root, opts.limits);
  const fetch = async (d: Descriptor): Promise<FetchedDocument> => ({ bytes: await store.readDocument(d), digest: d.digest, mediaType: d.mediaType });
  const top = await fetch(entry!);
  const resolved = await resolveManifest(top, fetch, name, { platform: opts.platform });
  return openFromManifest({ reference: ref, name, store, ...resolved });
}
