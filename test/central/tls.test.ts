/**
 * Central's TLS material, proven with real TLS: a node:https server using the generated
 * certificate is reachable by a client whose only trust anchor is the local CA, and by no
 * other; openssl agrees on the CA fingerprint and the chain; renewal keeps the CA.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { after, describe, test } from 'node:test';
import { Agent, fetch } from 'undici';
import { ensureLocalTls, loadUserTls, resolveListen, type LocalTls } from '../../src/central/tls.js';
import { UserError } from '../../src/util/errors.js';
import { hasCommand, missing } from '../helpers/components.js';

const DAY_MS = 24 * 60 * 60 * 1000;
const root = mkdtempSync(join(tmpdir(), 'gatehouse-tls-'));
after(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;
const freshDir = (): string => join(root, `data-${++dirs}`);
const daysAgo = (n: number): Date => new Date(Date.now() - n * DAY_MS);

async function serve(tls: { cert: string; key: string }): Promise<{ port: number; close(): Promise<void> }> {
  const server: Server = createServer({ cert: tls.cert, key: tls.key }, (_req, res) => res.end('central says hi'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function get(url: string, dispatcher?: Agent): Promise<string> {
  const res = await fetch(url, dispatcher ? { dispatcher } : {});
  return res.text();
}

/** Whether a TLS handshake to 127.0.0.1:port verifies for `servername` with `ca` as the trust anchor. */
function handshake(port: number, ca: string, servername: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, ca, servername }, () => {
      socket.end();
      resolve('ok');
    });
    socket.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });
}

function userError(fn: () => Promise<unknown>, re: RegExp): Promise<void> {
  return assert.rejects(fn, (e: unknown) => {
    assert.ok(e instanceof UserError, `expected a UserError, got ${String(e)}`);
    assert.match(e.message, re);
    assert.ok(!e.message.includes('\n'), `one line: ${e.message}`);
    return true;
  });
}

