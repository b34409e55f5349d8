/**
 * SPIFFE X.509-SVIDs from the Gatehouse CA, checked by the real openssl (chain, URI SAN,
 * key usages, EKUs, lifetime) and by a real mutual TLS handshake between two services on
 * 127.0.0.1, each presenting its own SVID and checking the other's SPIFFE ID.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, connect, type TLSSocket } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { issueSvid, openSpiffeCa, parseTtl, writeSvidFiles, type IssuedSvid } from '../../src/identity/ca.js';
import { peerSpiffeId, spiffeIdOfCertificate, SvidError } from '../../src/identity/peer.js';
import { hasCommand, missing } from '../helpers/components.js';

const work = mkdtempSync(join(tmpdir(), 'gatehouse-svid-'));
after(() => rmSync(work, { recursive: true, force: true }));

const noOpenssl = missing(hasCommand('openssl'), 'openssl not installed');
const openssl = (args: string[]) => spawnSync('openssl', args, { encoding: 'utf8' });

test('the CA is made once per trust domain, its key 0600, and reused', async () => {
  const dir = join(work, 'ca-once');
  const a = await openSpiffeCa(dir, 'example.org');
  const b = await openSpiffeCa(dir, 'example.org');
  assert.equal(a.certPem, b.certPem);
  assert.equal(statSync(join(dir, 'example.org', 'ca.key')).mode & 0o777, 0o600);
  assert.equal(readFileSync(join(dir, 'example.org', 'ca.crt'), 'utf8'), a.certPem);
  const other = await openSpiffeCa(dir, 'other.test');
  assert.notEqual(other.certPem, a.certPem);
  const ca = new X509Certificate(a.certPem);
  assert.equal(ca.ca, true);
  assert.equal(ca.subjectAltName, 'URI:spiffe://example.org');
  // Two at once on a fresh directory agree on one CA.
  const [x, y] = await Promise.all([openSpiffeCa(join(work, 'race'), 'example.org'), openSpiffeCa(join(work, 'race'), 'example.org')]);
  assert.equal(x.certPem, y.certPem);
});

test('bad SPIFFE IDs, foreign trust domains and lifetimes over 24 h are refused in one line', async () => {
  const ca = await openSpiffeCa(join(work, 'ca-bad'), 'example.org');
  await assert.rejects(issueSvid(ca, 'spiffe://example.org', { ttlMs: 3_600_000 }), /names a trust domain, not a workload/);
  await assert.rejects(issueSvid(ca, 'spiffe://other.org/ns/a/sa/b', { ttlMs: 3_600_000 }), /not in the CA's trust domain example.org/);
  await assert.rejects(issueSvid(ca, 'spiffe://Example.org/x', { ttlMs: 3_600_000 }), /is not a SPIFFE ID/);
  await assert.rejects(issueSvid(ca, 'spiffe://example.org/a/../b', { ttlMs: 3_600_000 }), /is not a SPIFFE ID/);
  await assert.rejects(issueSvid(ca, 'spiffe://example.org/a', { ttlMs: 25 * 3_600_000 }), /1 minute to 24 hours/);
  assert.throws(() => parseTtl('25h'), /--ttl takes a duration from 1m to 24h/);
  assert.throws(() => parseTtl('1d'), /--ttl/);
  assert.equal(parseTtl('1h'), 3_600_000);
  assert.equal(parseTtl('90s'), 90_000);
});

async function issued(dir: string, td: string, id: string, ttl = '1h'): Promise<IssuedSvid & { files: { cert: string; key: string; bundle: string } }> {
  const ca = await openSpiffeCa(join(work, dir), td);
  const svid = await issueSvid(ca, id, { ttlMs: parseTtl(ttl) });
  return { ...svid, files: writeSvidFiles(svid, join(work, dir, 'out', id.replace(/[^a-z0-9]+/gi, '_'))) };
}

test('openssl verifies the SVID against bundle.pem and shows one URI SAN, the key usages and both EKUs', { skip: noOpenssl }, async () => {
  const svid = await issued('ca-openssl', 'example.org', 'spiffe://example.org/ns/payments/sa/api', '2h');
  assert.equal(statSync(svid.files.key).mode & 0o777, 0o600);
  const verify = openssl(['verify', '-CAfile', svid.files.bundle, svid.files.cert]);
  assert.equal(verify.status, 0, verify.stderr);
  assert.match(verify.stdout, /svid\.pem: OK/);
  // The purposes too: a TLS server and a TLS client certificate.
  for (const purpose of ['sslserver', 'sslclient']) assert.equal(openssl(['verify', '-purpose', purpose, '-CAfile', svid.files.bundle, svid.files.cert]).status, 0, purpose);
  const text = openssl(['x509', '-in', svid.files.cert, '-noout', '-text']);
  assert.equal(text.status, 0, text.stderr);
  const out = text.stdout;
  assert.match(out, /X509v3 Subject Alternative Name: ?\n\s+URI:spiffe:\/\/example\.org\/ns\/payments\/sa\/api\s*\n/);
  assert.doesNotMatch(out, /DNS:|IP Address:/);
  assert.match(out, /X509v3 Key Usage: critical\n\s+Digital Signature, Key Agreement\n/);
  assert.match(out, /X509v3 Extended Key Usage: ?\n\s+TLS Web Server Authentication, TLS Web Client Authentication\n/);
  assert.match(out, /X509v3 Basic Constraints: critical\n\s+CA:FALSE/);
  const cert = new X509Certificate(svid.certPem);
  const life = Date.parse(cert.validTo) - Date.now();
  assert.ok(life > 1.9 * 3_600_000 && life <= 2 * 3_600_000, `lifetime ${life} ms`);
  assert.equal(spiffeIdOfCertificate(cert), 'spiffe://example.org/ns/payments/sa/api');
  // The CA as openssl sees it: a signing SVID of the trust domain itself.
  const caText = openssl(['x509', '-in', svid.files.bundle, '-noout', '-text']).stdout;
  assert.match(caText, /CA:TRUE/);
  assert.match(caText, /Certificate Sign, CRL Sign/);
  assert.match(caText, /URI:spiffe:\/\/example\.org\s*\n/);
  // A CA of another domain does not verify it.
  const stranger = await issued('ca-stranger', 'example.org', 'spiffe://example.org/x');
  assert.notEqual(openssl(['verify', '-CAfile', stranger.files.bundle, svid.files.cert]).status, 0);
  // The leaf check refuses a CA certificate as a peer identity.
  assert.throws(() => spiffeIdOfCertificate(new X509Certificate(svid.bundlePem)), SvidError);
});

interface Peer { id?: string; error?: string }

/** A server and a client, each with its own SVID; each checks the peer's SPIFFE ID. */
async function handshake(server: IssuedSvid, client: IssuedSvid, expect: { byServer: string; byClient: string }): Promise<{ server: Peer; client: Peer; reply?: string }> {
  const seen: { server: Peer } = { server: {} };
  const srv = createServer({ cert: server.certPem, key: server.keyPem, ca: server.bundlePem, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.3' }, (s: TLSSocket) => {
    try {
      const id = peerSpiffeId(s);
      seen.server.id = id;
      if (id !== expect.byServer) throw new Error(`unexpected client ${id}`);
      s.end(`hello ${id}`);
    } catch (e) {
      seen.server.error = (e as Error).message;
      s.destroy();
    }
  });
  srv.on('tlsClientError', (e) => { seen.server.error = e.message; });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  try {
    const result = await new Promise<{ client: Peer; reply?: string }>((resolve) => {
      const sock = connect({
        host: '127.0.0.1', port, cert: client.certPem, key: client.keyPem, ca: client.bundlePem, minVersion: 'TLSv1.3',
        // An SVID names a workload, not a host: the SPIFFE ID replaces the hostname check.
        checkServerIdentity: () => undefined,
      });
      let reply = '';
      const peer: Peer = {};
      sock.on('secureConnect', () => {
        try {
          peer.id = peerSpiffeId(sock);
          if (peer.id !== expect.byClient) throw new Error(`unexpected server ${peer.id}`);
        } catch (e) {
          peer.error = (e as Error).message;
          sock.destroy();
        }
      });
      sock.on('data', (d) => { reply += d.toString(); });
      sock.on('error', (e) => { peer.error ??= e.message; });
      sock.on('close', () => resolve({ client: peer, ...(reply ? { reply } : {}) }));
    });
    await new Promise((r) => setTimeout(r, 20));
    return { server: seen.server, ...result };
  } finally {
    await new Promise((r) => srv.close(r));
  }
}

