/**
 * The Docker Engine API as the response actions use it (Docker, or podman's compatible
 * service): `unix:///path` or `tcp://host:port` as DOCKER_HOST spells them (the address
 * parser of the engine proxy), requests through undici with a pooled connection.
 */
import { Agent, request } from 'undici';
import { parseAddress } from '../engine-proxy/address.js';
import { UserError } from '../util/errors.js';

/** The endpoint to use: --host, else $DOCKER_HOST, else podman's rootful socket, else Docker's. */
export function defaultEngineEndpoint(env: NodeJS.ProcessEnv = process.env, exists: (p: string) => boolean = () => true): string {
  if (env.DOCKER_HOST?.trim()) return env.DOCKER_HOST.trim();
  if (exists('/run/podman/podman.sock')) return 'unix:///run/podman/podman.sock';
  return 'unix:///var/run/docker.sock';
}

export interface EngineAnswer {
  status: number;
  body: unknown;
}

/** What the engine knows about a container (the parts the actions read). */
export interface ContainerInspect {
  Id: string;
  Name: string;
  Image: string;
  State: { Status: string; Running: boolean; Paused: boolean; Pid: number; Dead?: boolean };
  Config: { Image: string; Labels?: Record<string, string> | null } & Record<string, unknown>;
  HostConfig: { NetworkMode?: string } & Record<string, unknown>;
  NetworkSettings: { Networks?: Record<string, unknown> | null };
}

export class EngineApi {
  private readonly agent: Agent;
  private readonly origin: string;

  constructor(readonly endpoint: string) {
    const a = parseAddress(endpoint, 'engine endpoint (--host / DOCKER_HOST)');
    if (a.kind === 'unix') {
      this.origin = 'http://engine';
      this.agent = new Agent({ connect: { socketPath: a.path }, keepAliveTimeout: 10_000 });
    } else {
      this.origin = `http://${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`;
      this.agent = new Agent({ keepAliveTimeout: 10_000 });
    }
  }

  async call(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown, signal?: AbortSignal): Promise<EngineAnswer> {
    let res;
    try {
      res = await request(`${this.origin}${path}`, {
        method,
        dispatcher: this.agent,
        headersTimeout: 60_000,
        bodyTimeout: 60_000,
        ...(signal ? { signal } : {}),
        ...(body !== undefined ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}),
      });
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code === 'ENOENT' || code === 'ECONNREFUSED' || code === 'EACCES') throw new UserError(`cannot reach the container engine at ${this.endpoint} (${code}); set --host or DOCKER_HOST`, 'engine');
      throw e;
    }
    const text = await res.body.text();
    let parsed: unknown = text;
    if (text) {
      try {
        parsed = JSON.parse(text);
      } catch {
        // plain text (or an empty 204)
      }
    }
    return { status: res.statusCode, body: parsed };
  }

  /** The container's inspect document; a clear one-line error when the engine has no such container. */
  async inspect(container: string, signal?: AbortSignal): Promise<ContainerInspect> {
    const r = await this.call('GET', `/containers/${encodeURIComponent(container)}/json`, undefined, signal);
    if (r.status === 404) throw new UserError(`no such container "${container}" on ${this.endpoint}`, 'not-found');
    if (r.status !== 200) throw engineError('inspect', container, r);
    return r.body as ContainerInspect;
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}

/** The engine's refusal as one line. */
export function engineError(what: string, container: string, r: EngineAnswer): Error {
  const message = typeof r.body === 'object' && r.body && 'message' in r.body ? String((r.body as { message: unknown }).message) : String(r.body ?? '').slice(0, 200);
  return new Error(`engine answered HTTP ${r.status} to ${what} ${container}${message ? `: ${message.split('\n')[0]}` : ''}`);
}

export function shortId(id: string): string {
  return id.replace(/^sha256:/, '').slice(0, 12);
}

/** Polls inspect until the container is not running (or gone); an error after `timeoutMs`. */
export async function untilStopped(engine: EngineApi, id: string, signal?: AbortSignal, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const r = await engine.call('GET', `/containers/${id}/json`, undefined, signal);
    if (r.status === 404) return;
    const state = (r.body as ContainerInspect).State;
    if (r.status === 200 && !state.Running && !state.Paused) return;
    if (Date.now() > end) throw new Error(`container ${shortId(id)} still runs ${timeoutMs / 1000} s after the kill`);
    await new Promise((res) => setTimeout(res, 5));
  }
}
