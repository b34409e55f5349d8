/**
 * `gatehouse server` and `gatehouse token` as a user runs them: the real CLI as a child
 * process, Central on 127.0.0.1 port 0, HTTPS trusted through the printed CA only.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { runCli } from '../helpers/cli.js';
import { freshDatabase, postgresSkip } from '../helpers/postgres.js';

const bin = fileURLToPath(new URL('../../bin/gatehouse.mjs', import.meta.url));
const tmpRoot = mkdtempSync(join(tmpdir(), 'gatehouse-server-cli-'));
after(() => rmSync(tmpRoot, { recursive: true, force: true }));
let dirs = 0;
const newDir = () => join(tmpRoot, `d${++dirs}`);

interface ServerProcess {
  child: ChildProcess;
  /** The banner (stderr up to its last line). */
  banner: string;
  url: string;
  /** The admin token, when this start printed one. */
  token?: string;
  fingerprint?: string;
  caFile?: string;
  /** Sends SIGTERM and waits for the exit. */
  stop(): Promise<{ code: number | null; stderr: string }>;
}

/** Starts `gatehouse server ARGS` and waits for its banner (the `clients:` line ends it). */
function startServer(args: string[], env: Record<string, string | undefined> = {}): Promise<ServerProcess> {
  const child = spawn(process.execPath, [bin, 'server', '--listen', '127.0.0.1:0', '--log-level', 'warn', ...args], {
    env: { ...process.env, GATEHOUSE_FROM_SOURCE: '1', GATEHOUSE_ADMIN_TOKEN: undefined, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  let stdout = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`no banner within 120 s; stderr:\n${stderr}`));
    }, 120_000);
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (!/^\s+clients:.*\n/m.test(stderr)) return;
      clearTimeout(timer);
      const banner = stderr;
      resolve({
        child,
        banner,
        url: /listening on (\S+)/.exec(banner)![1]!,
        token: /admin token:\s+(ghc_\S+)/.exec(banner)?.[1],
        fingerprint: /CA fingerprint:\s+SHA256 (\S+)/.exec(banner)?.[1],
        caFile: /GATEHOUSE_CA=(\S+)/.exec(banner)?.[1],
        async stop() {
          child.kill('SIGTERM');
          const code = await exited;
          return { code, stderr };
        },
      });
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`gatehouse server exited ${code} before its banner; stderr:\n${stderr}\nstdout:\n${stdout}`));
    });
  });
}

async function get(url: string, opts: { ca?: string; token?: string } = {}): Promise<{ status: number; body: unknown }> {
  const dispatcher = new Agent({ connect: opts.ca ? { ca: readFileSync(opts.ca) } : {} });
  try {
    const res = await request(url, { dispatcher, headers: opts.token ? { authorization: `Bearer ${opts.token}` } : {} });
    const text = await res.body.text();
    return { status: res.statusCode, body: text ? JSON.parse(text) : undefined };
  } finally {
    await dispatcher.close();
  }
}

