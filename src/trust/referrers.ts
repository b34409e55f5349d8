/**
 * Storing and finding sigstore bundles as OCI 1.1 referrers of an image: an artifact
 * manifest (empty config, one bundle layer, `subject` = the image) pushed by digest. A
 * registry with the referrers API indexes it itself and says so with an `OCI-Subject`
 * header; otherwise the client keeps the referrers tag schema up to date — an OCI index
 * tagged `sha256-<hex>` listing the referrers (distribution-spec v1.1, "Pushing Manifests
 * with Subject"). Reading tries the API first and falls back to that tag.
 */
import { MediaTypes, type Descriptor, type ImageIndex, type ImageManifest } from '../image/types.js';
import { describeError, isUserError, UserError } from '../util/errors.js';
import { BUNDLE_MEDIA_TYPE, COSIGN_SIGN_PREDICATE } from './bundle.js';
import type { RegistryStore } from './registry-write.js';

const EMPTY_MEDIA_TYPE = 'application/vnd.oci.empty.v1+json';
const MAX_BUNDLE = 1024 * 1024;

export interface StoredReferrer {
  manifestDigest: string;
  /** How the registry learned of it: its referrers API, or the tag we maintain. */
  indexedBy: 'referrers-api' | 'referrers-tag';
  tag?: string;
}

/** sha256:abc… → sha256-abc… (the referrers tag schema's tag). */
export function referrersTag(digest: string): string {
  const m = /^(sha256|sha512):([a-f0-9]+)$/.exec(digest);
  if (!m) throw new UserError(`cannot derive a referrers tag from digest "${digest}"`, 'bad-digest');
  return `${m[1]}-${m[2]}`;
}

export async function pushBundleReferrer(store: RegistryStore, repository: string, digest: string, bundle: Buffer): Promise<StoredReferrer> {
  const subjectDoc = await store.findManifest(repository, digest);
  if (!subjectDoc) throw new UserError(`${repository}@${digest} not found in the registry`, 'not-found');
  const subject: Descriptor = { mediaType: subjectDoc.mediaType ?? MediaTypes.ociManifest, size: subjectDoc.bytes.length, digest };
  const empty = Buffer.from('{}');
  const emptyDigest = await store.putBlob(repository, empty);
  const bundleDigest = await store.putBlob(repository, bundle);
  const annotations = {
    'dev.sigstore.bundle.content': 'dsse-envelope',
    'dev.sigstore.bundle.predicateType': COSIGN_SIGN_PREDICATE,
    'org.opencontainers.image.created': new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
  };
  const manifest = {
    schemaVersion: 2,
    mediaType: MediaTypes.ociManifest,
    config: { mediaType: EMPTY_MEDIA_TYPE, size: empty.length, digest: emptyDigest },
    layers: [{ mediaType: BUNDLE_MEDIA_TYPE, size: bundle.length, digest: bundleDigest }],
    annotations,
    subject,
    artifactType: BUNDLE_MEDIA_TYPE,
  };
  const bytes = Buffer.from(JSON.stringify(manifest), 'utf8');
  const put = await store.putManifestWithSubject(repository, bytes, MediaTypes.ociManifest);
  if (put.subjectIndexed) return { manifestDigest: put.digest, indexedBy: 'referrers-api' };

  const tag = referrersTag(digest);
  const index = (await readReferrersTag(store, repository, digest)) ?? { schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: [] };
  if (!index.manifests.some((m) => m.digest === put.digest)) {
    index.manifests.push({ mediaType: MediaTypes.ociManifest, size: bytes.length, digest: put.digest, artifactType: BUNDLE_MEDIA_TYPE, annotations });
  }
  await store.putManifest(repository, tag, Buffer.from(JSON.stringify(index), 'utf8'), MediaTypes.ociIndex);
  return { manifestDigest: put.digest, indexedBy: 'referrers-tag', tag };
}

async function readReferrersTag(store: RegistryStore, repository: string, digest: string): Promise<ImageIndex | null> {
  const tag = referrersTag(digest);
  const doc = await store.findManifest(repository, tag, MediaTypes.ociIndex);
  if (!doc) return null;
  let index: ImageIndex;
  try {
    index = JSON.parse(doc.bytes.toString('utf8')) as ImageIndex;
  } catch {
    throw new UserError(`${repository}:${tag}: referrers index is not valid JSON`, 'bad-referrers');
  }
  if (!index || !Array.isArray(index.manifests)) throw new UserError(`${repository}:${tag}: not an OCI index (referrers tag schema)`, 'bad-referrers');
  return index;
}

export type BundleCandidate = { source: string; bytes: Buffer } | { source: string; reason: string };

/** Every sigstore-bundle referrer of `digest`: its bytes, or why it cannot be evidence. */
export async function findBundles(store: RegistryStore, repository: string, digest: string): Promise<BundleCandidate[]> {
  const viaApi = await store.referrers(repository, digest);
  const index = viaApi ?? (await readReferrersTag(store, repository, digest));
  const where = viaApi ? 'referrer' : `${referrersTag(digest)} referrer`;
  const out: BundleCandidate[] = [];
  for (const d of index?.manifests ?? []) {
    // Other artifacts (SBOMs, attestations) are skipped. cosign v2 lists its bundles with
    // the empty config's media type as artifactType, so that one is looked into as well.
    if (d.artifactType !== undefined && d.artifactType !== BUNDLE_MEDIA_TYPE && d.artifactType !== EMPTY_MEDIA_TYPE) continue;
    const source = `${where} ${d.digest}`;
    try {
      const doc = await store.findManifest(repository, d.digest, MediaTypes.ociManifest);
      if (!doc) {
        out.push({ source, reason: 'referrer manifest not found' });
        continue;
      }
      const m = JSON.parse(doc.bytes.toString('utf8')) as ImageManifest & { subject?: Descriptor; artifactType?: string };
      const layer = Array.isArray(m.layers) ? m.layers.find((l) => l.mediaType === BUNDLE_MEDIA_TYPE) : undefined;
      if (!layer) {
        if (d.artifactType === BUNDLE_MEDIA_TYPE || m.artifactType === BUNDLE_MEDIA_TYPE) out.push({ source, reason: 'referrer has no bundle layer' });
        continue;
      }
      if (m.subject?.digest !== digest) {
        out.push({ source, reason: `referrer's subject is ${m.subject?.digest ?? 'missing'}, not ${digest}` });
        continue;
      }
      out.push({ source, bytes: await store.readBlob(repository, layer, MAX_BUNDLE) });
    } catch (e) {
      if (!isUserError(e) && !(e instanceof SyntaxError)) throw e;
      out.push({ source, reason: `unreadable referrer: ${describeError(e)}` });
    }
  }
  return out;
}
