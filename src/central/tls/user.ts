/** The user's own certificate and key (--tls-cert/--tls-key), checked before serving. */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { UserError, describeError } from '../../util/errors.js';
import { keyMatches } from './local.js';

export interface UserTls {
  /** The certificate file's text (a chain, leaf first, is served as given). */
  cert: string;
  key: string;
  /** SHA-256 of the leaf certificate, colon hex. */
  fingerprint: string;
  /** When the leaf expires (ISO 8601). */
  notAfter: string;
}

export async function loadUserTls(certFile: string, keyFile: string, now: Date = new Date()): Promise<UserTls> {
  const cert = await readPem(certFile, '--tls-cert');
  const key = await readPem(keyFile, '--tls-key');
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(cert);
  } catch {
    throw new UserError(`--tls-cert ${certFile} holds no PEM certificate`, 'tls');
  }
  try {
    createPrivateKey(key);
  } catch {
    throw new UserError(`--tls-key ${keyFile} holds no unencrypted PEM private key`, 'tls');
  }
  if (!keyMatches(leaf, key)) throw new UserError(`--tls-key ${keyFile} is not the key of the certificate in ${certFile}`, 'tls');
  const notAfter = new Date(Date.parse(leaf.validTo));
  if (notAfter.getTime() <= now.getTime()) {
    throw new UserError(`--tls-cert ${certFile} expired on ${notAfter.toISOString()}`, 'tls');
  }
  return { cert, key, fingerprint: leaf.fingerprint256, notAfter: notAfter.toISOString() };
}

async function readPem(file: string, flag: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new UserError(`${flag} ${file}: ${describeError(e)}`, 'tls');
  }
  if (!/-----BEGIN [A-Z0-9 ]+-----/.test(text)) throw new UserError(`${flag} ${file} is not a PEM file`, 'tls');
  return text;
}
