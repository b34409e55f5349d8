/**
 * Making the local CA and the server certificate. Node can parse and check X.509 but has no
 * certificate builder, so @peculiar/x509 (over Node's WebCrypto) builds and signs them.
 */
// tsyringe, which @peculiar/x509 uses inside, needs the Reflect metadata polyfill loaded first.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { webcrypto } from 'node:crypto';
import { isIP } from 'node:net';
import { pkcs8Der, privateKeyPem, serialNumber } from '../../util/x509-keys.js';

const DAY_MS = 24 * 60 * 60 * 1000;
export const CA_LIFETIME_DAYS = 3650;
export const SERVER_LIFETIME_DAYS = 365;
/** Backdating covers clients whose clocks run a little behind this machine's. */
const BACKDATE_MS = 60 * 60 * 1000;

const EC_KEY: webcrypto.EcKeyGenParams = { name: 'ECDSA', namedCurve: 'P-256' };
const SIGNING: webcrypto.EcdsaParams = { name: 'ECDSA', hash: 'SHA-256' };
const crypto = webcrypto;

export interface IssuedPair {
  certPem: string;
  keyPem: string;
}

export async function makeLocalCa(now: Date, machine: string): Promise<IssuedPair> {
  const keys = (await crypto.subtle.generateKey(EC_KEY, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: serialNumber(),
      name: [{ CN: [`Gatehouse local CA (${machine})`] }, { O: ['Gatehouse'] }],
      notBefore: new Date(now.getTime() - BACKDATE_MS),
      notAfter: new Date(now.getTime() + CA_LIFETIME_DAYS * DAY_MS),
      keys,
      signingAlgorithm: SIGNING,
      extensions: [
        // pathLength 0: this CA signs server certificates only, never another CA.
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
      ],
    },
    crypto,
  );
  return { certPem: cert.toString('pem'), keyPem: privateKeyPem(keys.privateKey) };
}

export interface ServerNames {
  dns: string[];
  ips: string[];
}

/** A server certificate for `names`, signed by the CA (whose key must be a P-256 key). */
export async function issueServerCert(ca: IssuedPair, names: ServerNames, now: Date): Promise<IssuedPair> {
  const caCert = new x509.X509Certificate(ca.certPem);
  const caKey = await crypto.subtle.importKey('pkcs8', pkcs8Der(ca.keyPem), EC_KEY, false, ['sign']);
  const keys = (await crypto.subtle.generateKey(EC_KEY, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const sans: x509.JsonGeneralName[] = [
    ...names.dns.map((value): x509.JsonGeneralName => ({ type: 'dns', value })),
    ...names.ips.map((value): x509.JsonGeneralName => ({ type: 'ip', value })),
  ];
  const cert = await x509.X509CertificateGenerator.create(
    {
      serialNumber: serialNumber(),
      subject: [{ CN: [names.dns.at(-1) ?? 'localhost'] }, { O: ['Gatehouse'] }],
      issuer: caCert.subjectName,
      notBefore: new Date(now.getTime() - BACKDATE_MS),
      notAfter: new Date(now.getTime() + SERVER_LIFETIME_DAYS * DAY_MS),
      publicKey: keys.publicKey,
      signingKey: caKey,
      signingAlgorithm: SIGNING,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
        new x509.SubjectAlternativeNameExtension(sans),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
        await x509.AuthorityKeyIdentifierExtension.create(caCert, false, crypto),
      ],
    },
    crypto,
  );
  return { certPem: cert.toString('pem'), keyPem: privateKeyPem(keys.privateKey) };
}

/** The names a local client may dial: loopback in both families, and this machine's name. */
export function serverNames(hostname: string): ServerNames {
  const dns = ['localhost'];
  const ips = ['127.0.0.1', '::1'];
  const name = hostname.trim().toLowerCase().replace(/\.$/, '');
  if (isIP(name) !== 0) {
    if (!ips.includes(name)) ips.push(name);
  } else if (name !== '' && name !== 'localhost' && /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(name)) {
    dns.push(name);
  }
  return { dns, ips };
}

