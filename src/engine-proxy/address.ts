/** `unix:///path` and `tcp://host:port` addresses, as DOCKER_HOST spells them. */
import { UserError } from '../util/errors.js';

export type Address = { kind: 'unix'; path: string } | { kind: 'tcp'; host: string; port: number };

export function parseAddress(text: string, what: string): Address {
  if (text.startsWith('unix://')) {
    const path = text.slice('unix://'.length);
    if (!path.startsWith('/')) throw new UserError(`${what} "${text}": expected unix:///absolute/path`, 'bad-address');
    return { kind: 'unix', path };
  }
  if (text.startsWith('/')) return { kind: 'unix', path: text };
  const m = /^tcp:\/\/(\[[^\]]+\]|[^:/]+):(\d{1,5})\/?$/.exec(text);
  if (m && Number(m[2]) <= 65535) return { kind: 'tcp', host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]) };
  throw new UserError(`${what} "${text}": expected unix:///path or tcp://host:port`, 'bad-address');
}

export function formatAddress(a: Address): string {
  return a.kind === 'unix' ? `unix://${a.path}` : `tcp://${a.host}:${a.port}`;
}
