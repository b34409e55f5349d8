/**
 * Gatehouse's SVIDs against an independent implementation of the SPIFFE X509-SVID spec:
 * go-spiffe (the SPIFFE project's Go library), built here from the Go module proxy into the
 * test cache. It parses and validates the SVID and verifies it against bundle.pem, refuses
 * the CA certificate as an SVID, and does mutual TLS with a node:tls peer both ways, each
 * side authorizing the other's SPIFFE ID.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { connect, createServer, type TLSSocket } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { issueSvid, openSpiffeCa, writeSvidFiles } from '../../src/identity/ca.js';
import { peerSpiffeId } from '../../src/identity/peer.js';
import { cachedPath, hasCommand, missing } from '../helpers/components.js';

const src = fileURLToPath(new URL('./go-peer/', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'gatehouse-go-peer-'));
after(() => rmSync(work, { recursive: true, force: true }));
const skip = missing(hasCommand('go'), 'Go is not installed (needed to build the go-spiffe peer)');

let peer = '';
before(() => {
  if (skip) return;
  const hash = createHash('sha256');
  for (const f of ['main.go', 'go.mod', 'go.sum']) hash.update(readFileSync(join(src, f)));
  peer = cachedPath('bin', `svidpeer-${hash.digest('hex').slice(0, 12)}`);
  if (existsSync(peer)) return;
  mkdirSync(cachedPath('bin'), { recursive: true });
  const tmp = `${peer}.${process.pid}`;
  const b = spawnSync('nice', ['-n', '10', 'go', 'build', '-trimpath', '-o', tmp, '.'], { cwd: src, encoding: 'utf8', env: { ...process.env, CGO_ENABLED: '0' }, timeout: 900_000 });
  assert.equal(b.status, 0, `building the go-spiffe peer failed: ${b.stderr}`);
  renameSync(tmp, peer);
});

async function svid(name: string, id: string, caDir = 'ca') {
  const ca = await openSpiffeCa(join(work, caDir), 'example.org');
  const s = await issueSvid(ca, id, { ttlMs: 3_600_000 });
  return { ...s, files: writeSvidFiles(s, join(work, name)) };
}

test('go-spiffe loads and verifies the SVID, and refuses the CA certificate as one', { skip }, async () => {
  const s = await svid('verify', 'spiffe://example.org/ns/payments/sa/api');
  const ok = spawnSync(peer, ['verify', s.files.cert, s.files.key, s.files.bundle, 'example.org'], { encoding: 'utf8' });
  assert.equal(ok.status, 0, ok.stderr);
  assert.equal(ok.stdout.trim(), 'spiffe://example.org/ns/payments/sa/api');
  const ca = join(work, 'ca', 'example.org');
  const asLeaf = spawnSync(peer, ['verify', join(ca, 'ca.crt'), join(ca, 'ca.key'), s.files.bundle, 'example.org'], { encoding: 'utf8' });
  assert.notEqual(asLeaf.status, 0);
  assert.match(asLeaf.stderr, /CA flag|path/i);
  const other = await svid('other', 'spiffe://example.org/x', 'other-ca');
  const foreign = spawnSync(peer, ['verify', s.files.cert, s.files.key, other.files.bundle, 'example.org'], { encoding: 'utf8' });
  assert.notEqual(foreign.status, 0);
  assert.match(foreign.stderr, /verify/);
});

/** Starts the Go server; resolves its port and a promise of its output. */
function goServer(args: string[]): Promise<{ port: number; done: Promise<string> }> {
  return new Promise((resolve, reject) => {
    const child = spawn(peer, ['serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const done = new Promise<string>((r) => child.on('close', () => r(out + err)));
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /port (\d+)/.exec(out);
      if (m) resolve({ port: Number(m[1]), done });
    });
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    child.on('close', (code) => reject(new Error(`svidpeer exited ${code}: ${out}${err}`)));
  });
}

/** Runs the Go peer without blocking this process's event loop (the Node side of the handshake lives here). */
function run(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(peer, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('close', (status) => { clearTimeout(timer); resolve({ status, stdout, stderr }); });
  });
}

function nodeClient(port: number, s: { certPem: string; keyPem: string; bundlePem: string }): Promise<{ serverId?: string; reply: string; error?: string }> {
  return new Promise((resolve) => {
    const sock = connect({ host: '127.0.0.1', port, cert: s.certPem, key: s.keyPem, ca: s.bundlePem, checkServerIdentity: () => undefined });
    let reply = '';
    let serverId: string | undefined;
    let error: string | undefined;
    sock.on('secureConnect', () => { serverId = peerSpiffeId(sock); });
    sock.on('data', (d) => { reply += d.toString(); });
    sock.on('error', (e) => { error = e.message; });
    sock.on('close', () => resolve({ serverId, reply, ...(error ? { error } : {}) }));
  });
}

test('mutual TLS with go-spiffe: a Go server authorizes the Node client by ID, a Go client the Node server', { skip }, async () => {
  const api = await svid('api', 'spiffe://example.org/ns/payments/sa/api');
  const web = await svid('web', 'spiffe://example.org/host/node1/workload/web');

  // Go serves as api and admits only web.
  const go = await goServer([api.files.cert, api.files.key, api.files.bundle, 'example.org', web.spiffeId]);
  const r = await nodeClient(go.port, web);
  assert.equal(r.serverId, api.spiffeId);
  assert.equal(r.reply, `hello ${web.spiffeId}`);
  assert.match(await go.done, new RegExp(`served ${web.spiffeId}`));

  // Go admits only web: api's own SVID is refused by the authorizer.
  const strict = await goServer([api.files.cert, api.files.key, api.files.bundle, 'example.org', web.spiffeId]);
  const refused = await nodeClient(strict.port, api);
  assert.equal(refused.reply, '');
  assert.match(await strict.done, /refused: .*unexpected ID/);

  // Node serves as web; the Go client expects web and presents api.
  let seen: string | undefined;
  const srv = createServer({ cert: web.certPem, key: web.keyPem, ca: web.bundlePem, requestCert: true, rejectUnauthorized: true }, (s: TLSSocket) => {
    seen = peerSpiffeId(s);
    s.end(`hello ${seen}`);
  });
  await new Promise<void>((res) => srv.listen(0, '127.0.0.1', res));
  try {
    const port = (srv.address() as { port: number }).port;
    const dial = await run(['dial', `127.0.0.1:${port}`, api.files.cert, api.files.key, api.files.bundle, 'example.org', web.spiffeId]);
    assert.equal(dial.status, 0, dial.stderr);
    assert.equal(dial.stdout, `hello ${api.spiffeId}`);
    assert.equal(seen, api.spiffeId);
    // Expecting another server ID, the Go client refuses the Node server.
    const wrong = await run(['dial', `127.0.0.1:${port}`, api.files.cert, api.files.key, api.files.bundle, 'example.org', 'spiffe://example.org/ns/other/sa/x']);
    assert.notEqual(wrong.status, 0);
    assert.match(wrong.stderr, /unexpected ID/);
  } finally {
    await new Promise((res) => srv.close(res));
  }
});
