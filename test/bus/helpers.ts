/**
 * Real parts for the event-bus tests: nats-server processes (JetStream, file store in a temp
 * directory, a free port on 127.0.0.1), `gatehouse server` processes started through the
 * CLI, the publisher child (test/bus/publisher-child.ts: the sensor's real spool + shipper +
 * bus publisher code path) and a private PostgreSQL cluster that a test may restart.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hasCommand, missing } from '../helpers/components.js';
import { freePort } from '../helpers/free-port.js';
export { freePort };

const bin = fileURLToPath(new URL('../../bin/gatehouse.mjs', import.meta.url));
const publisherChild = fileURLToPath(new URL('./publisher-child.ts', import.meta.url));
export const PG_BIN = '/usr/lib/postgresql/15/bin';

export function natsSkip(): string | false {
  return missing(hasCommand('nats-server'), 'nats-server not installed (run .ci/setup.d/81-nats.sh)');
}

export function privatePostgresSkip(): string | false {
  return missing(existsSync(join(PG_BIN, 'initdb')) && existsSync(join(PG_BIN, 'pg_ctl')) && process.getuid?.() === 0, `PostgreSQL 15 server binaries (${PG_BIN}) and root (to run them as the postgres user) are needed (run .ci/setup.d/80-postgres.sh)`);
}

/** Directories tempDir made in this process: removed when it exits (a test file or a bench run ends). */
const made = new Set<string>();
process.once('exit', () => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true, maxRetries: 2 });
});

export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `gatehouse-bus-${prefix}-`));
  made.add(dir);
  return dir;
}


export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 60_000, everyMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`);
    await sleep(everyMs);
  }
}

interface Proc {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function launch(cmd: string, args: string[], env: Record<string, string | undefined> = {}): Proc {
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => out, exited };
}

async function waitOutput(p: Proc, re: RegExp, what: string, timeoutMs = 120_000): Promise<void> {
  let done = false;
  void p.exited.then(() => (done = true));
  await waitFor(what, () => {
    if (re.test(p.output())) return true;
    if (done) throw new Error(`${what}: the process exited; output:\n${p.output().slice(-4000)}`);
    return false;
  }, timeoutMs, 100);
}

async function kill9(p: Proc): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  p.child.kill('SIGKILL');
  await p.exited;
}

async function terminate(p: Proc, timeoutMs = 20_000): Promise<number | null> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return p.child.exitCode;
  p.child.kill('SIGTERM');
  const t = setTimeout(() => p.child.kill('SIGKILL'), timeoutMs);
  const code = await p.exited;
  clearTimeout(t);
  return code;
}

// ---------------------------------------------------------------- nats-server

export interface NatsServer {
  url: string;
  port: number;
  dir: string;
  pid(): number;
  /** kill -9: no flush, no goodbye. */
  kill9(): Promise<void>;
  /** Starts it again on the same port with the same store directory. */
  restart(): Promise<void>;
  stop(): Promise<void>;
  output(): string;
}

export async function startNats(): Promise<NatsServer> {
  const dir = tempDir('nats');
  const port = await freePort();
  let proc: Proc;
  const start = async () => {
    proc = launch('nats-server', ['-js', '-sd', dir, '-a', '127.0.0.1', '-p', String(port)]);
    await waitOutput(proc, /Server is ready/, 'nats-server ready', 30_000);
  };
  await start();
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    dir,
    pid: () => proc.child.pid!,
    kill9: () => kill9(proc),
    restart: start,
    stop: async () => void (await terminate(proc)),
    output: () => proc.output(),
  };
}

// ---------------------------------------------------------------- gatehouse server

export const ADMIN_TOKEN = `bus-test-${randomBytes(24).toString('hex')}`;

export interface CentralProcess {
  url: string;
  pid: number;
  kill9(): Promise<void>;
  stop(): Promise<number | null>;
  output(): string;
  /** GET with the admin token; the body as text. */
  get(path: string): Promise<{ status: number; text: string }>;
  /** POST JSON with the admin token. */
  post(path: string, body: unknown): Promise<{ status: number; text: string }>;
}

/** `gatehouse server --insecure-http --listen 127.0.0.1:0 --no-local-sources ARGS`, once its banner is out (nodeArgs: node's own flags, e.g. --cpu-prof). */
/** `entry`: the CLI to run (benches pass the compiled one, bench/compiled-cli.ts). */
export async function startCentralCli(args: string[], env: Record<string, string | undefined> = {}, nodeArgs: string[] = [], entry = bin): Promise<CentralProcess> {
  const proc = launch(process.execPath, [...nodeArgs, entry, 'server', '--insecure-http', '--listen', '127.0.0.1:0', '--no-local-sources', '--data-dir', tempDir('central'), ...args], {
    GATEHOUSE_FROM_SOURCE: '1', GATEHOUSE_ADMIN_TOKEN: ADMIN_TOKEN, GATEHOUSE_REGISTRY_HYGIENE_MINUTES: undefined, ...env,
  });
  await waitOutput(proc, /^\s+clients:.*\n/m, 'gatehouse server banner');
  const url = /listening on (\S+)/.exec(proc.output())![1]!;
  return {
    url,
    pid: proc.child.pid!,
    kill9: () => kill9(proc),
    stop: () => terminate(proc),
    output: proc.output,
    async get(path) {
      const res = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
      return { status: res.status, text: await res.text() };
    },
    async post(path, body) {
      const res = await fetch(`${url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      return { status: res.status, text: await res.text() };
    },
  };
}

