/**
 * A Distribution API v2 client: anonymous, Basic and Bearer-token auth through the
 * WWW-Authenticate challenge flow, retries with backoff on 429/5xx, redirects, and
 * digest-verified manifests and blobs. Other engines (signing, audit) build on `request`.
 */
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, interceptors, request, type Dispatcher } from 'undici';
import { UserError, describeError } from '../../util/errors.js';
import { DigestingStream, digestOf, readAll, verifyBytes } from '../digest.js';
import { DEFAULT_LIMITS, type WalkLimits } from '../limits.js';
import { DOCKER_HUB } from '../reference.js';
import type { FetchedDocument } from '../resolve.js';
import { INDEX_MEDIA_TYPES, MANIFEST_MEDIA_TYPES, type Descriptor } from '../types.js';
import { parseChallenges, type Challenge } from './challenge.js';
import { findCredentials, type Credentials } from './credentials.js';

export interface RetryOptions {
  /** Total attempts for idempotent requests (default 5). */
  attempts?: number;
  /** First backoff delay; doubles each retry (default 500 ms, or $GATEHOUSE_RETRY_BASE_MS). */
  baseDelayMs?: number;
  /** Longest wait between attempts, also caps Retry-After (default 20 s). */
  maxDelayMs?: number;
}

export interface RegistryClientOptions {
  /** Plain HTTP instead of HTTPS, like skopeo's --tls-verify=false (default: only for loopback registries). */
  insecure?: boolean;
  authFile?: string;
  credentials?: Credentials;
  retry?: RetryOptions;
  limits?: WalkLimits;
  userAgent?: string;
}

export interface RegistryRequest {
  method?: Dispatcher.HttpMethod;
  /** Path below the registry root, e.g. /v2/team/app/manifests/1.0, or an absolute URL. */
  path: string;
  /** Repository the request acts on, for token scopes. */
  repository?: string;
  /** Token scope actions, default "pull". */
  actions?: string;
  headers?: Record<string, string>;
  body?: Buffer | string;
  /** Statuses the caller handles itself instead of getting an error. */
  accept?: number[];
}

export interface RegistryResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Dispatcher.ResponseData['body'];
  url: string;
}

export const MANIFEST_ACCEPT = [...MANIFEST_MEDIA_TYPES, ...INDEX_MEDIA_TYPES].join(', ');

const RETRYABLE_STATUS = new Set([429, 500, 502, 503, 504]);
const RETRYABLE_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT']);

/**
 * Loopback registries speak plain HTTP unless told otherwise, as the Docker engine assumes
 * (and as `image sign` has always done).
 */
