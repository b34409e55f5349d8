/**
 * Registry authentication against real Distribution registries started here: one with
 * htpasswd (HTTP Basic) and one with token auth, whose token server is a small HTTP
 * server in this test that signs JWTs with a key the registry trusts.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createSign, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as netServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../helpers/cli.js';
import { hasCommand, missing } from '../helpers/components.js';
import { OCI_DIR } from '../fixtures/test-images.js';

const skip = missing(hasCommand('docker-registry') && hasCommand('skopeo') && hasCommand('htpasswd') && hasCommand('openssl'), 'docker-registry, skopeo, htpasswd (apache2-utils) and openssl are needed');
const USER = 'alice';
const PASS = 's3cret-pass';
const work = mkdtempSync(join(tmpdir(), 'gatehouse-auth-'));

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = netServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

async function startRegistry(name: string, auth: string): Promise<{ addr: string; proc: ChildProcess }> {
  const port = await freePort();
  const addr = `127.0.0.1:${port}`;
  const cfg = join(work, `${name}.yml`);
  writeFileSync(cfg, `version: 0.1\nlog: { level: error }\nstorage: { filesystem: { rootdirectory: ${join(work, name)} } }\nhttp: { addr: ${addr} }\n${auth}`);
  const proc = spawn('docker-registry', ['serve', cfg], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    const r = await fetch(`http://${addr}/v2/`).catch(() => undefined);
    if (r) return { addr, proc };
    await sleep(100);
  }
  throw new Error(`registry ${name} did not start`);
}

function authFile(dir: string, registry: string, user = USER, pass = PASS): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'auth.json');
  writeFileSync(file, JSON.stringify({ auths: { [registry]: { auth: Buffer.from(`${user}:${pass}`).toString('base64') } } }));
  return file;
}

/** Async: the token server answering skopeo lives in this same process. */
async function push(registry: string, repo: string): Promise<void> {
  const child = spawn('skopeo', ['copy', '-q', '--preserve-digests', '--dest-tls-verify=false', '--dest-creds', `${USER}:${PASS}`, `oci:${OCI_DIR}:layers`, `docker://${registry}/${repo}`]);
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  assert.equal(code, 0, stderr);
}

const procs: ChildProcess[] = [];
const servers: Server[] = [];
after(() => {
  for (const p of procs) p.kill();
  for (const s of servers) s.close();
  rmSync(work, { recursive: true, force: true });
});

describe('HTTP Basic (htpasswd) registry', { skip }, () => {
  let registry = '';
  before(async () => {
    const htpasswd = spawnSync('htpasswd', ['-Bbn', USER, PASS], { encoding: 'utf8' }).stdout;
    writeFileSync(join(work, 'htpasswd'), htpasswd);
    const r = await startRegistry('basic', `auth: { htpasswd: { realm: gatehouse, path: ${join(work, 'htpasswd')} } }\n`);
    procs.push(r.proc);
    registry = r.addr;
    await push(registry, 'team/app:1');
  });

  it('reads with credentials from $REGISTRY_AUTH_FILE', async () => {
    const res = await runCli(['image', 'ls', '--insecure', '--format', 'json', `${registry}/team/app:1`], {
      env: { REGISTRY_AUTH_FILE: authFile(join(work, 'podman-auth'), registry) },
    });
    assert.equal(res.code, 0, res.stderr);
    assert.ok(JSON.parse(res.stdout).some((r: { path: string }) => r.path === '/etc/passwd'));
  });

  it('reads with credentials from docker config.json ($DOCKER_CONFIG)', async () => {
    const dir = join(work, 'docker-config');
    const file = authFile(dir, registry);
    writeFileSync(join(dir, 'config.json'), readFileSync(file));
    const res = await runCli(['image', 'inspect', '--insecure', '--format', 'json', `${registry}/team/app:1`], {
      env: { DOCKER_CONFIG: dir, REGISTRY_AUTH_FILE: undefined, XDG_RUNTIME_DIR: undefined, HOME: work },
    });
    assert.equal(res.code, 0, res.stderr);
    assert.equal(JSON.parse(res.stdout).config.user, '1000');
  });

  it('without credentials: a clear error', async () => {
    const res = await runCli(['image', 'ls', '--insecure', `${registry}/team/app:1`], {
      env: { DOCKER_CONFIG: join(work, 'none'), REGISTRY_AUTH_FILE: undefined, XDG_RUNTIME_DIR: undefined, HOME: work },
    });
    assert.equal(res.code, 2);
    assert.match(res.stderr, /requires authentication and no credentials were found/);
  });

  it('with a wrong password: a clear error', async () => {
    const res = await runCli(['image', 'ls', '--insecure', `${registry}/team/app:1`], {
      env: { REGISTRY_AUTH_FILE: authFile(join(work, 'wrong'), registry, USER, 'nope') },
    });
    assert.equal(res.code, 2);
    assert.match(res.stderr, /authentication failed \(HTTP 401\)/);
  });
});

