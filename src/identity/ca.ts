/**
 * A Gatehouse SPIFFE CA and the X.509-SVIDs it issues
 * (https://github.com/spiffe/spiffe/blob/main/standards/X509-SVID.md), for plain hosts
 * without a mesh. One CA per trust domain, kept in a directory:
 *
 *   DIR/TRUST_DOMAIN/ca.key   the CA's P-256 key and certificate (PEM), mode 0600
 *   DIR/TRUST_DOMAIN/ca.crt   the CA certificate alone: the trust bundle
 *
 * Made on first use (the directory 0700); published with a hard link so two processes
 * creating it at once agree on one CA.
 *
 * The CA certificate is a signing SVID: cA=true (pathLen 0), keyCertSign + cRLSign
 * (critical), the trust domain's own SPIFFE ID (no path) as its URI SAN. A leaf SVID has
 * exactly one URI SAN (the workload's SPIFFE ID, which must have a path), cA=false,
 * digitalSignature + keyAgreement (critical; keyEncipherment applies to RSA keys only and
 * these are P-256), EKU serverAuth + clientAuth, and lives at most 24 hours.
 *
 * Node can check certificates but not build them: @peculiar/x509 over WebCrypto does (as
 * Central's local TLS CA, src/central/tls/issue.ts).
 */
// tsyringe, which @peculiar/x509 uses inside, needs the Reflect metadata polyfill loaded first.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { X509Certificate, createPrivateKey, randomBytes, webcrypto } from 'node:crypto';
import { chmodSync, existsSync, linkSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError, describeError } from '../util/errors.js';
import { checkTrustDomain, requireWorkloadSpiffeId } from './spiffe.js';
import { pkcs8Der, privateKeyPem, serialNumber } from '../util/x509-keys.js';

const crypto = webcrypto;
const EC_KEY: webcrypto.EcKeyGenParams = { name: 'ECDSA', namedCurve: 'P-256' };
const SIGNING: webcrypto.EcdsaParams = { name: 'ECDSA', hash: 'SHA-256' };
const DAY_MS = 24 * 60 * 60 * 1000;
export const CA_LIFETIME_DAYS = 1825;
/** The longest an SVID may live. */
export const MAX_SVID_TTL_MS = DAY_MS;
export const MIN_SVID_TTL_MS = 60 * 1000;
/** Small backdating for peers whose clocks run a little behind. */
const BACKDATE_MS = 60 * 1000;

export interface SpiffeCa {
  trustDomain: string;
  certPem: string;
  keyPem: string;
  /** Where it is kept, when it came from a directory. */
  dir?: string;
}

export interface IssuedSvid {
  spiffeId: string;
  /** The leaf certificate (the CA signs leaves directly: no intermediates). */
  certPem: string;
  keyPem: string;
  /** The CA certificate(s) a peer trusts. */
  bundlePem: string;
  notBefore: Date;
  notAfter: Date;
  serialNumber: string;
}


/** The CA as one PEM text (key, then certificate), as parseCaFile reads it back. */
export function caPem(ca: SpiffeCa): string {
  return ca.keyPem + ca.certPem;
}

/** A new CA for a trust domain (in memory). */
export async function makeSpiffeCa(trustDomain: string, now: Date = new Date()): Promise<SpiffeCa> {
  checkTrustDomain(trustDomain);
  const keys = (await crypto.subtle.generateKey(EC_KEY, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: serialNumber(),
      name: [{ CN: [`Gatehouse SPIFFE CA ${trustDomain}`] }, { O: ['Gatehouse'] }],
      notBefore: new Date(now.getTime() - BACKDATE_MS),
      notAfter: new Date(now.getTime() + CA_LIFETIME_DAYS * DAY_MS),
      keys,
      signingAlgorithm: SIGNING,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        new x509.SubjectAlternativeNameExtension([{ type: 'url', value: `spiffe://${trustDomain}` }]),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
      ],
    },
    crypto,
  );
  return { trustDomain, certPem: cert.toString('pem'), keyPem: privateKeyPem(keys.privateKey) };
}

const PEM_BLOCK = /-----BEGIN ([A-Z ]+)-----[\s\S]+?-----END \1-----\n?/g;

