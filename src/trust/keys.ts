/**
 * Signing keys in the formats cosign reads and writes: ECDSA P-256 private keys as
 * `ENCRYPTED SIGSTORE PRIVATE KEY` (or the older `ENCRYPTED COSIGN PRIVATE KEY`) PEM, or
 * unencrypted PKCS#8 / SEC1 EC PEM; public keys as PKIX `PUBLIC KEY` PEM.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { UserError, describeError } from '../util/errors.js';
import { decryptKeyBody, encryptKeyBody } from './cosign-key-format.js';
import { decodePem, encodePem } from './pem.js';

export const SIGSTORE_PRIVATE_KEY_PEM = 'ENCRYPTED SIGSTORE PRIVATE KEY';
export const COSIGN_PRIVATE_KEY_PEM = 'ENCRYPTED COSIGN PRIVATE KEY';
const ENCRYPTED_TYPES = new Set([SIGSTORE_PRIVATE_KEY_PEM, COSIGN_PRIVATE_KEY_PEM]);
const PLAIN_TYPES = new Set(['PRIVATE KEY', 'EC PRIVATE KEY']);

/** Supplies the passphrase only when a key turns out to be encrypted. */
export type PassphraseSource = () => Promise<string>;

export interface GeneratedKeyPair {
  /** Encrypted private key PEM, in cosign's format. */
  privatePem: string;
  /** PKIX public key PEM. */
  publicPem: string;
}

export async function generateKeyPair(passphrase: string): Promise<GeneratedKeyPair> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const der = privateKey.export({ format: 'der', type: 'pkcs8' });
  const body = await encryptKeyBody(der, passphrase);
  return { privatePem: encodePem(SIGSTORE_PRIVATE_KEY_PEM, body), publicPem: publicKeyPem(publicKey) };
}

export function publicKeyPem(key: KeyObject): string {
  const spki = (key.type === 'private' ? createPublicKey(key) : key).export({ format: 'der', type: 'spki' });
  return encodePem('PUBLIC KEY', spki);
}

/** Parses a private key PEM (encrypted cosign/sigstore or plain PKCS#8/SEC1 EC). */
export async function parsePrivateKey(text: string, source: string, passphrase: PassphraseSource): Promise<KeyObject> {
  const blocks = decodePem(text, source);
  const block = blocks.find((b) => ENCRYPTED_TYPES.has(b.type) || PLAIN_TYPES.has(b.type));
  if (!block) {
    const types = blocks.map((b) => b.type).join(', ');
    throw new UserError(`${source}: not a private key (PEM type ${types}; expected ${SIGSTORE_PRIVATE_KEY_PEM} or PRIVATE KEY)`, 'bad-key');
  }
  let key: KeyObject;
  try {
    if (ENCRYPTED_TYPES.has(block.type)) {
      const der = await decryptKeyBody(block.bytes, await passphrase(), source);
      key = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
    } else {
      key = createPrivateKey({ key: encodePem(block.type, block.bytes), format: 'pem' });
    }
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(`${source}: cannot parse private key: ${describeError(e)}`, 'bad-key');
  }
  return requireP256(key, source);
}

/** Parses a PKIX public key PEM (a private key file also yields its public half). */
export function parsePublicKey(text: string, source: string): KeyObject {
  const blocks = decodePem(text, source);
  const block = blocks.find((b) => b.type === 'PUBLIC KEY');
  if (!block) {
    const types = blocks.map((b) => b.type).join(', ');
    throw new UserError(`${source}: not a public key (PEM type ${types}; expected PUBLIC KEY)`, 'bad-key');
  }
  let key: KeyObject;
  try {
    key = createPublicKey({ key: block.bytes, format: 'der', type: 'spki' });
  } catch (e) {
    throw new UserError(`${source}: cannot parse public key: ${describeError(e)}`, 'bad-key');
  }
  return requireP256(key, source);
}

export async function loadPrivateKey(path: string, passphrase: PassphraseSource): Promise<KeyObject> {
  return parsePrivateKey(await readKeyFile(path), path, passphrase);
}

export async function loadPublicKey(path: string): Promise<KeyObject> {
  return parsePublicKey(await readKeyFile(path), path);
}

async function readKeyFile(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    throw new UserError(`cannot read key ${path}: ${(e as NodeJS.ErrnoException).code ?? describeError(e)}`, 'io');
  }
}

/** cosign signs with ECDSA P-256 + SHA-256 by default; other curves would not interoperate. */
function requireP256<T extends KeyObject>(key: T, source: string): T {
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    const what = key.asymmetricKeyType === 'ec' ? `EC ${key.asymmetricKeyDetails?.namedCurve}` : key.asymmetricKeyType;
    throw new UserError(`${source}: unsupported key type ${what} (expected ECDSA P-256)`, 'bad-key');
  }
  return key;
}
