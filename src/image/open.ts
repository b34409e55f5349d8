/** Opens any image reference through the transport it names. */
import { UserError } from '../util/errors.js';
import { withLimits, type WalkLimits } from './limits.js';
import { parsePlatform } from './platform.js';
import { parseReference, type ImageReference } from './reference.js';
import type { RegistryClientOptions } from './registry/client.js';
import type { OpenedImage } from './source.js';
import { openDockerArchive } from './transports/docker-archive.js';
import { openDockerDaemonImage } from './transports/docker-daemon.js';
import { openOciLayout } from './transports/oci-layout.js';
import { openRegistryImage } from './transports/registry.js';
import type { Platform } from './types.js';

export interface OpenImageOptions {
  /** os/arch[/variant] or a Platform; default the host's. */
  platform?: string | Platform;
  /** Plain-HTTP registry access. */
  insecure?: boolean;
  authFile?: string;
  registry?: Omit<RegistryClientOptions, 'insecure' | 'authFile' | 'limits'>;
  limits?: Partial<WalkLimits>;
  /** Docker Engine endpoint for docker-daemon: (default $DOCKER_HOST or /var/run/docker.sock). */
  dockerHost?: string;
  /** Where temporary files may be written (docker-daemon: export spool). */
  workDir?: string;
}

export async function openImage(ref: string | ImageReference, opts: OpenImageOptions = {}): Promise<OpenedImage> {
  const image = await openByTransport(ref, opts);
  image.limits = withLimits(opts.limits);
  return image;
}

async function openByTransport(ref: string | ImageReference, opts: OpenImageOptions): Promise<OpenedImage> {
  const reference = typeof ref === 'string' ? parseReference(ref) : ref;
  const limits = withLimits(opts.limits);
  const platform = typeof opts.platform === 'string' ? parsePlatform(opts.platform) : opts.platform;
  switch (reference.transport) {
    case 'docker':
      return openRegistryImage(reference, {
        platform,
        limits,
        registry: { ...opts.registry, insecure: opts.insecure, authFile: opts.authFile },
      });
    case 'oci':
      return openOciLayout(reference, { platform, limits });
    case 'docker-archive':
      return openDockerArchive(reference.path, { tag: reference.tag, limits, reference });
    case 'docker-daemon':
      return openDockerDaemonImage(reference, { limits, dockerHost: opts.dockerHost, workDir: opts.workDir });
    default:
      throw new UserError(`unsupported transport in "${String(ref)}"`, 'bad-reference');
  }
}