/** The value of one sample in Prometheus text (0 when absent). */
export function metricValue(text: string, name: string, labels = ''): number {
  const wanted = labels ? labels.split(',') : [];
  const line = text.split('\n').find((l) => {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? /.exec(l);
    if (!m || m[1] !== name) return false;
    const have = (m[2] ?? '').split(',');
    return wanted.every((w) => have.includes(w));
  });
  return line ? Number(line.split(' ').pop()) : 0;
}

// ---------------------------------------------------------------- the publisher child

export interface PublisherProcess {
  pid: number;
  kill9(): Promise<void>;
  /** Resolves with its exit code when it has sent everything (it drains its spool, then exits). */
  exited: Promise<number | null>;
  output(): string;
}

/**
 * The sensor's publishing path in a child process: events `pub:<tag>:<n>` submitted at
 * `rate`/s through the disk spool at `spoolDir` to NATS; every id JetStream acknowledged is
 * appended to `ackFile` (acked;ID or duplicate;ID). With `count` it stops after that many
 * and waits until the spool is empty.
 */
export function startPublisher(o: { nats: string; spoolDir: string; ackFile: string; tag: string; rate: number; count: number; cluster?: string }): PublisherProcess {
  const proc = launch(process.execPath, ['--import', 'tsx', publisherChild, JSON.stringify(o)], { GATEHOUSE_FROM_SOURCE: '1' });
  return { pid: proc.child.pid!, kill9: () => kill9(proc), exited: proc.exited, output: proc.output };
}

/** What the publisher children recorded: ids JetStream acknowledged (stored or duplicate). */
export function readAcks(ackFile: string): { acked: Set<string>; duplicates: number } {
  const acked = new Set<string>();
  let duplicates = 0;
  if (!existsSync(ackFile)) return { acked, duplicates };
  for (const line of readFileSync(ackFile, 'utf8').split('\n')) {
    const m = /^(acked|duplicate);(.+)$/.exec(line);
    if (!m) continue; // a torn last line of a killed child
    acked.add(m[2]!);
    if (m[1] === 'duplicate') duplicates++;
  }
  return { acked, duplicates };
}

// ---------------------------------------------------------------- a private PostgreSQL

export interface PrivatePostgres {
  url: string;
  stop(mode?: 'fast' | 'immediate'): void;
  start(): void;
  destroy(): void;
}

/** initdb + pg_ctl as the postgres user in a temp directory, on a free port (trust auth, loopback only). */
export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const root = tempDir('pg');
  chmodSync(root, 0o755);
  const data = join(root, 'data');
  const sock = join(root, 'sock');
  mkdirSync(sock);
  const pw = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
  const uid = Number(pw.stdout.trim());
  const gid = Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim());
  chownSync(root, uid, gid);
  chownSync(sock, uid, gid);
  const port = await freePort();
  const asPostgres = (cmd: string, args: string[]) => {
    const r = spawnSync('runuser', ['-u', 'postgres', '--', join(PG_BIN, cmd), ...args], { encoding: 'utf8', cwd: '/tmp' });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr || r.stdout}`);
  };
  asPostgres('initdb', ['-D', data, '--auth=trust', '-U', 'postgres', '--no-sync']);
  const start = () => asPostgres('pg_ctl', ['-D', data, '-w', '-l', join(root, 'log'), '-o', `-p ${port} -k ${sock} -c listen_addresses=127.0.0.1 -c fsync=on`, 'start']);
  start();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    start,
    stop: (mode = 'fast') => asPostgres('pg_ctl', ['-D', data, '-w', '-m', mode, 'stop']),
    destroy: () => {
      spawnSync('runuser', ['-u', 'postgres', '--', join(PG_BIN, 'pg_ctl'), '-D', data, '-m', 'immediate', 'stop'], { stdio: 'ignore', cwd: '/tmp' });
    },
  };
}
