/**
 * A Docker Engine API endpoint (Docker, or podman's compatible service): `unix:///path` or
 * `tcp://host:port`, the latter optionally over TLS with a client certificate, as the
 * docker CLI's DOCKER_HOST / --tlsverify take them. Requests go through undici.
 */
import { Agent, request } from 'undici';
import { parseAddress } from '../../../engine-proxy/address.js';
import { UserError } from '../../../util/errors.js';

export interface EngineTls {
  /** PEM of the CA that signed the engine's certificate (default: the system's CAs). */
  ca?: string;
  /** PEM client certificate and key, for engines that ask for one (dockerd --tlsverify). */
  cert?: string;
  key?: string;
}

export class EngineHttpError extends Error {
  constructor(readonly statusCode: number, message: string) {
    super(message);
    this.name = 'EngineHttpError';
  }
}

export class EngineClient {
  private readonly agent: Agent;
  private readonly origin: string;

  constructor(readonly endpoint: string, tls?: EngineTls) {
    const address = parseAddress(endpoint, 'engine endpoint');
    if (address.kind === 'unix') {
      if (tls) throw new UserError(`engine endpoint ${endpoint}: TLS applies to tcp:// endpoints only`, 'bad-address');
      this.origin = 'http://engine';
      this.agent = new Agent({ connect: { socketPath: address.path } });
    } else {
      if (tls && Boolean(tls.cert) !== Boolean(tls.key)) throw new UserError(`engine endpoint ${endpoint}: a client certificate needs its key, and a key its certificate`, 'usage');
      const host = address.host.includes(':') ? `[${address.host}]` : address.host;
      this.origin = `${tls ? 'https' : 'http'}://${host}:${address.port}`;
      this.agent = new Agent(tls ? { connect: { ca: tls.ca, cert: tls.cert, key: tls.key } } : {});
    }
  }

  /** GET a JSON document; undefined on 404 (the object is gone). */
  async getJson<T>(path: string, signal: AbortSignal): Promise<T | undefined> {
    const res = await request(`${this.origin}${path}`, { dispatcher: this.agent, signal, headersTimeout: 30_000, bodyTimeout: 30_000 });
    if (res.statusCode === 404) {
      await res.body.dump();
      return undefined;
    }
    if (res.statusCode !== 200) {
      const text = (await res.body.text()).slice(0, 300);
      let message = text.trim();
      try {
        message = (JSON.parse(text) as { message?: string }).message ?? message;
      } catch {
        // not JSON
      }
      throw new EngineHttpError(res.statusCode, `engine answered HTTP ${res.statusCode} to GET ${path}${message ? `: ${message}` : ''}`);
    }
    return (await res.body.json()) as T;
  }

  /** A streamed GET (the event stream): the body, once the engine answered 200. */
  async stream(path: string, signal: AbortSignal): Promise<AsyncIterable<Buffer>> {
    // No body timeout: the event stream is silent while nothing happens on the host.
    const res = await request(`${this.origin}${path}`, { dispatcher: this.agent, signal, headersTimeout: 30_000, bodyTimeout: 0 });
    if (res.statusCode !== 200) {
      await res.body.dump();
      throw new EngineHttpError(res.statusCode, `engine answered HTTP ${res.statusCode} to GET ${path}`);
    }
    return res.body;
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}