describe('gatehouse server', () => {
  test('first start prints the admin token and the CA fingerprint once; HTTPS is trusted through that CA; a restart keeps both', async () => {
    const dataDir = newDir();
    const first = await startServer(['--data-dir', dataDir]);
    let restarted: ServerProcess | undefined;
    try {
      assert.match(first.url, /^https:\/\/127\.0\.0\.1:\d+$/);
      assert.ok(first.token, `an admin token in the banner:\n${first.banner}`);
      assert.equal(first.caFile, join(dataDir, 'tls', 'ca.crt'));
      // The printed fingerprint is the CA's, as openssl would print it.
      assert.equal(first.fingerprint, new X509Certificate(readFileSync(first.caFile!)).fingerprint256);
      assert.match(first.banner, /\(made now\)/);
      assert.match(first.banner, new RegExp(`store:\\s+${join(dataDir, 'central.db')}`));

      assert.deepEqual(await get(`${first.url}/readyz`, { ca: first.caFile }), { status: 200, body: { status: 'ready' } });
      // Without the CA the certificate is not trusted: the server really is HTTPS with its own CA.
      await assert.rejects(get(`${first.url}/readyz`), /self[- ]signed|unable to (get|verify)|certificate/i);
      assert.equal((await get(`${first.url}/api/v1/tokens`, { ca: first.caFile, token: first.token })).status, 200);
      assert.equal((await get(`${first.url}/api/v1/tokens`, { ca: first.caFile })).status, 401);

      const stopped = await first.stop();
      assert.equal(stopped.code, 0, stopped.stderr);
      assert.match(stopped.stderr, /Central: stopping/);
      // The store was closed: SQLite checkpoints and removes its WAL file on the last close.
      assert.ok(!existsSync(join(dataDir, 'central.db-wal')), `WAL left behind: ${readdirSync(dataDir).join(', ')}`);

      restarted = await startServer(['--data-dir', dataDir]);
      assert.doesNotMatch(restarted.banner, /ghc_/, 'no token on a second start');
      assert.doesNotMatch(restarted.banner, /made now/);
      assert.equal(restarted.fingerprint, first.fingerprint, 'the same local CA');
      assert.equal((await get(`${restarted.url}/api/v1/tokens`, { ca: restarted.caFile, token: first.token })).status, 200, 'the first token still works');
    } finally {
      if (first.child.exitCode === null) await first.stop();
      await restarted?.stop();
    }
  });

  test('GATEHOUSE_ADMIN_TOKEN is adopted at first start (only its hash stored), ignored later with a warning', async () => {
    const dataDir = newDir();
    const adminToken = `ghc_${'A1b2C3d4'.repeat(6)}`;
    const server = await startServer(['--data-dir', dataDir], { GATEHOUSE_ADMIN_TOKEN: adminToken });
    try {
      assert.doesNotMatch(server.banner, /ghc_/, 'the adopted value is not printed');
      assert.match(server.banner, /admin token:\s+GATEHOUSE_ADMIN_TOKEN/);
      const tokens = await get(`${server.url}/api/v1/tokens`, { ca: server.caFile, token: adminToken });
      assert.equal(tokens.status, 200);
      assert.deepEqual((tokens.body as { items: Array<{ role: string }> }).items.map((t) => t.role), ['admin']);
    } finally {
      await server.stop();
    }
    assert.ok(!readFileSync(join(dataDir, 'central.db')).includes(adminToken), 'the token value is not in the store file');

    const other = `ghc_${'Z9y8X7w6'.repeat(6)}`;
    const again = await startServer(['--data-dir', dataDir], { GATEHOUSE_ADMIN_TOKEN: other });
    try {
      assert.match(again.banner, /warning: GATEHOUSE_ADMIN_TOKEN is ignored/);
      assert.equal((await get(`${again.url}/api/v1/tokens`, { ca: again.caFile, token: other })).status, 401);
      assert.equal((await get(`${again.url}/api/v1/tokens`, { ca: again.caFile, token: adminToken })).status, 200);
    } finally {
      await again.stop();
    }
  });

  test('bad starts exit 2 with one line and create nothing', async () => {
    const cases: Array<[string[], Record<string, string>, RegExp]> = [
      [['--insecure-http', '--listen', '0.0.0.0:0'], {}, /--insecure-http is allowed only on a loopback address/],
      [['--listen', '127.0.0.1:99999'], {}, /out of range/],
      [['--tls-cert', '/nonexistent.pem'], {}, /--tls-cert and --tls-key go together/],
      [[], { GATEHOUSE_ADMIN_TOKEN: 'short' }, /GATEHOUSE_ADMIN_TOKEN must be a random token of at least 32 characters/],
      [['--respond-dry-run'], {}, /--respond-dry-run and --kill-switch go with --respond/],
      [['--respond', '--respond-cooldown', 'soon'], {}, /--respond-cooldown must be a number of seconds, got 'soon'/],
    ];
    for (const [args, env, message] of cases) {
      const dataDir = newDir();
      const r = await runCli(['server', ...args, '--data-dir', dataDir], { env, timeoutMs: 60_000 });
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
      assert.doesNotMatch(r.stderr, /\bat .*\.ts:\d+/, 'no stack trace');
      assert.ok(!existsSync(dataDir), `${args.join(' ')}: nothing created in the data directory`);
    }
  });

  test('a port already in use exits 2 with one line', async () => {
    const first = await startServer(['--data-dir', newDir()]);
    try {
      const port = new URL(first.url).port;
      const r = await runCli(['server', '--listen', `127.0.0.1:${port}`, '--data-dir', newDir()], { timeoutMs: 60_000 });
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, new RegExp(`^gatehouse: cannot listen on 127\\.0\\.0\\.1:${port}: .*EADDRINUSE`));
      assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
    } finally {
      await first.stop();
    }
  });

  test('--insecure-http serves plain HTTP on loopback; the default data directory is $XDG_DATA_HOME/gatehouse', async () => {
    const xdg = newDir();
    const server = await startServer(['--insecure-http', '--respond', '--respond-dry-run', '--respond-cooldown', '60', '--kill-switch', join(xdg, 'stop')], { XDG_DATA_HOME: xdg });
    try {
      assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.match(server.banner, new RegExp(`response:\\s+on \\(dry run\\): cluster actions of runtime policies, cooldown 60 s, kill switch ${join(xdg, 'stop')}`));
      assert.match(server.banner, /TLS:\s+none: plain HTTP/);
      assert.equal(server.fingerprint, undefined);
      assert.match(server.banner, new RegExp(`store:\\s+${join(xdg, 'gatehouse', 'central.db')}`));
      assert.deepEqual(await get(`${server.url}/readyz`), { status: 200, body: { status: 'ready' } });
    } finally {
      await server.stop();
    }
  });

  test('with nothing configured it prints the local engine socket and kubeconfig it found', async () => {
    const dir = newDir();
    const { mkdirSync, writeFileSync } = await import('node:fs');
    const { createServer } = await import('node:net');
    mkdirSync(dir, { recursive: true });
    const socket = join(dir, 'engine.sock');
    const engine = createServer();
    await new Promise<void>((resolve) => engine.listen(socket, resolve));
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(kubeconfig, [
      'apiVersion: v1', 'kind: Config', 'current-context: dev',
      'clusters: [{name: c1, cluster: {server: "https://127.0.0.1:6443"}}]',
      'users: [{name: u1, user: {token: abc}}]',
      'contexts: [{name: dev, context: {cluster: c1, user: u1}}]', '',
    ].join('\n'));
    const server = await startServer(['--data-dir', join(dir, 'data')], { DOCKER_HOST: `unix://${socket}`, KUBECONFIG: kubeconfig });
    try {
      assert.match(server.banner, new RegExp(`container engine:\\s+unix://${socket}`));
      assert.match(server.banner, new RegExp(`kubeconfig:\\s+${kubeconfig} \\(context dev\\)`));
    } finally {
      await server.stop();
      engine.close();
    }
  });
});

