/**
 * The HTTP client of Central's API, used by every client command (`--server URL --token T`)
 * and by the sensor's and the engine-proxy's event shippers. JSON in, JSON out, a bearer
 * token on every request; failures become one-line UserErrors. The token is never put in an
 * error message.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { Agent, request } from 'undici';
import { UserError, describeError } from '../../util/errors.js';

export interface CentralClientOptions {
  /** Base URL of Central: https://host:8443 (http:// only for a loopback address). */
  server: string;
  token: string;
  /** PEM of the CA that signed Central's certificate; when given it is the only trust anchor. */
  ca?: string | Buffer;
  /** Accept any certificate (tests, first contact before the CA is copied): never in production. */
  insecureSkipVerify?: boolean;
  /** Limit on waiting for response headers and body (default 30 s). */
  timeoutMs?: number;
}

export interface RequestOptions {
  /** Aborts the request (e.g. a shipper closing with a deadline). */
  signal?: AbortSignal;
}

export type Query = Record<string, string | number | boolean | undefined>;

/** A request Central answered with a non-2xx status, or a request that never got an answer (no status). */
export class CentralError extends UserError {
  constructor(
    message: string,
    readonly status: number | undefined,
    /** Central's machine-readable error ('Bad Request', 'Unauthorized', …), when it sent one. */
    readonly error?: string,
    options?: { cause?: unknown },
  ) {
    super(message, 'central', options);
  }
}

export class CentralClient {
  /** Central's URL as shown in messages (no trailing slash). */
  readonly server: string;
  private readonly base: string;
  private readonly authorization: string;
  private readonly dispatcher: Agent;

  constructor(opts: CentralClientOptions) {
    this.base = normaliseServer(opts.server);
    this.server = this.base.replace(/\/$/, '');
    if (!opts.token) throw new UserError('a Central API token is needed (--token or GATEHOUSE_TOKEN)');
    if (/[\r\n]/.test(opts.token)) throw new UserError('the Central API token must be one line');
    this.authorization = `Bearer ${opts.token}`;
    const timeout = opts.timeoutMs ?? 30_000;
    this.dispatcher = new Agent({
      connect: { timeout, ...(opts.ca !== undefined ? { ca: opts.ca } : {}), rejectUnauthorized: !opts.insecureSkipVerify },
      headersTimeout: timeout,
      bodyTimeout: timeout,
    });
  }

  get<T = unknown>(path: string, query?: Query, opts?: RequestOptions): Promise<T> {
    return this.send<T>('GET', path, { query, ...opts });
  }

  post<T = unknown>(path: string, body: unknown, opts?: RequestOptions & { contentType?: string }): Promise<T> {
    return this.send<T>('POST', path, { body, ...opts });
  }

  delete<T = unknown>(path: string, opts?: RequestOptions): Promise<T> {
    return this.send<T>('DELETE', path, { ...opts });
  }

  /** Closes the connections kept open to Central. */
  async close(): Promise<void> {
    await this.dispatcher.close();
  }

  private async send<T>(method: 'GET' | 'POST' | 'DELETE', path: string, { body, query, signal, contentType = 'application/json' }: RequestOptions & { body?: unknown; query?: Query; contentType?: string }): Promise<T> {
    const url = new URL(path.replace(/^\/+/, ''), this.base);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = { authorization: this.authorization, accept: 'application/json', 'user-agent': 'gatehouse/0.1' };
    if (body !== undefined) headers['content-type'] = contentType;
    let res: Awaited<ReturnType<typeof request>>;
    try {
      res = await request(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), dispatcher: this.dispatcher, signal });
    } catch (e) {
      throw new CentralError(`cannot reach Central at ${this.server}: ${describeError(e)}`, undefined, undefined, { cause: e });
    }
    let text: string;
    try {
      text = await res.body.text();
    } catch (e) {
      throw new CentralError(`Central at ${this.server}: reading the answer to ${method} ${url.pathname} failed: ${describeError(e)}`, undefined, undefined, { cause: e });
    }
    const json = parseJson(text);
    if (res.statusCode >= 200 && res.statusCode < 300) {
      if (text === '') return undefined as T;
      if (json === undefined) throw new CentralError(`Central at ${this.server}: ${method} ${url.pathname} answered ${res.statusCode} with a body that is not JSON`, res.statusCode);
      return json as T;
    }
    const { error, message } = errorParts(json);
    const detail = oneLine(message ?? error ?? text) || `HTTP ${res.statusCode}`;
    throw new CentralError(`Central at ${this.server}: ${method} ${url.pathname}: ${res.statusCode} ${detail}`, res.statusCode, error);
  }
}

/**
 * The client of `--server`/`--token` flags, falling back on GATEHOUSE_SERVER,
 * GATEHOUSE_TOKEN and GATEHOUSE_CA (a PEM file); undefined when no server is given.
 */
export function centralFromOptions(
  opts: { server?: string; token?: string; ca?: string; insecureSkipVerify?: boolean; timeoutMs?: number },
  env: NodeJS.ProcessEnv = process.env,
): CentralClient | undefined {
  const server = opts.server || env.GATEHOUSE_SERVER;
  if (!server) return undefined;
  const token = opts.token || env.GATEHOUSE_TOKEN;
  if (!token) throw new UserError(`Central ${server} needs an API token: --token or GATEHOUSE_TOKEN`);
  const caFile = opts.ca || env.GATEHOUSE_CA;
  let ca: Buffer | undefined;
  if (caFile) {
    try {
      ca = readFileSync(caFile);
    } catch (e) {
      throw new UserError(`cannot read Central's CA certificate ${caFile}: ${describeError(e)}`);
    }
    if (!ca.includes('-----BEGIN CERTIFICATE-----')) throw new UserError(`Central's CA file ${caFile} holds no PEM certificate`);
  }
  return new CentralClient({ server, token, ca, insecureSkipVerify: opts.insecureSkipVerify, timeoutMs: opts.timeoutMs });
}

function normaliseServer(server: string): string {
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw new UserError(`invalid Central URL '${server}' (expected https://HOST:PORT)`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new UserError(`Central URL must be https:// (got '${server}')`);
  if (url.username || url.password) throw new UserError('Central URL must not hold credentials: give the token with --token or GATEHOUSE_TOKEN');
  // A token sent in clear text can be read on the way: plain HTTP only where it never leaves the machine.
  if (url.protocol === 'http:' && !isLoopback(url.hostname)) throw new UserError(`refusing to send a token over plain HTTP to ${url.host}: use https://`);
  return url.origin + url.pathname.replace(/\/+$/, '') + '/';
}

function isLoopback(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1' || /^::ffff:127\./.test(host) || /^::ffff:7f/.test(host);
}

function parseJson(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function errorParts(json: unknown): { error?: string; message?: string } {
  if (json === null || typeof json !== 'object') return {};
  const o = json as Record<string, unknown>;
  return { error: typeof o.error === 'string' ? o.error : undefined, message: typeof o.message === 'string' ? o.message : undefined };
}

function oneLine(text: string): string {
  const line = text.trim().split('\n')[0] ?? '';
  return line.length > 300 ? `${line.slice(0, 300)}…` : line;
}
