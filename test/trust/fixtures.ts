/** Test images pushed straight to the local registry: tiny, unique per test, with a chosen `created`. */
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RegistryStore } from '../../src/trust/registry-write.js';
import { digestOf } from '../../src/image/digest.js';
import { MediaTypes } from '../../src/image/types.js';
import { cachedPath, testRegistry } from '../helpers/components.js';

/** One 512-byte-header tar with a single random file, so every image has a unique digest. */
function tinyTar(name: string, content: Buffer): Buffer {
  const header = Buffer.alloc(512);
  header.write(name, 0, 'utf8');
  header.write('0000644\0', 100);
  header.write('0000000\0', 108);
  header.write('0000000\0', 116);
  header.write(`${content.length.toString(8).padStart(11, '0')}\0`, 124);
  header.write('00000000000\0', 136);
  header.write('        ', 148);
  header.write('0', 156);
  header.write('ustar\0', 257);
  header.write('00', 263);
  let sum = 0;
  for (const b of header) sum += b;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  const body = Buffer.alloc(Math.ceil(content.length / 512) * 512);
  content.copy(body);
  return Buffer.concat([header, body, Buffer.alloc(1024)]);
}

export interface PushedImage {
  registry: string;
  repository: string;
  tag: string;
  digest: string;
  /** registry/repository:tag */
  ref: string;
}

/** A unique repository name under trust-test/ for one test. */
export function uniqueRepo(label: string): string {
  return `trust-test/${label}-${randomBytes(4).toString('hex')}`;
}

export async function pushTestImage(repository: string, tag = '1', created = new Date().toISOString()): Promise<PushedImage> {
  const store = new RegistryStore(testRegistry);
  try {
    const tar = tinyTar('hello.txt', randomBytes(32));
    const layer = gzipSync(tar);
    const config = Buffer.from(
      JSON.stringify({
        architecture: 'amd64',
        os: 'linux',
        created,
        config: { Cmd: ['/hello'] },
        rootfs: { type: 'layers', diff_ids: [digestOf(tar)] },
        history: [{ created, created_by: 'gatehouse test fixture' }],
      }),
    );
    await store.putBlob(repository, layer);
    await store.putBlob(repository, config);
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaTypes.ociManifest,
        config: { mediaType: MediaTypes.ociConfig, digest: digestOf(config), size: config.length },
        layers: [{ mediaType: MediaTypes.ociLayerGzip, digest: digestOf(layer), size: layer.length }],
      }),
    );
    const digest = await store.putManifest(repository, tag, manifest, MediaTypes.ociManifest);
    return { registry: testRegistry, repository, tag, digest, ref: `${testRegistry}/${repository}:${tag}` };
  } finally {
    await store.close();
  }
}

/** A scratch directory removed by the returned cleanup. */
export function scratchDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-trust-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Whether the local test registry answers (checked once, synchronously, for `skip:`). */
export function registryUp(): boolean {
  return spawnSync('curl', ['-sf', '-o', '/dev/null', `http://${testRegistry}/v2/`], { stdio: 'ignore' }).status === 0;
}

/** Replaces the image's legacy `.sig` manifest by one with no signatures, so only bundles remain. */
export async function dropLegacySignatures(repository: string, digest: string): Promise<void> {
  const store = new RegistryStore(testRegistry);
  try {
    const config = Buffer.from('{"architecture":"","os":"","rootfs":{"type":"layers","diff_ids":[]},"config":{}}');
    const configDigest = await store.putBlob(repository, config);
    const manifest = { schemaVersion: 2, mediaType: MediaTypes.ociManifest, config: { mediaType: MediaTypes.ociConfig, size: config.length, digest: configDigest }, layers: [] };
    await store.putManifest(repository, `${digest.replace(':', '-')}.sig`, Buffer.from(JSON.stringify(manifest)), MediaTypes.ociManifest);
  } finally {
    await store.close();
  }
}

/**
 * Runs a cosign built by .ci/setup.d/50-cosign.sh (`v2` or `v3`) with the passphrase in its
 * environment and a private HOME/TUF root; never throws, returns exit code and output.
 */
export async function runCosign(version: 'v2' | 'v3', args: string[], cwd: string, password: string): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(cachedPath('bin', `cosign-${version}`), args, {
      cwd,
      env: { ...process.env, COSIGN_PASSWORD: password, COSIGN_YES: 'true', HOME: cwd, TUF_ROOT: join(cwd, '.sigstore') },
      timeout: 120_000,
    });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof err.code === 'number' ? err.code : 1, stdout: err.stdout ?? '', stderr: err.stderr ?? String(e) };
  }
}