/** Splits a CA file (key + certificate) into its parts; throws a UserError naming the file. */
export function parseCaFile(text: string, file: string, trustDomain: string): SpiffeCa {
  let keyPem: string | undefined;
  let certPem: string | undefined;
  for (const m of text.matchAll(PEM_BLOCK)) {
    if (m[1] === 'PRIVATE KEY') keyPem = m[0].endsWith('\n') ? m[0] : `${m[0]}\n`;
    else if (m[1] === 'CERTIFICATE') certPem = m[0].endsWith('\n') ? m[0] : `${m[0]}\n`;
  }
  if (!keyPem || !certPem) throw new UserError(`${file}: not a Gatehouse CA file (expected a PRIVATE KEY and a CERTIFICATE)`, 'bad-input');
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
    if (!cert.checkPrivateKey(createPrivateKey(keyPem))) throw new Error('the key does not match the certificate');
  } catch (e) {
    throw new UserError(`${file}: ${describeError(e)}`, 'bad-input');
  }
  if (!cert.ca) throw new UserError(`${file}: the certificate is not a CA`, 'bad-input');
  const uri = /URI:(spiffe:\/\/[^,\s]+)/.exec(cert.subjectAltName ?? '')?.[1];
  if (uri !== `spiffe://${trustDomain}`) throw new UserError(`${file}: the CA is for ${uri ?? 'no SPIFFE trust domain'}, not spiffe://${trustDomain}`, 'bad-input');
  return { trustDomain, certPem, keyPem };
}

/** The CA of `trustDomain` kept under `dir`, made on first use. */
export async function openSpiffeCa(dir: string, trustDomain: string, now: Date = new Date()): Promise<SpiffeCa> {
  checkTrustDomain(trustDomain);
  const caDir = join(dir, trustDomain);
  const keyFile = join(caDir, 'ca.key');
  const certFile = join(caDir, 'ca.crt');
  try {
    mkdirSync(caDir, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw new UserError(`cannot make the CA directory ${caDir}: ${describeError(e)}`, 'io');
  }
  if (!existsSync(keyFile)) {
    const fresh = await makeSpiffeCa(trustDomain, now);
    const tmp = `${keyFile}.${process.pid}.${randomBytes(4).toString('hex')}`;
    try {
      writeFileSync(tmp, fresh.keyPem + fresh.certPem, { mode: 0o600, flag: 'wx' });
      try {
        linkSync(tmp, keyFile); // fails when another process published first: theirs stands
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
    } catch (e) {
      throw new UserError(`cannot write the CA key ${keyFile}: ${describeError(e)}`, 'io');
    } finally {
      rmSync(tmp, { force: true });
    }
  }
  const mode = statSync(keyFile).mode & 0o777;
  if (mode & 0o077) throw new UserError(`${keyFile} is readable by others (mode ${mode.toString(8)}): chmod 600 it`, 'bad-input');
  const ca = parseCaFile(readFileSync(keyFile, 'utf8'), keyFile, trustDomain);
  if (!existsSync(certFile) || readFileSync(certFile, 'utf8') !== ca.certPem) {
    writeFileSync(certFile, ca.certPem, { mode: 0o644 });
  }
  return { ...ca, dir: caDir };
}

export interface IssueOptions {
  ttlMs: number;
  now?: Date;
}

/** A leaf X.509-SVID for `spiffeId`, signed by the CA. */
export async function issueSvid(ca: SpiffeCa, spiffeId: string, opts: IssueOptions): Promise<IssuedSvid> {
  checkIssue(ca, spiffeId, opts);
  const keys = (await crypto.subtle.generateKey(EC_KEY, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const cert = await signLeaf(ca, spiffeId, keys.publicKey, opts);
  return { ...cert, keyPem: privateKeyPem(keys.privateKey) };
}

function checkIssue(ca: SpiffeCa, spiffeId: string, opts: IssueOptions): void {
  const id = requireWorkloadSpiffeId(spiffeId);
  if (id.trustDomain !== ca.trustDomain) throw new UserError(`${spiffeId} is not in the CA's trust domain ${ca.trustDomain}`, 'usage');
  if (!Number.isFinite(opts.ttlMs) || opts.ttlMs < MIN_SVID_TTL_MS || opts.ttlMs > MAX_SVID_TTL_MS) throw new UserError('an SVID lives from 1 minute to 24 hours', 'usage');
}

/** A key pair and a PKCS#10 request for `spiffeId`: the key stays with the workload, the request goes to a CA. */
export async function makeSvidRequest(spiffeId: string): Promise<{ csrPem: string; keyPem: string }> {
  requireWorkloadSpiffeId(spiffeId);
  const keys = (await crypto.subtle.generateKey(EC_KEY, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: [{ O: ['Gatehouse'] }],
    keys,
    signingAlgorithm: SIGNING,
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'url', value: spiffeId }])],
  }, crypto);
  return { csrPem: csr.toString('pem'), keyPem: privateKeyPem(keys.privateKey) };
}

