/**
 * `--listen` parsing and the rule that plain HTTP is only for loopback: a token sent over
 * plain HTTP on a routable address could be read by anyone on the path.
 */
import { BlockList, isIP, isIPv6 } from 'node:net';
import { UserError } from '../../util/errors.js';

export const DEFAULT_LISTEN_HOST = '127.0.0.1';
export const DEFAULT_LISTEN_PORT = 8443;

export interface ListenAddress {
  host: string;
  port: number;
  /** false only with --insecure-http (and then only on loopback). */
  tls: boolean;
}

const HOSTNAME = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;

const loopback = new BlockList();
loopback.addSubnet('127.0.0.0', 8, 'ipv4');
loopback.addAddress('::1', 'ipv6');

export function isLoopbackHost(host: string): boolean {
  if (host.toLowerCase() === 'localhost') return true;
  const family = isIP(host);
  if (family === 4) return loopback.check(host, 'ipv4');
  if (family === 6) {
    // An IPv4-mapped address (::ffff:127.0.0.1) is loopback when its IPv4 part is.
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(host);
    if (mapped?.[1] !== undefined) return loopback.check(mapped[1], 'ipv4');
    return loopback.check(host, 'ipv6');
  }
  return false;
}

/**
 * Accepts `HOST:PORT`, `[IPV6]:PORT`, `:PORT` (the default host, 127.0.0.1 — listening on
 * every address must be asked for: `0.0.0.0:PORT` or `[::]:PORT`), `PORT`, and a bare
 * `HOST` or `[IPV6]` (port 8443).
 */
export function resolveListen(opts: { listen?: string; insecureHttp?: boolean }): ListenAddress {
  const { host, port } = parseListen(opts.listen);
  if (opts.insecureHttp && !isLoopbackHost(host)) {
    throw new UserError(
      `--insecure-http is allowed only on a loopback address (127.0.0.1, ::1, localhost), not ${host}: remove it to serve HTTPS`,
      'usage',
    );
  }
  return { host, port, tls: !opts.insecureHttp };
}

function parseListen(raw: string | undefined): { host: string; port: number } {
  const value = raw?.trim() ?? '';
  if (value === '') return { host: DEFAULT_LISTEN_HOST, port: DEFAULT_LISTEN_PORT };
  const bad = (why: string): UserError =>
    new UserError(`--listen ${JSON.stringify(raw)}: ${why} (expected HOST:PORT, [IPV6]:PORT or :PORT)`, 'usage');

  let host: string;
  let portText: string | undefined;
  const bracketed = /^\[([^\]]*)\](?::(.*))?$/.exec(value);
  if (bracketed) {
    host = bracketed[1] ?? '';
    portText = bracketed[2];
    if (!isIPv6(host)) throw bad(`${host} is not an IPv6 address`);
  } else if (/^\d+$/.test(value)) {
    host = DEFAULT_LISTEN_HOST;
    portText = value;
  } else if (isIPv6(value)) {
    host = value;
  } else {
    const colon = value.lastIndexOf(':');
    if (colon === -1) {
      host = value;
    } else {
      host = value.slice(0, colon) || DEFAULT_LISTEN_HOST;
      portText = value.slice(colon + 1);
    }
    if (host.includes(':')) throw bad('an IPv6 address with a port needs brackets, as in [::1]:8443');
    if (isIP(host) === 0 && !HOSTNAME.test(host)) throw bad(`${host} is not an address or host name`);
  }
  return { host, port: portText === undefined ? DEFAULT_LISTEN_PORT : parsePort(portText, bad) };
}

function parsePort(text: string, bad: (why: string) => UserError): number {
  if (!/^\d{1,5}$/.test(text)) throw bad(`port ${JSON.stringify(text)} is not a number`);
  const port = Number(text);
  if (port > 65535) throw bad(`port ${port} is out of range (0-65535)`);
  return port;
}
