/** Talking to the engine: request options for an address, and small JSON lookups. */
import http from 'node:http';
import { connect as netConnect, type Socket } from 'node:net';
import type { Address } from './address.js';

export function upstreamRequestOptions(a: Address, agent: http.Agent): http.RequestOptions {
  return a.kind === 'unix' ? { socketPath: a.path, agent } : { host: a.host, port: a.port, agent };
}

/** A raw connection for hijacked (upgraded) streams; allowHalfOpen keeps half-closes faithful. */
export function rawConnect(a: Address): Socket {
  return a.kind === 'unix' ? netConnect({ path: a.path, allowHalfOpen: true }) : netConnect({ host: a.host, port: a.port, allowHalfOpen: true });
}

/** GET a small JSON document; resolves undefined on 404. */
export function getJson(a: Address, agent: http.Agent, path: string, limit = 4 << 20): Promise<unknown | undefined> {
  return new Promise((resolve, reject) => {
    const req = http.request({ ...upstreamRequestOptions(a, agent), method: 'GET', path, timeout: 15_000 }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (d: Buffer) => {
        size += d.length;
        if (size > limit) res.destroy(new Error(`engine answer to ${path} exceeds ${limit} bytes`));
        else chunks.push(d);
      });
      res.on('error', reject);
      res.on('end', () => {
        if (res.statusCode === 404) return resolve(undefined);
        if (res.statusCode !== 200) return reject(new Error(`engine answered ${res.statusCode} to GET ${path}`));
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
        } catch {
          reject(new Error(`engine answered invalid JSON to GET ${path}`));
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`engine did not answer GET ${path} in time`)));
    req.on('error', reject);
    req.end();
  });
}
