/**
 * Central's own TLS material when the user brings none: a local CA made once (its
 * fingerprint is what a user pins or compares), and a server certificate it signs, renewed
 * well before it expires. Everything lives in DATA_DIR/tls/; keys are 0600.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { hostname as osHostname } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../../util/errors.js';
import { readTextIfExists, writeFileAtomic } from './files.js';
import { type IssuedPair, type ServerNames, issueServerCert, makeLocalCa, serverNames } from './issue.js';

/** A certificate this close to expiry is replaced at start (the CA's too). */
export const RENEW_BEFORE_DAYS = 30;
const DAY_MS = 24 * 60 * 60 * 1000;

export interface LocalTls {
  /** The server certificate (PEM). */
  cert: string;
  /** Its private key (PEM, PKCS#8). */
  key: string;
  /** The local CA certificate (PEM): the trust anchor clients need. */
  ca: string;
  /** SHA-256 of the CA certificate, colon hex, as `openssl x509 -fingerprint -sha256` prints it. */
  caFingerprint: string;
  /** Where the CA certificate is, to tell users. */
  caFile: string;
  /** The CA was made by this call (first start): print its fingerprint prominently. */
  created: boolean;
  /** The server certificate was (re)issued by this call. */
  serverIssued: boolean;
}

export interface LocalTlsOptions {
  /** The clock (tests make certificates as of an earlier day). */
  now?: Date;
  /** This machine's name for the certificate; os.hostname() by default. */
  hostname?: string;
}

export async function ensureLocalTls(dataDir: string, opts: LocalTlsOptions = {}): Promise<LocalTls> {
  const now = opts.now ?? new Date();
  const names = serverNames(opts.hostname ?? osHostname());
  const dir = join(dataDir, 'tls');
  const files = {
    caCert: join(dir, 'ca.crt'),
    caKey: join(dir, 'ca.key'),
    cert: join(dir, 'server.crt'),
    key: join(dir, 'server.key'),
  };
  await mkdir(dir, { recursive: true, mode: 0o700 });

  let ca = await loadCa(files.caCert, files.caKey, now);
  const created = ca === undefined;
  if (ca === undefined) {
    ca = await makeLocalCa(now, names.dns[names.dns.length - 1] ?? 'localhost');
    // Key first: a crash between the two writes leaves no certificate, so the next start
    // makes the CA again instead of finding a certificate without its key.
    await writeFileAtomic(files.caKey, ca.keyPem, 0o600);
    await writeFileAtomic(files.caCert, ca.certPem, 0o644);
  }

  let server = await loadServer(files.cert, files.key, ca, names, now);
  const serverIssued = server === undefined;
  if (server === undefined) {
    server = await issueServerCert(ca, names, now);
    await writeFileAtomic(files.key, server.keyPem, 0o600);
    await writeFileAtomic(files.cert, server.certPem, 0o644);
  }

  return {
    cert: server.certPem,
    key: server.keyPem,
    ca: ca.certPem,
    caFingerprint: new X509Certificate(ca.certPem).fingerprint256,
    caFile: files.caCert,
    created,
    serverIssued,
  };
}

/**
 * The stored CA, or undefined when there is none yet (or it is about to expire). A CA that
 * is present but unusable is an error, not something to replace silently: users may have
 * installed it as a trust anchor.
 */
async function loadCa(certFile: string, keyFile: string, now: Date): Promise<IssuedPair | undefined> {
  const certPem = await readTextIfExists(certFile);
  if (certPem === undefined) return undefined;
  const keyPem = await readTextIfExists(keyFile);
  const fix = `remove ${certFile} and ${keyFile} to make a new local CA`;
  if (keyPem === undefined) throw new UserError(`the local CA key ${keyFile} is missing: ${fix}`, 'tls');
  const cert = parseCert(certPem);
  if (cert === undefined || !cert.ca) throw new UserError(`${certFile} is not a CA certificate in PEM: ${fix}`, 'tls');
  if (!keyMatches(cert, keyPem)) throw new UserError(`${keyFile} is not the key of ${certFile}: ${fix}`, 'tls');
  if (expiresSoon(cert, now)) return undefined;
  return { certPem, keyPem };
}

/** The stored server certificate if it is still good for this CA, these names and a while. */
async function loadServer(
  certFile: string,
  keyFile: string,
  ca: IssuedPair,
  names: ServerNames,
  now: Date,
): Promise<IssuedPair | undefined> {
  const certPem = await readTextIfExists(certFile);
  const keyPem = await readTextIfExists(keyFile);
  if (certPem === undefined || keyPem === undefined) return undefined;
  const cert = parseCert(certPem);
  const caCert = new X509Certificate(ca.certPem);
  if (cert === undefined || !keyMatches(cert, keyPem)) return undefined;
  if (!cert.checkIssued(caCert) || !cert.verify(caCert.publicKey)) return undefined;
  if (expiresSoon(cert, now)) return undefined;
  // A renamed machine gets a certificate with its new name.
  if (!names.dns.every((n) => cert.checkHost(n, { wildcards: false }) === n)) return undefined;
  if (!names.ips.every((ip) => cert.checkIP(ip) !== undefined)) return undefined;
  return { certPem, keyPem };
}

function parseCert(pem: string): X509Certificate | undefined {
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) return undefined;
  try {
    return new X509Certificate(pem);
  } catch {
    return undefined;
  }
}

export function keyMatches(cert: X509Certificate, keyPem: string): boolean {
  try {
    return cert.checkPrivateKey(createPrivateKey(keyPem));
  } catch {
    return false;
  }
}

function expiresSoon(cert: X509Certificate, now: Date): boolean {
  return Date.parse(cert.validTo) - now.getTime() < RENEW_BEFORE_DAYS * DAY_MS;
}
