/**
 * The registry operations signing and auditing need beyond pulling: blob upload, manifest
 * PUT, tag and catalog listing with Link pagination, and the OCI 1.1 referrers API. Built
 * on the shared RegistryClient's authenticated `request`, so auth, retries and credentials
 * behave the same as for pulls.
 */
import { RegistryClient, MANIFEST_ACCEPT, type RegistryClientOptions } from '../image/registry/client.js';
import { digestOf, readAll, verifyBytes } from '../image/digest.js';
import type { FetchedDocument } from '../image/resolve.js';
import type { Descriptor, ImageIndex } from '../image/types.js';
import { UserError } from '../util/errors.js';

const MAX_DOCUMENT = 8 * 1024 * 1024;
/** Stop following Link headers after this many pages: a looping registry must not hang us. */
const MAX_PAGES = 10_000;

export class RegistryStore {
  readonly client: RegistryClient;

  constructor(
    readonly registry: string,
    opts: RegistryClientOptions = {},
  ) {
    // The client itself speaks plain HTTP to loopback registries unless told otherwise.
    this.client = new RegistryClient(registry, opts);
  }

  close(): Promise<void> {
    return this.client.close();
  }

  /** A manifest by tag or digest, or null when the registry has none (404). */
  async findManifest(repository: string, reference: string, accept = MANIFEST_ACCEPT): Promise<FetchedDocument | null> {
    const res = await this.client.request({
      path: `/v2/${repository}/manifests/${reference}`,
      repository,
      headers: { accept },
      accept: [404],
    });
    if (res.status === 404) {
      await res.body.dump().catch(() => {});
      return null;
    }
    const bytes = await readAll(res.body, MAX_DOCUMENT, `manifest ${repository}:${reference}`);
    const digest = reference.includes(':') ? reference : digestOf(bytes);
    if (reference.includes(':')) verifyBytes(bytes, reference, `manifest ${repository}@${reference}`);
    const mediaType = String(res.headers['content-type'] ?? '').split(';')[0]?.trim() || undefined;
    return { bytes, digest, mediaType };
  }

  async getManifest(repository: string, reference: string): Promise<FetchedDocument> {
    return this.client.getManifest(repository, reference);
  }

  /** The digest a tag (or digest) currently resolves to. */
  async resolveDigest(repository: string, reference: string): Promise<string> {
    return (await this.client.getManifest(repository, reference)).digest;
  }

  async readBlob(repository: string, desc: Pick<Descriptor, 'digest' | 'size'>, max = MAX_DOCUMENT): Promise<Buffer> {
    return this.client.readBlob(repository, { mediaType: '', ...desc }, max);
  }

