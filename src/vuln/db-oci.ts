/**
 * The vulnerability DB as an OCI artefact (`db push` / `db pull`), as Trivy ships trivy-db:
 * an OCI image manifest whose artifactType and config media type are
 * `application/vnd.gatehouse.vulndb.config.v1+json` (the config is the export metadata:
 * the SQLite file's digest, schema, freshness) with one gzip-compressed SQLite layer.
 * Pull verifies the layer digest and size (the registry client's verifying stream), then the
 * SQLite digest from the config, then schema and integrity, before replacing the DB.
 */
import { createWriteStream, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip, gzipSync } from 'node:zlib';
import { parseRegistryReference } from '../image/reference.js';
import { RegistryStore } from '../trust/registry-write.js';
import type { RegistryClientOptions } from '../image/registry/client.js';
import { UserError, describeError, isUserError } from '../util/errors.js';
import { checkMetadata, installDb, snapshotDb, tempBeside, type DbMetadata } from './db-archive.js';

export const VULNDB_CONFIG_TYPE = 'application/vnd.gatehouse.vulndb.config.v1+json';
export const VULNDB_LAYER_TYPE = 'application/vnd.gatehouse.vulndb.layer.v1.sqlite+gzip';
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
/** The largest DB layer a pull accepts. */
const MAX_LAYER = 8 * 1024 * 1024 * 1024;

interface Target {
  registry: string;
  repository: string;
  reference: string;
}

function target(ref: string): Target {
  const r = parseRegistryReference(ref.replace(/^docker:\/\//, ''));
  return { registry: r.registry, repository: r.repository, reference: r.digest ?? r.tag ?? 'latest' };
}

export interface PushResult {
  digest: string;
  meta: DbMetadata;
  layerSize: number;
}

export async function pushDb(dbPath: string, ref: string, opts: RegistryClientOptions = {}): Promise<PushResult> {
  const t = target(ref);
  if (t.reference.includes(':')) throw new UserError(`"${ref}": push needs a tag, not a digest`, 'bad-reference');
  const snap = tempBeside(dbPath, 'push');
  let meta: DbMetadata;
  let layer: Buffer;
  try {
    meta = await snapshotDb(dbPath, snap);
    layer = gzipSync(readFileSync(snap));
  } finally {
    for (const p of [snap, `${snap}-wal`, `${snap}-shm`]) rmSync(p, { force: true });
  }
  const config = Buffer.from(JSON.stringify(meta));
  const store = new RegistryStore(t.registry, opts);
  try {
    const layerDigest = await store.putBlob(t.repository, layer);
    const configDigest = await store.putBlob(t.repository, config);
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        artifactType: VULNDB_CONFIG_TYPE,
        config: { mediaType: VULNDB_CONFIG_TYPE, digest: configDigest, size: config.length },
        layers: [{ mediaType: VULNDB_LAYER_TYPE, digest: layerDigest, size: layer.length, annotations: { 'org.opencontainers.image.title': 'vuln.db' } }],
        annotations: { 'org.opencontainers.image.created': meta.createdAt },
      }),
    );
    const digest = await store.putManifest(t.repository, t.reference, manifest, OCI_MANIFEST);
    return { digest, meta, layerSize: layer.length };
  } finally {
    await store.close();
  }
}

interface Manifest {
  mediaType?: string;
  artifactType?: string;
  config?: { mediaType?: string; digest: string; size: number };
  layers?: { mediaType?: string; digest: string; size: number }[];
}

export async function pullDb(ref: string, dbPath: string, opts: RegistryClientOptions = {}): Promise<{ digest: string; meta: DbMetadata }> {
  const t = target(ref);
  const what = `${ref}`;
  const store = new RegistryStore(t.registry, opts);
  mkdirSync(dirname(dbPath), { recursive: true });
  const tmp = tempBeside(dbPath, 'pull');
  try {
    const doc = await store.client.getManifest(t.repository, t.reference, OCI_MANIFEST);
    let m: Manifest;
    try {
      m = JSON.parse(doc.bytes.toString('utf8')) as Manifest;
    } catch {
      throw new UserError(`${what}: the manifest is not JSON`, 'bad-db');
    }
    if (m.config?.mediaType !== VULNDB_CONFIG_TYPE) throw new UserError(`${what}: not a Gatehouse vulnerability DB artefact (config media type ${m.config?.mediaType ?? 'none'})`, 'bad-db');
    const layer = m.layers?.find((l) => l.mediaType === VULNDB_LAYER_TYPE);
    if (!layer) throw new UserError(`${what}: the artefact has no ${VULNDB_LAYER_TYPE} layer`, 'bad-db');
    if (layer.size > MAX_LAYER) throw new UserError(`${what}: the DB layer is larger than ${MAX_LAYER} bytes`, 'too-large');
    const configBytes = await store.readBlob(t.repository, m.config);
    let meta: DbMetadata;
    try {
      meta = JSON.parse(configBytes.toString('utf8')) as DbMetadata;
    } catch {
      throw new UserError(`${what}: the artefact's config is not JSON`, 'bad-db');
    }
    checkMetadata(meta, what);
    const blob = await store.client.openBlob(t.repository, { mediaType: VULNDB_LAYER_TYPE, digest: layer.digest, size: layer.size });
    try {
      await pipeline(blob, createGunzip(), createWriteStream(tmp));
    } catch (e) {
      if (isUserError(e)) throw new UserError(`${what}: ${e.message}; the old database is unchanged`, 'digest-mismatch');
      throw new UserError(`${what}: the DB layer is not valid gzip (${describeError(e)}); the old database is unchanged`, 'bad-db');
    }
    await installDb(tmp, dbPath, meta, what);
    return { digest: doc.digest, meta };
  } finally {
    await store.close();
    for (const p of [tmp, `${tmp}-wal`, `${tmp}-shm`]) rmSync(p, { force: true });
  }
}