describe('ensureLocalTls', () => {
  test('first start makes a CA and a server certificate that a client trusting only that CA accepts', async () => {
    const dir = freshDir();
    const tls = await ensureLocalTls(dir);
    assert.equal(tls.created, true);
    assert.equal(tls.serverIssued, true);
    assert.equal(tls.caFile, join(dir, 'tls', 'ca.crt'));
    for (const f of ['ca.key', 'server.key']) assert.equal(statSync(join(dir, 'tls', f)).mode & 0o777, 0o600, f);
    assert.equal(readFileSync(join(dir, 'tls', 'server.crt'), 'utf8'), tls.cert);

    const server = await serve(tls);
    const trusting = new Agent({ connect: { ca: tls.ca } });
    const other = new Agent({ connect: { ca: (await ensureLocalTls(freshDir())).ca } });
    try {
      assert.equal(await get(`https://127.0.0.1:${server.port}/`, trusting), 'central says hi');
      // Node's own trust store does not know the local CA, and another Central's CA is not this one.
      await assert.rejects(get(`https://127.0.0.1:${server.port}/`), (e: Error) => {
        assert.match(String((e.cause as NodeJS.ErrnoException | undefined)?.code), /UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED/);
        return true;
      });
      await assert.rejects(get(`https://127.0.0.1:${server.port}/`, other));

      // The names a local client dials are in the certificate; others are refused.
      assert.equal(await handshake(server.port, tls.ca, 'localhost'), 'ok');
      const machine = hostname().toLowerCase();
      // A machine named with characters DNS does not allow cannot be in the certificate.
      if (/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/.test(machine)) assert.equal(await handshake(server.port, tls.ca, machine), 'ok');
      assert.equal(await handshake(server.port, tls.ca, 'elsewhere.example'), 'ERR_TLS_CERT_ALTNAME_INVALID');
      const leaf = new X509Certificate(tls.cert);
      assert.ok(leaf.checkIP('::1'), 'the IPv6 loopback address is a SAN');
      assert.ok(leaf.checkIP('127.0.0.1'));
      assert.equal(leaf.ca, false);
      const year = Date.parse(leaf.validTo) - Date.now();
      assert.ok(year > 364 * DAY_MS && year < 366 * DAY_MS, leaf.validTo);
      const ca = new X509Certificate(tls.ca);
      assert.equal(ca.ca, true);
      assert.ok(Date.parse(ca.validTo) - Date.now() > 3649 * DAY_MS, ca.validTo);
      assert.equal(ca.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
    } finally {
      await trusting.close();
      await other.close();
      await server.close();
    }
  });

  test('the CA fingerprint is what openssl prints, and openssl verifies the chain', { skip: missing(hasCommand('openssl'), 'openssl not installed (.ci/setup.d/70-engine-proxy.sh)') }, async () => {
    const dir = freshDir();
    const tls = await ensureLocalTls(dir);
    const printed = execFileSync('openssl', ['x509', '-noout', '-fingerprint', '-sha256', '-in', tls.caFile], { encoding: 'utf8' });
    assert.equal(tls.caFingerprint, printed.trim().split('=')[1]);
    assert.match(tls.caFingerprint, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    const verified = execFileSync('openssl', ['verify', '-CAfile', tls.caFile, join(dir, 'tls', 'server.crt')], { encoding: 'utf8' });
    assert.match(verified, /: OK$/m);
  });

  test('a later start reuses the CA and the certificate', async () => {
    const dir = freshDir();
    const first = await ensureLocalTls(dir);
    const second = await ensureLocalTls(dir);
    assert.equal(second.created, false);
    assert.equal(second.serverIssued, false);
    assert.equal(second.caFingerprint, first.caFingerprint);
    assert.equal(second.cert, first.cert);
    assert.equal(second.key, first.key);
  });

  test('a server certificate within 30 days of expiry is re-issued by the same CA; one with more time is kept', async () => {
    const kept = freshDir();
    const old = await ensureLocalTls(kept, { now: daysAgo(300) }); // 65 days left
    const again = await ensureLocalTls(kept);
    assert.equal(again.serverIssued, false);
    assert.equal(again.cert, old.cert);

    const dir = freshDir();
    const before = await ensureLocalTls(dir, { now: daysAgo(340) }); // 25 days left
    const after = await ensureLocalTls(dir);
    assert.equal(after.created, false);
    assert.equal(after.serverIssued, true);
    assert.equal(after.caFingerprint, before.caFingerprint);
    assert.notEqual(after.cert, before.cert);
    assert.notEqual(after.key, before.key);
    const leaf = new X509Certificate(after.cert);
    assert.ok(Date.parse(leaf.validTo) - Date.now() > 364 * DAY_MS);
    assert.ok(leaf.verify(new X509Certificate(after.ca).publicKey));
    assert.equal(statSync(join(dir, 'tls', 'server.key')).mode & 0o777, 0o600);
  });

  test('a CA about to expire is replaced; a renamed machine gets a certificate with its new name', async () => {
    const dir = freshDir();
    const old = await ensureLocalTls(dir, { now: daysAgo(3650 - 10) });
    const renewed = await ensureLocalTls(dir);
    assert.equal(renewed.created, true);
    assert.notEqual(renewed.caFingerprint, old.caFingerprint);

    const named = freshDir();
    const a = await ensureLocalTls(named, { hostname: 'central-a.example' });
    const b = await ensureLocalTls(named, { hostname: 'central-b.example' });
    assert.equal(b.serverIssued, true);
    assert.equal(b.caFingerprint, a.caFingerprint);
    assert.equal(new X509Certificate(b.cert).checkHost('central-b.example'), 'central-b.example');
    assert.equal(new X509Certificate(b.cert).checkHost('central-a.example'), undefined);
  });

  test('a damaged CA is a one-line error, never silently replaced', async () => {
    const dir = freshDir();
    await ensureLocalTls(dir);
    const other = await ensureLocalTls(freshDir());
    writeFileSync(join(dir, 'tls', 'ca.key'), other.key);
    await userError(() => ensureLocalTls(dir), /ca\.key is not the key of .*ca\.crt: remove/);
    writeFileSync(join(dir, 'tls', 'ca.crt'), 'garbage');
    await userError(() => ensureLocalTls(dir), /ca\.crt is not a CA certificate in PEM/);
  });
});

describe('loadUserTls', () => {
  test('takes a matching certificate and key', async () => {
    const dir = freshDir();
    const tls: LocalTls = await ensureLocalTls(dir);
    const user = await loadUserTls(join(dir, 'tls', 'server.crt'), join(dir, 'tls', 'server.key'));
    assert.equal(user.cert, tls.cert);
    assert.equal(user.key, tls.key);
    assert.equal(user.fingerprint, new X509Certificate(tls.cert).fingerprint256);
  });

  test('refuses unreadable, non-PEM, mismatched and expired material in one line', async () => {
    const dir = freshDir();
    await ensureLocalTls(dir);
    const cert = join(dir, 'tls', 'server.crt');
    const key = join(dir, 'tls', 'server.key');
    const junk = join(root, 'junk.pem');
    writeFileSync(junk, 'not a certificate\n');
    const badBody = join(root, 'bad-body.pem');
    writeFileSync(badBody, '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');

    await userError(() => loadUserTls(join(root, 'absent.crt'), key), /--tls-cert .*absent\.crt: ENOENT/);
    await userError(() => loadUserTls(cert, join(root, 'absent.key')), /--tls-key .*absent\.key: ENOENT/);
    await userError(() => loadUserTls(junk, key), /--tls-cert .*junk\.pem is not a PEM file/);
    await userError(() => loadUserTls(badBody, key), /--tls-cert .*bad-body\.pem holds no PEM certificate/);
    await userError(() => loadUserTls(cert, cert), /--tls-key .* holds no unencrypted PEM private key/);
    await userError(() => loadUserTls(cert, join(dir, 'tls', 'ca.key')), /--tls-key .*ca\.key is not the key of the certificate in/);

    const stale = freshDir();
    await ensureLocalTls(stale, { now: daysAgo(400) });
    await userError(() => loadUserTls(join(stale, 'tls', 'server.crt'), join(stale, 'tls', 'server.key')), /expired on \d{4}-/);
  });
});

describe('resolveListen', () => {
  const cases: Array<[string | undefined, { host: string; port: number }]> = [
    [undefined, { host: '127.0.0.1', port: 8443 }],
    ['', { host: '127.0.0.1', port: 8443 }],
    ['127.0.0.1:8443', { host: '127.0.0.1', port: 8443 }],
    ['[::1]:9443', { host: '::1', port: 9443 }],
    [':8444', { host: '127.0.0.1', port: 8444 }],
    ['0.0.0.0:8443', { host: '0.0.0.0', port: 8443 }],
    ['[::]:443', { host: '::', port: 443 }],
    ['localhost:0', { host: 'localhost', port: 0 }],
    ['central.example.org:8443', { host: 'central.example.org', port: 8443 }],
    ['9000', { host: '127.0.0.1', port: 9000 }],
    ['10.1.2.3', { host: '10.1.2.3', port: 8443 }],
    ['::1', { host: '::1', port: 8443 }],
  ];
  for (const [listen, want] of cases) {
    test(`--listen ${JSON.stringify(listen)}`, () => {
      assert.deepEqual(resolveListen({ listen }), { ...want, tls: true });
    });
  }

  test('bad addresses are one-line errors', () => {
    for (const [listen, re] of [
      ['127.0.0.1:http', /port "http" is not a number/],
      ['127.0.0.1:70000', /port 70000 is out of range/],
      ['[nope]:8443', /nope is not an IPv6 address/],
      ['::1:8443:x', /needs brackets/],
      ['bad_host!:80', /is not an address or host name/],
    ] as const) {
      assert.throws(() => resolveListen({ listen }), (e: unknown) => e instanceof UserError && re.test(e.message) && !e.message.includes('\n'), listen);
    }
  });

  test('--insecure-http only on loopback', () => {
    for (const listen of ['127.0.0.1:8080', '127.9.9.9:8080', '[::1]:8080', 'localhost:8080', 'LOCALHOST:1', '[::ffff:127.0.0.1]:80', undefined]) {
      const r = resolveListen({ listen, insecureHttp: true });
      assert.equal(r.tls, false, String(listen));
    }
    for (const listen of ['0.0.0.0:8080', '[::]:8080', '10.0.0.5:80', 'central.example.org:80', '[::ffff:10.0.0.1]:80']) {
      assert.throws(
        () => resolveListen({ listen, insecureHttp: true }),
        (e: unknown) => e instanceof UserError && /--insecure-http is allowed only on a loopback address/.test(e.message),
        listen,
      );
    }
  });
});
