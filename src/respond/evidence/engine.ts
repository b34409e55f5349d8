/**
 * The Docker Engine API calls evidence capture and drift detection make (Docker, or
 * podman's compatible service): inspect, top, changes, logs, archive. Addresses are parsed
 * as the engine proxy parses them (`unix:///path`, `tcp://host:port`); requests go through
 * undici, every answer read with a byte bound.
 */
import { existsSync } from 'node:fs';
import { Agent, request, type Dispatcher } from 'undici';
import { parseAddress } from '../../engine-proxy/address.js';
import { UserError, describeError } from '../../util/errors.js';

/** $DOCKER_HOST, else podman's root socket when present, else Docker's. */
export function defaultEngineHost(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env.DOCKER_HOST?.trim();
  if (fromEnv) return fromEnv;
  const podman = env.GATEHOUSE_PODMAN_SOCKET ?? '/run/podman/podman.sock';
  return existsSync(podman) ? `unix://${podman}` : 'unix:///var/run/docker.sock';
}

export class EngineApiError extends UserError {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message, statusCode === 404 ? 'not-found' : 'engine-error');
  }
}

/** What `GET /containers/{id}/changes` lists: 0 modified, 1 added, 2 deleted. */
export interface ContainerChange {
  Path: string;
  Kind: 0 | 1 | 2;
}

/** `X-Docker-Container-Path-Stat` of the archive endpoint. */
export interface PathStat {
  name: string;
  size: number;
  /** Go's os.FileMode: permission bits plus type bits in the high bits. */
  mode: number;
  mtime?: string;
  linkTarget?: string;
}

const GO_MODE_DIR = 0x80000000;
const GO_MODE_SYMLINK = 0x08000000;
const GO_MODE_TYPE = 0x8f280000; // dir | symlink | named pipe | socket | device | char device | irregular

export function statIsRegular(s: PathStat): boolean {
  return (s.mode & GO_MODE_TYPE) === 0 && (s.mode >>> 0 & GO_MODE_DIR) === 0;
}
export function statIsDir(s: PathStat): boolean {
  return (s.mode >>> 0 & GO_MODE_DIR) !== 0;
}
export function statIsSymlink(s: PathStat): boolean {
  return (s.mode & GO_MODE_SYMLINK) !== 0;
}

export class EngineApi {
  readonly endpoint: string;
  private readonly origin: string;
  private readonly agent: Dispatcher;

  constructor(endpoint: string = defaultEngineHost()) {
    this.endpoint = endpoint;
    const a = parseAddress(endpoint.startsWith('http://') ? endpoint.replace(/^http:/, 'tcp:') : endpoint, 'engine endpoint');
    if (a.kind === 'unix') {
      this.origin = 'http://engine';
      this.agent = new Agent({ connect: { socketPath: a.path } });
    } else {
      this.origin = `http://${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`;
      this.agent = new Agent();
    }
  }

  private async call(method: 'GET' | 'HEAD', path: string, signal?: AbortSignal): Promise<Dispatcher.ResponseData> {
    try {
      return await request(`${this.origin}${path}`, { method, dispatcher: this.agent, signal, headersTimeout: 30_000, bodyTimeout: 60_000 });
    } catch (e) {
      throw new UserError(`cannot reach the container engine at ${this.endpoint} (${describeError(e)})`, 'engine-unreachable');
    }
  }

  private async fail(res: Dispatcher.ResponseData, method: string, path: string): Promise<never> {
    const text = method === 'HEAD' ? '' : (await res.body.text().catch(() => '')).slice(0, 300);
    if (method === 'HEAD') await res.body.dump().catch(() => {});
    let message = text.trim();
    try {
      message = (JSON.parse(text) as { message?: string }).message ?? message;
    } catch {
      // not JSON
    }
    throw new EngineApiError(res.statusCode, `engine at ${this.endpoint} answered HTTP ${res.statusCode} to ${method} ${path.split('?')[0]}${message ? `: ${message.split('\n')[0]}` : ''}`);
  }

  /** GET a JSON document (at most `limit` bytes). */
  async json<T>(path: string, limit = 16 << 20): Promise<T> {
    const bytes = await this.bytes(path, limit, false);
    try {
      return JSON.parse(bytes.toString('utf8')) as T;
    } catch {
      throw new UserError(`engine at ${this.endpoint} answered invalid JSON to GET ${path.split('?')[0]}`, 'engine-error');
    }
  }

  /** GET a body; at most `limit` bytes are kept (`truncate`) or more is an error. */
  async bytes(path: string, limit: number, truncate: boolean): Promise<Buffer> {
    const res = await this.call('GET', path);
    if (res.statusCode !== 200) return this.fail(res, 'GET', path);
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      const room = limit - size;
      if (chunk.length > room) {
        if (room > 0) chunks.push(chunk.subarray(0, room));
        size = limit;
        res.body.destroy();
        if (!truncate) throw new UserError(`engine answer to GET ${path.split('?')[0]} exceeds ${limit} bytes`, 'engine-error');
        break;
      }
      chunks.push(chunk);
      size += chunk.length;
    }
    return Buffer.concat(chunks);
  }

  /** A streamed GET body (the archive endpoint's tar); the caller reads or destroys it. */
  async stream(path: string): Promise<{ body: Dispatcher.ResponseData['body']; headers: Dispatcher.ResponseData['headers'] }> {
    const res = await this.call('GET', path);
    if (res.statusCode !== 200) return this.fail(res, 'GET', path);
    return { body: res.body, headers: res.headers };
  }

  async inspectContainer(idOrName: string): Promise<ContainerInspect> {
    return this.json<ContainerInspect>(`/containers/${encodeURIComponent(idOrName)}/json`);
  }

  async changes(id: string): Promise<ContainerChange[]> {
    const list = await this.json<ContainerChange[] | null>(`/containers/${encodeURIComponent(id)}/changes`, 64 << 20);
    return Array.isArray(list) ? list : [];
  }

  /** The stat of a path inside the container (HEAD on the archive endpoint); undefined if absent. */
  async statPath(id: string, path: string): Promise<PathStat | undefined> {
    const p = `/containers/${encodeURIComponent(id)}/archive?path=${encodeURIComponent(path)}`;
    const res = await this.call('HEAD', p);
    await res.body.dump().catch(() => {});
    if (res.statusCode === 404) return undefined;
    if (res.statusCode !== 200) return this.fail(res, 'HEAD', p);
    return decodePathStat(res.headers['x-docker-container-path-stat']);
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}

export function decodePathStat(header: string | string[] | undefined): PathStat | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return undefined;
  try {
    const s = JSON.parse(Buffer.from(value, 'base64').toString('utf8')) as Partial<PathStat>;
    if (typeof s.mode !== 'number' || typeof s.size !== 'number') return undefined;
    return { name: String(s.name ?? ''), size: s.size, mode: s.mode >>> 0, mtime: s.mtime, linkTarget: s.linkTarget };
  } catch {
    return undefined;
  }
}

/** The parts of `GET /containers/{id}/json` evidence and drift read (the whole document is kept as evidence). */
export interface ContainerInspect {
  Id: string;
  Name?: string;
  Image?: string;
  Created?: string;
  State?: { Status?: string; Running?: boolean; Pid?: number; StartedAt?: string };
  Config?: { Image?: string; Tty?: boolean; Labels?: Record<string, string> | null; Hostname?: string };
  [key: string]: unknown;
}

/** The container's name without Docker's leading slash. */
export function containerName(c: ContainerInspect): string | undefined {
  return c.Name ? c.Name.replace(/^\//, '') : undefined;
}