export function isLoopbackRegistry(registry: string): boolean {
  const host = registry.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** OpenSSL's answer when the other end does not speak TLS at all (a plain-HTTP registry). */
function isPlainHttpAnswer(e: unknown): boolean {
  const err = e as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  const text = `${err?.code ?? ''} ${err?.message ?? ''} ${err?.cause?.code ?? ''} ${err?.cause?.message ?? ''}`;
  return /WRONG_VERSION_NUMBER|wrong version number|packet length too long/i.test(text);
}

export class RegistryClient {
  readonly baseUrl: string;
  private readonly dispatcher: Dispatcher;
  private readonly tokens = new Map<string, string>();
  private basicAuth?: string;
  private credentials?: Credentials | null;
  private readonly limits: WalkLimits;

  constructor(
    readonly registry: string,
    private readonly opts: RegistryClientOptions = {},
  ) {
    const host = registry === DOCKER_HUB ? 'registry-1.docker.io' : registry;
    this.baseUrl = `${(opts.insecure ?? isLoopbackRegistry(registry)) ? 'http' : 'https'}://${host}`;
    this.dispatcher = new Agent({ connect: { timeout: 30_000 }, headersTimeout: 60_000, bodyTimeout: 300_000 }).compose(
      interceptors.redirect({ maxRedirections: 5 }),
    );
    this.limits = opts.limits ?? DEFAULT_LIMITS;
  }

  private creds(): Credentials | undefined {
    if (this.credentials === undefined) this.credentials = this.opts.credentials ?? findCredentials(this.registry, this.opts.authFile) ?? null;
    return this.credentials ?? undefined;
  }

  private scopeKey(req: RegistryRequest): string {
    return req.repository ? `repository:${req.repository}:${req.actions ?? 'pull'}` : '';
  }

  private authHeader(req: RegistryRequest): string | undefined {
    const token = this.tokens.get(this.scopeKey(req));
    if (token) return `Bearer ${token}`;
    return this.basicAuth;
  }

  /** Sends a request, authenticating on a 401 challenge and retrying transient failures. */
  async request(req: RegistryRequest): Promise<RegistryResponse> {
    let res = await this.send(req);
    if (res.status === 401) {
      const header = res.headers['www-authenticate'];
      await res.body.dump().catch(() => {});
      const challenges = parseChallenges(Array.isArray(header) ? header.join(', ') : (header ?? ''));
      await this.authenticate(challenges, req);
      res = await this.send(req);
    }
    if (res.status >= 200 && res.status < 300) return res;
    if (req.accept?.includes(res.status)) return res;
    throw await this.errorFor(res, req);
  }

  private async send(req: RegistryRequest): Promise<RegistryResponse> {
    const url = req.path.startsWith('http') ? req.path : `${this.baseUrl}${req.path}`;
    const method = req.method ?? 'GET';
    // POST starts uploads and is not safe to repeat; the others are idempotent.
    const idempotent = method !== 'POST' && method !== 'PATCH';
    const attempts = idempotent ? (this.opts.retry?.attempts ?? 5) : 1;
    const base = this.opts.retry?.baseDelayMs ?? Number(process.env.GATEHOUSE_RETRY_BASE_MS ?? 500);
    const maxDelay = this.opts.retry?.maxDelayMs ?? 20_000;
    let lastError: unknown;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      const headers: Record<string, string> = { 'user-agent': this.opts.userAgent ?? 'gatehouse/0.1', ...req.headers };
      const auth = this.authHeader(req);
      if (auth) headers.authorization = auth;
      try {
        const res = await request(url, { method, headers, body: req.body, dispatcher: this.dispatcher });
        if (RETRYABLE_STATUS.has(res.statusCode) && attempt < attempts) {
          const retryAfter = Number(res.headers['retry-after']);
          await res.body.dump().catch(() => {});
          const delay = Number.isFinite(retryAfter) && retryAfter >= 0 ? retryAfter * 1000 : base * 2 ** (attempt - 1);
          await sleep(Math.min(delay, maxDelay));
          continue;
        }
        return { status: res.statusCode, headers: res.headers, body: res.body, url };
      } catch (e) {
        lastError = e;
        const code = (e as { code?: string }).code ?? '';
        if (!RETRYABLE_CODES.has(code) || attempt === attempts) break;
        await sleep(Math.min(base * 2 ** (attempt - 1), maxDelay));
      }
    }
    if (url.startsWith('https:') && isPlainHttpAnswer(lastError)) {
      throw new UserError(`registry ${this.registry} speaks plain HTTP, not HTTPS: add --insecure to use it`, 'network');
    }
    throw new UserError(`registry ${this.registry}: ${method} ${url} failed: ${describeError(lastError)}`, 'network');
  }

  private async authenticate(challenges: Challenge[], req: RegistryRequest): Promise<void> {
    const bearer = challenges.find((c) => c.scheme === 'bearer');
    const basic = challenges.find((c) => c.scheme === 'basic');
    const creds = this.creds();
    if (bearer) {
      await this.fetchToken(bearer, req, creds);
      return;
    }
    if (basic) {
      if (!creds) throw new UserError(`registry ${this.registry} requires authentication and no credentials were found (docker login / $REGISTRY_AUTH_FILE)`, 'auth');
      this.basicAuth = `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
      return;
    }
    throw new UserError(`registry ${this.registry} answered 401 without a usable WWW-Authenticate challenge`, 'auth');
  }

  private async fetchToken(ch: Challenge, req: RegistryRequest, creds?: Credentials): Promise<void> {
    const realm = ch.params.realm;
    if (!realm) throw new UserError(`registry ${this.registry}: Bearer challenge without realm`, 'auth');
    const url = new URL(realm);
    if (ch.params.service) url.searchParams.set('service', ch.params.service);
    const scope = this.scopeKey(req) || ch.params.scope;
    if (scope) url.searchParams.set('scope', scope);
    const headers: Record<string, string> = { 'user-agent': this.opts.userAgent ?? 'gatehouse/0.1' };
    if (creds) headers.authorization = `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
    let res;
    try {
      res = await request(url, { method: 'GET', headers, dispatcher: this.dispatcher });
    } catch (e) {
      throw new UserError(`registry ${this.registry}: token server ${url.origin} unreachable: ${describeError(e)}`, 'auth');
    }
    const text = await res.body.text();
    if (res.statusCode !== 200) {
      throw new UserError(`registry ${this.registry}: token server refused (HTTP ${res.statusCode})${creds ? ' for the configured credentials' : '; no credentials configured'}`, 'auth');
    }
    let token: string | undefined;
    try {
      const body = JSON.parse(text) as { token?: string; access_token?: string };
      token = body.token ?? body.access_token;
    } catch {
      /* handled below */
    }
    if (!token) throw new UserError(`registry ${this.registry}: token server answered without a token`, 'auth');
    this.tokens.set(this.scopeKey(req), token);
  }

  private async errorFor(res: RegistryResponse, req: RegistryRequest): Promise<UserError> {
    let detail = '';
    try {
      const text = (await readAll(res.body, 64 * 1024, 'error body')).toString('utf8');
      const parsed = JSON.parse(text) as { errors?: { code?: string; message?: string }[] };
      detail = (parsed.errors ?? []).map((e) => [e.code, e.message].filter(Boolean).join(': ')).join('; ');
    } catch {
      await res.body.dump().catch(() => {});
    }
    const where = `${this.registry}${req.path.startsWith('/') ? req.path : ''}`;
    const suffix = detail ? ` (${detail})` : '';
    switch (res.status) {
      case 401:
        return new UserError(`registry ${this.registry}: authentication failed (HTTP 401) for ${where}${suffix}`, 'auth');
      case 403:
        return new UserError(`registry ${this.registry}: access denied (HTTP 403) for ${where}${suffix}`, 'denied');
      case 404:
        return new UserError(`registry ${this.registry}: not found (HTTP 404): ${where}${suffix}`, 'not-found');
      case 429:
        return new UserError(`registry ${this.registry}: too many requests (HTTP 429), gave up after retries${suffix}`, 'rate-limited');
      default:
        return new UserError(`registry ${this.registry}: HTTP ${res.status} for ${where}${suffix}`, 'registry-error');
    }
  }

  /** Fetches a manifest or index by tag or digest; verified when addressed by digest. */
  async getManifest(repository: string, reference: string, accept = MANIFEST_ACCEPT): Promise<FetchedDocument> {
    const res = await this.request({ path: `/v2/${repository}/manifests/${reference}`, repository, headers: { accept } });
    const bytes = await readAll(res.body, this.limits.maxDocumentBytes, `manifest ${repository}:${reference}`);
    const contentType = String(res.headers['content-type'] ?? '').split(';')[0]!.trim() || undefined;
    let digest: string;
    if (reference.includes(':')) {
      verifyBytes(bytes, reference, `manifest ${repository}@${reference}`);
      digest = reference;
    } else {
      digest = digestOf(bytes);
      const claimed = res.headers['docker-content-digest'];
      if (typeof claimed === 'string' && claimed.startsWith('sha256:') && claimed !== digest) {
        throw new UserError(`manifest ${repository}:${reference}: digest mismatch (registry says ${claimed}, content is ${digest})`, 'digest-mismatch');
      }
    }
    return { bytes, digest, mediaType: contentType };
  }

  /** A blob as a stream that fails at its end unless digest and size match. */
  async openBlob(repository: string, desc: Descriptor): Promise<Readable> {
    const res = await this.request({ path: `/v2/${repository}/blobs/${desc.digest}`, repository });
    const verifier = new DigestingStream({ expected: desc.digest, expectedSize: desc.size, what: `blob ${desc.digest}` });
    res.body.on('error', (e) => verifier.destroy(e));
    return res.body.pipe(verifier);
  }

  async readBlob(repository: string, desc: Descriptor, max = this.limits.maxDocumentBytes): Promise<Buffer> {
    if (desc.size > max) throw new UserError(`blob ${desc.digest} is larger than ${max} bytes`, 'too-large');
    const res = await this.request({ path: `/v2/${repository}/blobs/${desc.digest}`, repository });
    const bytes = await readAll(res.body, max, `blob ${desc.digest}`);
    verifyBytes(bytes, desc.digest, `blob ${desc.digest}`);
    return bytes;
  }

  async close(): Promise<void> {
    await this.dispatcher.close().catch(() => {});
  }
}
