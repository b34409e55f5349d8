/**
 * Registry credentials the way docker, podman and skopeo find them: $REGISTRY_AUTH_FILE,
 * podman's ${XDG_RUNTIME_DIR}/containers/auth.json, and docker's
 * ${DOCKER_CONFIG:-~/.docker}/config.json (auths, credHelpers, credsStore).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { UserError, describeError } from '../../util/errors.js';
import { DOCKER_HUB } from '../reference.js';

export interface Credentials {
  username: string;
  password: string;
}

interface AuthFile {
  auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string }>;
  credHelpers?: Record<string, string>;
  credsStore?: string;
}

export function authFileCandidates(explicit?: string): string[] {
  const files: string[] = [];
  if (explicit) return [explicit];
  if (process.env.REGISTRY_AUTH_FILE) files.push(process.env.REGISTRY_AUTH_FILE);
  if (process.env.XDG_RUNTIME_DIR) files.push(join(process.env.XDG_RUNTIME_DIR, 'containers', 'auth.json'));
  files.push(join(process.env.DOCKER_CONFIG ?? join(homedir(), '.docker'), 'config.json'));
  return files;
}

/** The keys an auths map may use for a registry host. */
function keysFor(registry: string): string[] {
  const keys = [registry, `https://${registry}`, `http://${registry}`, `https://${registry}/v1/`, `https://${registry}/v2/`];
  if (registry === DOCKER_HUB) keys.push('https://index.docker.io/v1/', 'index.docker.io', 'registry-1.docker.io');
  return keys;
}

function decodeAuth(entry: { auth?: string; username?: string; password?: string }, file: string): Credentials | undefined {
  if (entry.username && entry.password) return { username: entry.username, password: entry.password };
  if (!entry.auth) return undefined;
  const text = Buffer.from(entry.auth, 'base64').toString('utf8');
  const colon = text.indexOf(':');
  if (colon < 0) throw new UserError(`${file}: malformed "auth" entry (expected base64 of user:password)`, 'bad-auth-file');
  return { username: text.slice(0, colon), password: text.slice(colon + 1) };
}

function fromHelper(helper: string, registry: string): Credentials | undefined {
  const server = registry === DOCKER_HUB ? 'https://index.docker.io/v1/' : registry;
  const res = spawnSync(`docker-credential-${helper}`, ['get'], { input: server, encoding: 'utf8', timeout: 30_000 });
  if (res.error || res.status !== 0) return undefined;
  try {
    const out = JSON.parse(res.stdout) as { Username?: string; Secret?: string };
    if (out.Username && out.Secret) return { username: out.Username, password: out.Secret };
  } catch {
    /* a helper that prints no JSON has no credentials for us */
  }
  return undefined;
}

/** Credentials for `registry` from the first auth file that names it, or undefined. */
export function findCredentials(registry: string, authFile?: string): Credentials | undefined {
  for (const file of authFileCandidates(authFile)) {
    if (!existsSync(file)) {
      if (authFile) throw new UserError(`auth file ${file} does not exist`, 'bad-auth-file');
      continue;
    }
    let parsed: AuthFile;
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8')) as AuthFile;
    } catch (e) {
      throw new UserError(`${file}: not valid JSON (${describeError(e)})`, 'bad-auth-file');
    }
    const helper = parsed.credHelpers?.[registry];
    if (helper) {
      const c = fromHelper(helper, registry);
      if (c) return c;
    }
    for (const key of keysFor(registry)) {
      const entry = parsed.auths?.[key];
      if (entry) {
        const c = decodeAuth(entry, file);
        if (c) return c;
      }
    }
    if (parsed.credsStore) {
      const c = fromHelper(parsed.credsStore, registry);
      if (c) return c;
    }
  }
  return undefined;
}