describe('Bearer token registry (WWW-Authenticate challenge flow)', { skip }, () => {
  let registry = '';
  const issued: string[] = [];
  before(async () => {
    const key = join(work, 'token.key');
    const cert = join(work, 'token.crt');
    const gen = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=gatehouse-token'], { encoding: 'utf8' });
    assert.equal(gen.status, 0, gen.stderr);
    const der = spawnSync('openssl', ['x509', '-in', cert, '-outform', 'DER']).stdout as Buffer;
    const privateKey = readFileSync(key, 'utf8');
    const tokenPort = await freePort();
    const server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      const auth = req.headers.authorization ?? '';
      const [user, pass] = Buffer.from(auth.replace(/^Basic /, ''), 'base64').toString().split(':');
      if (user !== USER || pass !== PASS) return res.writeHead(401).end('{"details":"bad credentials"}');
      const scope = url.searchParams.get('scope') ?? '';
      issued.push(scope);
      const [, name, actions] = scope.split(':');
      const now = Math.floor(Date.now() / 1000);
      const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
      const header = b64({ alg: 'RS256', typ: 'JWT', x5c: [der.toString('base64')] });
      const claims = b64({
        iss: 'gatehouse-issuer', sub: user, aud: url.searchParams.get('service'), exp: now + 300, nbf: now - 10, iat: now, jti: randomUUID(),
        access: name ? [{ type: 'repository', name, actions: (actions ?? '').split(',') }] : [],
      });
      const signature = createSign('RSA-SHA256').update(`${header}.${claims}`).sign(privateKey).toString('base64url');
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: `${header}.${claims}.${signature}`, expires_in: 300 }));
    });
    await new Promise<void>((r) => server.listen(tokenPort, '127.0.0.1', r));
    servers.push(server);
    const r = await startRegistry(
      'token',
      `auth: { token: { realm: "http://127.0.0.1:${tokenPort}/token", service: gatehouse-registry, issuer: gatehouse-issuer, rootcertbundle: ${cert} } }\n`,
    );
    procs.push(r.proc);
    registry = r.addr;
    await push(registry, 'team/app:1');
  });

  it('gets a scoped pull token with the configured credentials and reads the image', async () => {
    issued.length = 0;
    const res = await runCli(['image', 'ls', '--insecure', '--format', 'json', `${registry}/team/app:1`], {
      env: { REGISTRY_AUTH_FILE: authFile(join(work, 'token-auth'), registry) },
    });
    assert.equal(res.code, 0, res.stderr);
    assert.ok(JSON.parse(res.stdout).some((r: { path: string }) => r.path === '/usr/bin/tool'));
    assert.deepEqual([...new Set(issued)], ['repository:team/app:pull']);
  });

  it('a token server refusing the credentials gives a clear error', async () => {
    const res = await runCli(['image', 'ls', '--insecure', `${registry}/team/app:1`], {
      env: { REGISTRY_AUTH_FILE: authFile(join(work, 'token-wrong'), registry, USER, 'wrong') },
    });
    assert.equal(res.code, 2);
    assert.match(res.stderr, /token server refused \(HTTP 401\) for the configured credentials/);
  });
});
