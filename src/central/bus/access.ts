/**
 * How Central and the sensor authenticate to NATS and trust its TLS certificate
 * (`--nats-creds FILE`, `--nats-tls-ca FILE`). The credentials file is one of:
 *  - a NATS `.creds` file (a user JWT and its nkey seed, as `nsc` writes them);
 *  - an nkey user seed (`SU…`, one line);
 *  - `user:password` (one line).
 * A process talks to one bus, so the CLI sets the access once (setBusAccess) and every bus
 * connection of the process (consumer, notices, publisher) uses it. Secrets are read here
 * and handed to the nats client only: never logged, never in a message.
 */
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect, credsAuthenticator, nkeyAuthenticator, usernamePasswordAuthenticator, type Authenticator, type NatsConnection, type TlsOptions } from '@nats-io/transport-node';
import { describeError, UserError } from '../../util/errors.js';
import { parseNatsUrl, redactNatsUrl } from '../client/bus-stream.js';

export interface BusAccess {
  authenticator?: Authenticator;
  tls?: TlsOptions;
  /** What kind of credential, for the banner (never the secret). */
  kind?: 'creds' | 'nkey' | 'user-password';
}

let processAccess: BusAccess = {};

export function setBusAccess(access: BusAccess): void {
  processAccess = access;
}

export function busAccess(): BusAccess {
  return processAccess;
}

function readSecretFile(file: string, flag: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new UserError(`${flag} ${file}: cannot read it (${(e as NodeJS.ErrnoException).code ?? describeError(e)})`, 'usage');
  }
}

/** The access the flags describe; a file that is none of the formats is a one-line usage error (its content never shown). */
export function loadBusAccess(credsFile?: string, tlsCaFile?: string): BusAccess {
  const access: BusAccess = {};
  if (credsFile) {
    const text = readSecretFile(credsFile, '--nats-creds');
    const line = text.trim();
    if (/-----BEGIN NATS USER JWT-----/.test(text)) {
      if (!/-----BEGIN USER NKEY SEED-----/.test(text)) throw new UserError(`--nats-creds ${credsFile}: a .creds file needs its user JWT and its NKEY SEED`, 'usage');
      access.authenticator = credsAuthenticator(new TextEncoder().encode(text));
      access.kind = 'creds';
    } else if (/^SU[A-Z2-7]{50,}$/.test(line)) {
      access.authenticator = nkeyAuthenticator(new TextEncoder().encode(line));
      access.kind = 'nkey';
    } else if (/^[^\s:]+:\S+$/.test(line) && !line.includes('\n')) {
      const at = line.indexOf(':');
      access.authenticator = usernamePasswordAuthenticator(line.slice(0, at), line.slice(at + 1));
      access.kind = 'user-password';
    } else {
      throw new UserError(`--nats-creds ${credsFile}: not a NATS .creds file, an nkey user seed (SU…) or one line of user:password`, 'usage');
    }
  }
  if (tlsCaFile) {
    const ca = readSecretFile(tlsCaFile, '--nats-tls-ca');
    if (!/-----BEGIN CERTIFICATE-----/.test(ca)) throw new UserError(`--nats-tls-ca ${tlsCaFile}: not a PEM certificate`, 'usage');
    access.tls = { ca };
  }
  return access;
}

/**
 * What every bus connection sets: it reconnects forever (an outage of NATS is waited out).
 * noAsyncTraces: otherwise nats.js builds two Error objects (stack captured) per request —
 * every JetStream publish and pull — to decorate a timeout that rarely comes: a third of a
 * fleet publisher's CPU per message (bench/fleet, session 7). Our errors are reported by
 * message only (describeError).
 */
const CONNECTION = { reconnect: true, maxReconnectAttempts: -1, reconnectTimeWait: 500, pingInterval: 10_000, noAsyncTraces: true } as const;

/** A connection options fragment with the process's access. */
function withAccess(access: BusAccess): { authenticator?: Authenticator; tls?: TlsOptions } {
  return { ...(access.authenticator ? { authenticator: access.authenticator } : {}), ...(access.tls ? { tls: access.tls } : {}) };
}

/**
 * A connection with the process's access that keeps reconnecting forever
 * (an outage of NATS is waited out, not fatal), including when the first attempt fails.
 */
export function connectBusWithAccess(servers: string[], name: string, access: BusAccess = processAccess): Promise<NatsConnection> {
  return connect({ servers, name, ...CONNECTION, waitOnFirstConnect: true, ...withAccess(access) });
}

/**
 * connectBusWithAccess that can be given up: the first connection is tried every 500 ms
 * until it succeeds or `signal` aborts (then it rejects and nothing keeps trying); once
 * connected, the connection reconnects forever as connectBusWithAccess's does. nats.js's
 * own first-connect wait (waitOnFirstConnect) cannot be cancelled.
 */
export async function connectBusUntil(servers: string[], name: string, signal: AbortSignal, access: BusAccess = processAccess): Promise<NatsConnection> {
  for (;;) {
    if (signal.aborted) throw new Error('connection given up');
    try {
      const nc = await connect({ servers, name, ...CONNECTION, waitOnFirstConnect: false, timeout: 5000, ...withAccess(access) });
      if (!signal.aborted) return nc;
      await nc.close().catch(() => undefined);
    } catch {
      // NATS not there (yet): try again below.
    }
    // timers/promises removes its abort listener when the wait ends: none pile up while NATS is down
    await sleep(500, undefined, { signal }).catch(() => undefined);
  }
}

const REFUSED = /authori[sz]ation|authentication|permission|user|nkey|jwt|signature|certificate|tls|self[- ]signed|handshake/i;

/**
 * One connection attempt at start: a wrong credential or an untrusted certificate is a
 * one-line error now (the forever-reconnecting connection would only retry it); NATS down
 * or unreachable is not (the process waits for it as always).
 */
export async function checkBusAccess(url: string, servers: string[], access: BusAccess = processAccess): Promise<void> {
  let nc: NatsConnection | undefined;
  try {
    nc = await connect({ servers, name: 'gatehouse-access-check', reconnect: false, maxReconnectAttempts: 0, waitOnFirstConnect: false, timeout: 10_000, ...withAccess(access) });
  } catch (e) {
    const message = describeError(e).split('\n')[0]!;
    if (REFUSED.test(message)) throw new UserError(`NATS ${redactNatsUrl(url)} refused the connection: ${message}${access.authenticator ? ' (check --nats-creds)' : ''}${access.tls ? ' (check --nats-tls-ca)' : ''}`, 'usage');
    return;
  } finally {
    await nc?.close().catch(() => undefined);
  }
}

/** For the CLI (`server`, `sensor`): the flags' files read, the access set for the process and tried once. */
export async function prepareBusAccess(o: { nats?: string; natsCreds?: string; natsTlsCa?: string }): Promise<void> {
  if (!o.nats) {
    if (o.natsCreds || o.natsTlsCa) throw new UserError('--nats-creds and --nats-tls-ca go with --nats', 'usage');
    return;
  }
  const servers = parseNatsUrl(o.nats);
  const access = loadBusAccess(o.natsCreds, o.natsTlsCa);
  setBusAccess(access);
  await checkBusAccess(o.nats, servers, access);
}
