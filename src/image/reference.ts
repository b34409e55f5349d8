/**
 * Image references as skopeo and podman spell them:
 *   registry.example:5000/team/app:1.2, repo@sha256:…, nginx (→ docker.io/library/nginx:latest),
 *   docker://…, oci:PATH[:TAG], docker-archive:FILE[:ref], docker-daemon:NAME.
 */
import { UserError } from '../util/errors.js';

export interface RegistryReference {
  transport: 'docker';
  /** Registry host as written by the user (docker.io for Docker Hub). */
  registry: string;
  /** Repository path inside the registry, e.g. library/nginx. */
  repository: string;
  tag?: string;
  digest?: string;
}

export interface OciLayoutReference {
  transport: 'oci';
  path: string;
  tag?: string;
}

export interface DockerArchiveReference {
  transport: 'docker-archive';
  path: string;
  /** Optional repo:tag inside a multi-image archive. */
  tag?: string;
}

export interface DockerDaemonReference {
  transport: 'docker-daemon';
  /** Name, name:tag or image id as the engine knows it. */
  name: string;
}

export type ImageReference = RegistryReference | OciLayoutReference | DockerArchiveReference | DockerDaemonReference;

export const DOCKER_HUB = 'docker.io';
const DIGEST_RE = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/;
const TAG_RE = /^[\w][\w.-]{0,127}$/;
const REPO_COMPONENT_RE = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/;

export function parseReference(input: string): ImageReference {
  const text = input.trim();
  if (!text) throw new UserError('empty image reference', 'bad-reference');
  if (text.startsWith('oci:')) {
    const { path, tag } = splitPathAndTag(text.slice(4));
    if (!path) throw new UserError(`"${input}": oci: needs a directory path`, 'bad-reference');
    return { transport: 'oci', path, tag };
  }
  if (text.startsWith('docker-archive:')) {
    const { path, tag } = splitPathAndTag(text.slice('docker-archive:'.length));
    if (!path) throw new UserError(`"${input}": docker-archive: needs a file path`, 'bad-reference');
    return { transport: 'docker-archive', path, tag };
  }
  if (text.startsWith('docker-daemon:')) {
    const name = text.slice('docker-daemon:'.length);
    if (!name) throw new UserError(`"${input}": docker-daemon: needs an image name`, 'bad-reference');
    return { transport: 'docker-daemon', name };
  }
  const bare = text.startsWith('docker://') ? text.slice('docker://'.length) : text;
  return parseRegistryReference(bare, input);
}

/** PATH[:TAG] where PATH itself may contain colons only before the last one. */
function splitPathAndTag(s: string): { path: string; tag?: string } {
  const idx = s.lastIndexOf(':');
  if (idx > 0 && !s.slice(idx + 1).includes('/')) return { path: s.slice(0, idx), tag: s.slice(idx + 1) || undefined };
  return { path: s };
}

export function parseRegistryReference(text: string, original = text): RegistryReference {
  let rest = text;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST_RE.test(digest)) throw new UserError(`"${original}": invalid digest "${digest}"`, 'bad-reference');
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG_RE.test(tag)) throw new UserError(`"${original}": invalid tag "${tag}"`, 'bad-reference');
  }
  const parts = rest.split('/');
  let registry = DOCKER_HUB;
  const first = parts[0] ?? '';
  if (parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost')) {
    registry = first;
    parts.shift();
  }
  if (registry === 'index.docker.io' || registry === 'registry-1.docker.io') registry = DOCKER_HUB;
  if (registry === DOCKER_HUB && parts.length === 1) parts.unshift('library');
  for (const p of parts) {
    if (!REPO_COMPONENT_RE.test(p)) throw new UserError(`"${original}": invalid repository name component "${p}"`, 'bad-reference');
  }
  if (!tag && !digest) tag = 'latest';
  return { transport: 'docker', registry, repository: parts.join('/'), tag, digest };
}

/** Canonical text of a reference, e.g. docker.io/library/nginx:latest or oci:/x:tag. */
export function formatReference(ref: ImageReference): string {
  switch (ref.transport) {
    case 'docker':
      return `${ref.registry}/${ref.repository}${ref.tag ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`;
    case 'oci':
      return `oci:${ref.path}${ref.tag ? `:${ref.tag}` : ''}`;
    case 'docker-archive':
      return `docker-archive:${ref.path}${ref.tag ? `:${ref.tag}` : ''}`;
    case 'docker-daemon':
      return `docker-daemon:${ref.name}`;
  }
}

/** registry/repository without tag or digest, as cosign's docker-reference uses it. */
export function repositoryName(ref: RegistryReference): string {
  return `${ref.registry}/${ref.repository}`;
}

export interface ImageNameParts {
  repository: string;
  tag?: string;
  digest?: string;
}

/**
 * Splits an image name as written (in a manifest, a Dockerfile, a container's config) into
 * repository, tag and digest, without normalizing it (no docker.io/library/ added): what
 * posture checks and runtime fields (container.image.repository) report.
 */
export function splitImageName(image: string): ImageNameParts {
  let rest = image.trim();
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  // A ':' after the last '/' is a tag; one before it belongs to a registry host:port.
  const slash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  let tag: string | undefined;
  if (colon > slash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  return { repository: rest, ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) };
}