test('two services authenticate each other by SPIFFE ID over mutual TLS; a wrong CA or ID fails', async () => {
  const api = await issued('ca-mtls', 'example.org', 'spiffe://example.org/ns/payments/sa/api');
  const web = await issued('ca-mtls', 'example.org', 'spiffe://example.org/host/node1/workload/web');
  const ok = await handshake(api, web, { byServer: 'spiffe://example.org/host/node1/workload/web', byClient: 'spiffe://example.org/ns/payments/sa/api' });
  assert.equal(ok.client.error, undefined);
  assert.equal(ok.server.error, undefined);
  assert.equal(ok.client.id, 'spiffe://example.org/ns/payments/sa/api');
  assert.equal(ok.server.id, 'spiffe://example.org/host/node1/workload/web');
  assert.equal(ok.reply, 'hello spiffe://example.org/host/node1/workload/web');

  // A client whose SVID comes from another CA (same trust domain name): the server refuses the handshake.
  const rogue = await issued('ca-rogue', 'example.org', 'spiffe://example.org/host/node1/workload/web');
  const bad = await handshake(api, rogue, { byServer: 'spiffe://example.org/host/node1/workload/web', byClient: 'spiffe://example.org/ns/payments/sa/api' });
  assert.equal(bad.reply, undefined);
  // Node's server destroys a connection whose client certificate fails verification before
  // any handler runs, and reports it as a client error (in TLS 1.3 the client learns it on close).
  assert.ok(bad.server.error, 'the server refused the handshake');
  assert.equal(bad.server.id, undefined, 'no connection reached the service');

  // The client does not trust the server's CA: it refuses the server.
  const distrust = await handshake(rogue, web, { byServer: 'x', byClient: 'y' });
  assert.match(distrust.client.error ?? '', /self[- ]signed|unable to verify|certificate/i);
  assert.equal(distrust.reply, undefined);

  // A valid SVID with the wrong identity: the handshake succeeds, the SPIFFE ID check refuses.
  const intruder = await issued('ca-mtls', 'example.org', 'spiffe://example.org/ns/other/sa/default');
  const wrongId = await handshake(api, intruder, { byServer: 'spiffe://example.org/host/node1/workload/web', byClient: 'spiffe://example.org/ns/payments/sa/api' });
  assert.equal(wrongId.server.id, 'spiffe://example.org/ns/other/sa/default');
  assert.match(wrongId.server.error ?? '', /unexpected client/);
  assert.equal(wrongId.reply, undefined);
});