/**
 * An SVID for the public key of a PKCS#10 request (its signature proves the requester holds
 * the key). The SPIFFE ID is the caller's decision, never read from the request; the
 * request must be for a P-256 key.
 */
export async function issueSvidForRequest(ca: SpiffeCa, csrPem: string, spiffeId: string, opts: IssueOptions): Promise<Omit<IssuedSvid, 'keyPem'>> {
  checkIssue(ca, spiffeId, opts);
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(csrPem);
  } catch (e) {
    throw new UserError(`not a PKCS#10 certificate request: ${describeError(e)}`, 'bad-input');
  }
  if (!(await csr.verify(crypto))) throw new UserError('the certificate request\'s signature does not verify', 'bad-input');
  const alg = csr.publicKey.algorithm as { name?: string; namedCurve?: string };
  if (alg.name !== 'ECDSA' || alg.namedCurve !== 'P-256') throw new UserError('the certificate request must be for a P-256 (ECDSA) key', 'bad-input');
  return signLeaf(ca, spiffeId, await csr.publicKey.export(EC_KEY, ['verify'], crypto), opts);
}

async function signLeaf(ca: SpiffeCa, spiffeId: string, publicKey: webcrypto.CryptoKey, opts: IssueOptions): Promise<Omit<IssuedSvid, 'keyPem'>> {
  const now = opts.now ?? new Date();
  const caCert = new x509.X509Certificate(ca.certPem);
  const caKey = await crypto.subtle.importKey('pkcs8', pkcs8Der(ca.keyPem), EC_KEY, false, ['sign']);
  const keys = { publicKey };
  const serial = serialNumber();
  const notBefore = new Date(now.getTime() - BACKDATE_MS);
  const notAfter = new Date(now.getTime() + opts.ttlMs);
  const cert = await x509.X509CertificateGenerator.create(
    {
      serialNumber: serial,
      subject: [{ O: ['Gatehouse'] }, { OU: [ca.trustDomain] }],
      issuer: caCert.subjectName,
      notBefore,
      notAfter,
      publicKey: keys.publicKey,
      signingKey: caKey,
      signingAlgorithm: SIGNING,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
        new x509.SubjectAlternativeNameExtension([{ type: 'url', value: spiffeId }]),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
        await x509.AuthorityKeyIdentifierExtension.create(caCert, false, crypto),
      ],
    },
    crypto,
  );
  return { spiffeId, certPem: cert.toString('pem') + '\n', bundlePem: ca.certPem, notBefore, notAfter, serialNumber: serial };
}

/** Writes svid.pem, svid.key (0600) and bundle.pem into `outDir` (made 0700 if missing). */
export function writeSvidFiles(svid: IssuedSvid, outDir: string): { cert: string; key: string; bundle: string } {
  const files = { cert: join(outDir, 'svid.pem'), key: join(outDir, 'svid.key'), bundle: join(outDir, 'bundle.pem') };
  try {
    mkdirSync(outDir, { recursive: true, mode: 0o700 });
    writeFileSync(files.key, svid.keyPem, { mode: 0o600 });
    chmodSync(files.key, 0o600); // an existing file keeps its mode on write
    writeFileSync(files.cert, svid.certPem, { mode: 0o644 });
    writeFileSync(files.bundle, svid.bundlePem, { mode: 0o644 });
  } catch (e) {
    throw new UserError(`cannot write the SVID into ${outDir}: ${describeError(e)}`, 'io');
  }
  return files;
}

/** Parses a TTL: `90s`, `30m`, `1h`, `24h` (at most 24 hours). */
export function parseTtl(text: string): number {
  const m = /^(\d+)(s|m|h)$/.exec(text.trim());
  const unit = { s: 1000, m: 60_000, h: 3_600_000 } as const;
  const ms = m ? Number(m[1]) * unit[m[2] as keyof typeof unit] : NaN;
  if (!m || ms < MIN_SVID_TTL_MS || ms > MAX_SVID_TTL_MS) throw new UserError(`--ttl takes a duration from 1m to 24h such as 30m or 1h, not "${text}"`, 'usage');
  return ms;
}