describe('gatehouse server on PostgreSQL', { skip: await postgresSkip() }, () => {
  test('--database postgres://… is used and shown without its password', async () => {
    const db = await freshDatabase();
    const server = await startServer(['--data-dir', newDir(), '--database', db.url]);
    try {
      const store = /store:\s+(\S+)/.exec(server.banner)![1]!;
      assert.match(store, /^postgres(ql)?:\/\//);
      assert.match(store, new RegExp(db.name));
      const password = new URL(db.url).password;
      if (password) {
        assert.ok(!server.banner.includes(password), 'no password in the banner');
        assert.match(store, /:\*\*\*@/);
      }
      assert.equal((await get(`${server.url}/api/v1/tokens`, { ca: server.caFile, token: server.token })).status, 200);
    } finally {
      await server.stop();
      await db.drop();
    }
  });
});

describe('gatehouse token', () => {
  test('create, list and revoke through --server/--token and through the environment', async () => {
    const server = await startServer(['--data-dir', newDir()]);
    try {
      const flags = ['--server', server.url, '--token', server.token!, '--server-ca', server.caFile!];
      const created = await runCli(['token', 'create', '--role', 'ci', '--name', 'ci-main', '--expires', '30d', '--format', 'json', ...flags]);
      assert.equal(created.code, 0, created.stderr);
      const token = JSON.parse(created.stdout) as Record<string, unknown>;
      assert.deepEqual(Object.keys(token).sort(), ['expiresAt', 'id', 'name', 'role', 'token']);
      assert.equal(token.role, 'ci');
      assert.equal(token.name, 'ci-main');
      assert.match(String(token.token), /^ghc_[A-Za-z0-9_-]{43}$/);
      const days = (Date.parse(String(token.expiresAt)) - Date.now()) / 86_400_000;
      assert.ok(days > 29.9 && days <= 30, `expires in 30 days, got ${days}`);
      // The ci token works for what a ci token may do, and no more.
      assert.equal((await get(`${server.url}/api/v1/tokens`, { ca: server.caFile, token: String(token.token) })).status, 403);

      const env = { GATEHOUSE_SERVER: server.url, GATEHOUSE_TOKEN: server.token!, GATEHOUSE_CA: server.caFile! };
      const second = await runCli(['token', 'create', '--role', 'admin', '--name', 'second admin'], { env });
      assert.equal(second.code, 0, second.stderr);
      assert.match(second.stdout, /^ID\s+NAME\s+ROLE\s+EXPIRES\s+TOKEN\n/);
      assert.match(second.stderr, /shown only this once/);
      const secondToken = /(ghc_\S+)/.exec(second.stdout)![1]!;
      const secondId = /^(\S+)\s+second admin\s+admin\s+never\s+ghc_/m.exec(second.stdout)?.[1];
      assert.ok(secondId, second.stdout);

      const listed = await runCli(['token', 'list', '--format', 'json'], { env });
      assert.equal(listed.code, 0, listed.stderr);
      const items = JSON.parse(listed.stdout) as Array<Record<string, unknown>>;
      assert.deepEqual(items.map((t) => [t.name, t.role]), [['admin', 'admin'], ['ci-main', 'ci'], ['second admin', 'admin']]);
      assert.ok(!listed.stdout.includes('ghc_'), 'no token values in a list');

      const table = await runCli(['token', 'list'], { env });
      assert.match(table.stdout, /^ID\s+NAME\s+ROLE\s+STATUS\s+CREATED\s+EXPIRES\s+LAST USED\n/);
      assert.match(table.stdout, new RegExp(`^${secondId}\\s+second admin\\s+admin\\s+active\\s`, 'm'));

      // The second admin token works, then is revoked (by the first) and gets 401 in one line.
      assert.equal((await runCli(['token', 'list'], { env: { ...env, GATEHOUSE_TOKEN: secondToken } })).code, 0);
      const revoked = await runCli(['token', 'revoke', secondId, ...flags]);
      assert.equal(revoked.code, 0, revoked.stderr);
      assert.match(revoked.stderr, new RegExp(`revoked token ${secondId}`));
      const refused = await runCli(['token', 'list'], { env: { ...env, GATEHOUSE_TOKEN: secondToken } });
      assert.equal(refused.code, 2);
      assert.match(refused.stderr, /^gatehouse: .*401 invalid API token \(token revoked\)\n$/);
      assert.match((await runCli(['token', 'list'], { env })).stdout, new RegExp(`^${secondId}\\s+second admin\\s+admin\\s+revoked\\s`, 'm'));

      const unknown = await runCli(['token', 'revoke', 'no-such-id'], { env });
      assert.equal(unknown.code, 2);
      assert.match(unknown.stderr, /^gatehouse: .*404 no token with id no-such-id\n$/);
    } finally {
      await server.stop();
    }
  });

  test('a client on the same machine trusts the local CA of the default data directory without GATEHOUSE_CA', async () => {
    const xdg = newDir();
    const server = await startServer([], { XDG_DATA_HOME: xdg });
    try {
      const env = { GATEHOUSE_SERVER: server.url, GATEHOUSE_TOKEN: server.token!, GATEHOUSE_CA: undefined };
      const local = await runCli(['token', 'list'], { env: { ...env, XDG_DATA_HOME: xdg } });
      assert.equal(local.code, 0, local.stderr);
      // Elsewhere (another data directory, so no such CA) the certificate is not trusted.
      const elsewhere = await runCli(['token', 'list'], { env: { ...env, XDG_DATA_HOME: newDir() } });
      assert.equal(elsewhere.code, 2);
      assert.match(elsewhere.stderr, /^gatehouse: cannot reach Central at .*(certificate|self[- ]signed)/i);
      assert.equal(elsewhere.stderr.trim().split('\n').length, 1);
    } finally {
      await server.stop();
    }
  });

  test('usage errors are one line, exit 2, before any request', async () => {
    const env = { GATEHOUSE_SERVER: undefined, GATEHOUSE_TOKEN: undefined, GATEHOUSE_CA: undefined };
    const cases: Array<[string[], RegExp]> = [
      [['token', 'list'], /no Central to talk to: give --server URL/],
      [['token', 'list', '--server', 'https://127.0.0.1:1'], /needs an API token: --token or GATEHOUSE_TOKEN/],
      [['token', 'list', '--server', 'http://central.example:8443', '--token', `ghc_${'x'.repeat(43)}`], /refusing to send a token over plain HTTP/],
      [['token', 'create', '--role', 'root', '--name', 'x', '--server', 'https://127.0.0.1:1', '--token', 't'], /unknown role "root"/],
      [['token', 'create', '--role', 'ci', '--name', 'x', '--expires', 'tomorrow', '--server', 'https://127.0.0.1:1', '--token', 't'], /--expires "tomorrow": expected a date/],
      [['token', 'create', '--role', 'ci', '--name', 'x', '--expires', '2001-01-01', '--server', 'https://127.0.0.1:1', '--token', 't'], /--expires 2001-01-01 is in the past/],
      [['token', 'list', '--server', 'https://127.0.0.1:1', '--token', `ghc_${'x'.repeat(43)}`], /cannot reach Central at https:\/\/127\.0\.0\.1:1/],
    ];
    for (const [args, message] of cases) {
      const r = await runCli(args, { env, timeoutMs: 60_000 });
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
    }
  });
});