test('an expired SVID fails the handshake', async () => {
  const ca = await openSpiffeCa(join(work, 'ca-expired'), 'example.org');
  const server = await issueSvid(ca, 'spiffe://example.org/s', { ttlMs: 3_600_000 });
  const old = await issueSvid(ca, 'spiffe://example.org/c', { ttlMs: 120_000, now: new Date(Date.now() - 3_600_000) });
  const r = await handshake(server, old, { byServer: 'spiffe://example.org/c', byClient: 'spiffe://example.org/s' });
  assert.equal(r.reply, undefined);
  assert.ok(r.server.error, 'the server refused the handshake');
  assert.equal(r.server.id, undefined);
  // Why, as openssl says it.
  if (hasCommand('openssl')) {
    const files = writeSvidFiles(old, join(work, 'expired-out'));
    const v = openssl(['verify', '-CAfile', files.bundle, files.cert]);
    assert.notEqual(v.status, 0);
    assert.match(v.stdout + v.stderr, /certificate has expired/);
  }
  // And a fresh SVID of the same CA is accepted by the same server.
  const fresh = await issueSvid(ca, 'spiffe://example.org/c', { ttlMs: 120_000 });
  const ok = await handshake(server, fresh, { byServer: 'spiffe://example.org/c', byClient: 'spiffe://example.org/s' });
  assert.equal(ok.reply, 'hello spiffe://example.org/c');
});
