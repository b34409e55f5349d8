/**
 * The flags of every command that talks to Central, declared once:
 *   --server <url>      Central's URL (default: $GATEHOUSE_SERVER)
 *   --token <token>     an API token (default: $GATEHOUSE_TOKEN)
 *   --token-file <file> a file holding the token (default: $GATEHOUSE_TOKEN_FILE): a mounted
 *                       Secret, so the token is in neither the process list nor the environment
 *   --server-ca <file>  the CA that signed Central's certificate (default: $GATEHOUSE_CA)
 * With no CA given, a client of a Central on this machine (a loopback URL) trusts the local
 * CA in the default data directory, so `gatehouse server` and a client beside it just work.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { CentralClient, centralFromOptions } from '../central/client/client.js';
import { defaultDataDir } from '../central/data-dir.js';
import { UserError, describeError } from '../util/errors.js';

export interface CentralCliOptions {
  server?: string;
  token?: string;
  tokenFile?: string;
  serverCa?: string;
}

export function addCentralOptions(cmd: Command): Command {
  return cmd
    .option('--server <url>', "Central's URL, e.g. https://central.example:8443 (default: $GATEHOUSE_SERVER)")
    .option('--token <token>', 'Central API token (default: $GATEHOUSE_TOKEN; prefer the variable or --token-file: flags show in process lists)')
    .option('--token-file <file>', 'file holding the Central API token, e.g. a mounted Secret (default: $GATEHOUSE_TOKEN_FILE)')
    .option('--server-ca <file>', "CA certificate (PEM) that signed Central's certificate (default: $GATEHOUSE_CA, or the local CA of a Central on this machine)");
}

/** The client for --server/--token (or their variables); undefined when no server is given. */
export function centralClientFrom(o: CentralCliOptions, env: NodeJS.ProcessEnv = process.env): CentralClient | undefined {
  const server = o.server || env.GATEHOUSE_SERVER;
  const ca = o.serverCa || env.GATEHOUSE_CA || (server ? localCaFor(server, env) : undefined);
  const token = o.token || (server ? tokenFromFile(o.tokenFile || env.GATEHOUSE_TOKEN_FILE) : undefined);
  return centralFromOptions({ server: o.server, token, ca }, env);
}

/** As centralClientFrom, for commands that cannot work without Central. */
export function requireCentralClient(o: CentralCliOptions, env: NodeJS.ProcessEnv = process.env): CentralClient {
  const client = centralClientFrom(o, env);
  if (!client) throw new UserError('no Central to talk to: give --server URL (or set GATEHOUSE_SERVER)', 'usage');
  return client;
}

/** The token in FILE (its first non-empty line), or undefined when no file is named. */
function tokenFromFile(file: string | undefined): string | undefined {
  if (!file) return undefined;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new UserError(`cannot read the Central token file ${file}: ${describeError(e)}`, 'usage');
  }
  const token = text.split(/\r?\n/).map((l) => l.trim()).find((l) => l.length > 0);
  if (!token) throw new UserError(`the Central token file ${file} is empty`, 'usage');
  return token;
}

/** The default data directory's CA, for a loopback URL when that CA exists. */
function localCaFor(server: string, env: NodeJS.ProcessEnv): string | undefined {
  let host: string;
  try {
    host = new URL(server).hostname.replace(/^\[|\]$/g, '');
  } catch {
    return undefined; // the client reports the bad URL
  }
  if (!(host === 'localhost' || host.startsWith('127.') || host === '::1')) return undefined;
  const file = join(defaultDataDir(env), 'tls', 'ca.crt');
  return existsSync(file) ? file : undefined;
}
