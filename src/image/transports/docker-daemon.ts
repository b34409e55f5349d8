/**
 * docker-daemon:NAME — an image held by a Docker Engine (or podman's compatible API
 * service), reached through $DOCKER_HOST or /var/run/docker.sock. The engine exports a
 * docker-archive stream, which is spooled to a private temporary file and read from there.
 */
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Agent, request, type Dispatcher } from 'undici';
import { UserError, describeError } from '../../util/errors.js';
import type { WalkLimits } from '../limits.js';
import type { DockerDaemonReference } from '../reference.js';
import type { OpenedImage } from '../source.js';
import { openDockerArchive } from './docker-archive.js';

export interface EngineEndpoint {
  baseUrl: string;
  dispatcher: Dispatcher;
  describe: string;
}

/** Resolves $DOCKER_HOST (unix://, tcp://, http://) or the default socket. */
export function engineEndpoint(dockerHost = process.env.DOCKER_HOST): EngineEndpoint {
  const host = dockerHost || 'unix:///var/run/docker.sock';
  if (host.startsWith('unix://')) {
    const socketPath = host.slice('unix://'.length);
    return { baseUrl: 'http://localhost', dispatcher: new Agent({ connect: { socketPath } }), describe: host };
  }
  if (host.startsWith('tcp://') || host.startsWith('http://')) {
    return { baseUrl: `http://${host.replace(/^\w+:\/\//, '')}`, dispatcher: new Agent(), describe: host };
  }
  throw new UserError(`unsupported DOCKER_HOST "${host}" (expected unix:// or tcp://)`, 'bad-engine');
}

export async function openDockerDaemonImage(
  ref: DockerDaemonReference,
  opts: { limits: WalkLimits; dockerHost?: string; workDir?: string },
): Promise<OpenedImage> {
  const engine = engineEndpoint(opts.dockerHost);
  const name = `docker-daemon:${ref.name}`;
  const path = `/images/${encodeURI(ref.name)}`;
  const call = async (suffix: string) => {
    try {
      return await request(`${engine.baseUrl}${path}${suffix}`, { dispatcher: engine.dispatcher });
    } catch (e) {
      throw new UserError(`${name}: cannot reach the container engine at ${engine.describe} (${describeError(e)})`, 'engine-unreachable');
    }
  };
  try {
    const inspect = await call('/json');
    await inspect.body.dump();
    if (inspect.statusCode === 404) throw new UserError(`${name}: no such image in the engine at ${engine.describe}`, 'not-found');
    if (inspect.statusCode !== 200) throw new UserError(`${name}: engine answered HTTP ${inspect.statusCode}`, 'engine-error');
    const dir = await mkdtemp(join(opts.workDir ?? tmpdir(), 'gatehouse-daemon-'));
    const file = join(dir, 'image.tar');
    try {
      const exported = await call('/get');
      if (exported.statusCode !== 200) {
        await exported.body.dump();
        throw new UserError(`${name}: engine refused to export the image (HTTP ${exported.statusCode})`, 'engine-error');
      }
      // A large write buffer matters: with the default 16 KiB, backpressure pauses the engine
      // socket so often that podman's export slows down ~100x.
      await pipeline(exported.body, createWriteStream(file, { mode: 0o600, highWaterMark: 8 * 1024 * 1024 }));
      return await openDockerArchive(file, {
        limits: opts.limits,
        reference: ref,
        name,
        onClose: () => rm(dir, { recursive: true, force: true }),
      });
    } catch (e) {
      await rm(dir, { recursive: true, force: true });
      throw e;
    }
  } finally {
    await engine.dispatcher.close().catch(() => {});
  }
}