  /** Uploads a small blob (monolithic POST + PUT) unless the registry already has it. */
  async putBlob(repository: string, bytes: Buffer): Promise<string> {
    const digest = digestOf(bytes);
    const head = await this.client.request({ method: 'HEAD', path: `/v2/${repository}/blobs/${digest}`, repository, actions: 'pull,push', accept: [404] });
    await head.body.dump().catch(() => {});
    if (head.status === 200) return digest;
    const start = await this.client.request({ method: 'POST', path: `/v2/${repository}/blobs/uploads/`, repository, actions: 'pull,push' });
    await start.body.dump().catch(() => {});
    const location = start.headers.location;
    if (typeof location !== 'string') throw new UserError(`registry ${this.registry}: blob upload answered without a Location`, 'registry-error');
    const url = new URL(location, this.client.baseUrl);
    url.searchParams.set('digest', digest);
    const put = await this.client.request({
      method: 'PUT',
      path: url.toString(),
      repository,
      actions: 'pull,push',
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(bytes.length) },
      body: bytes,
    });
    await put.body.dump().catch(() => {});
    return digest;
  }

  /** PUTs a manifest under a tag or its digest; returns its digest. */
  async putManifest(repository: string, reference: string, bytes: Buffer, mediaType: string): Promise<string> {
    await this.sendManifest(repository, reference, bytes, mediaType);
    return digestOf(bytes);
  }

  /**
   * PUTs a manifest that has a `subject` under its own digest. A registry with the
   * referrers API answers with an `OCI-Subject` header: then it indexes the referrer itself.
   */
  async putManifestWithSubject(repository: string, bytes: Buffer, mediaType: string): Promise<{ digest: string; subjectIndexed: boolean }> {
    const digest = digestOf(bytes);
    const headers = await this.sendManifest(repository, digest, bytes, mediaType);
    return { digest, subjectIndexed: headers['oci-subject'] !== undefined };
  }

  private async sendManifest(repository: string, reference: string, bytes: Buffer, mediaType: string): Promise<Record<string, string | string[] | undefined>> {
    const res = await this.client.request({
      method: 'PUT',
      path: `/v2/${repository}/manifests/${reference}`,
      repository,
      actions: 'pull,push',
      headers: { 'content-type': mediaType },
      body: bytes,
    });
    await res.body.dump().catch(() => {});
    return res.headers;
  }

  async deleteManifest(repository: string, digest: string): Promise<void> {
    const res = await this.client.request({
      method: 'DELETE',
      path: `/v2/${repository}/manifests/${digest}`,
      repository,
      actions: 'delete',
      accept: [405],
    });
    await res.body.dump().catch(() => {});
    if (res.status === 405) throw new UserError(`registry ${this.registry}: deleting manifests is not allowed (HTTP 405; the registry has deletion disabled)`, 'denied');
  }

  /** Every tag of a repository, following Link pagination. */
  async listTags(repository: string, pageSize = 1000): Promise<string[]> {
    const tags: string[] = [];
    for await (const page of this.pages<{ tags?: string[] | null }>(`/v2/${repository}/tags/list?n=${pageSize}`, repository)) {
      tags.push(...(page.tags ?? []));
    }
    return tags;
  }

  /** Every repository the registry lists in /v2/_catalog, following Link pagination. */
  async catalog(pageSize = 1000): Promise<string[]> {
    const repos: string[] = [];
    for await (const page of this.pages<{ repositories?: string[] | null }>(`/v2/_catalog?n=${pageSize}`)) {
      repos.push(...(page.repositories ?? []));
    }
    return repos;
  }

  private async *pages<T>(first: string, repository?: string): AsyncGenerator<T> {
    let next: string | undefined = first;
    for (let n = 0; next && n < MAX_PAGES; n++) {
      const res = await this.client.request({ path: next, repository, headers: { accept: 'application/json' } });
      const bytes = await readAll(res.body, MAX_DOCUMENT, `listing ${next}`);
      let doc: T;
      try {
        doc = JSON.parse(bytes.toString('utf8')) as T;
      } catch {
        throw new UserError(`registry ${this.registry}: ${next} did not answer JSON`, 'registry-error');
      }
      yield doc;
      next = nextLink(res.headers.link);
    }
  }

  /**
   * OCI 1.1 referrers of a manifest, or null when the registry has no referrers API (then
   * clients use the `sha256-<hex>` tag schema instead).
   */
  async referrers(repository: string, digest: string): Promise<ImageIndex | null> {
    const res = await this.client.request({
      path: `/v2/${repository}/referrers/${digest}`,
      repository,
      headers: { accept: 'application/vnd.oci.image.index.v1+json' },
      accept: [404, 400, 405],
    });
    const type = String(res.headers['content-type'] ?? '');
    if (res.status !== 200 || !type.includes('application/vnd.oci.image.index.v1+json')) {
      await res.body.dump().catch(() => {});
      return null;
    }
    const bytes = await readAll(res.body, MAX_DOCUMENT, `referrers of ${digest}`);
    try {
      return JSON.parse(bytes.toString('utf8')) as ImageIndex;
    } catch {
      throw new UserError(`registry ${this.registry}: referrers of ${digest} is not valid JSON`, 'registry-error');
    }
  }
}

/** The target of a `Link: <url>; rel="next"` header, if any. */
export function nextLink(header: string | string[] | undefined): string | undefined {
  const text = Array.isArray(header) ? header.join(', ') : header;
  const m = text ? /<([^>]+)>\s*;\s*rel="?next"?/.exec(text) : null;
  return m?.[1];
}
