/**
 * cosign's encrypted private key body (go-securesystemslib "encrypted" package): a JSON
 * document with an scrypt KDF and a nacl/secretbox cipher, wrapping the PKCS#8 DER key.
 * scrypt runs in node:crypto (OpenSSL, native speed); secretbox (XSalsa20-Poly1305) comes
 * from @noble/ciphers, since node:crypto has no XSalsa20.
 */
import { randomBytes, scrypt as scryptCb } from 'node:crypto';
import { promisify } from 'node:util';
import { secretbox } from '@noble/ciphers/salsa.js';
import { UserError } from '../util/errors.js';

const scrypt = promisify(scryptCb) as (
  password: Buffer,
  salt: Buffer,
  keylen: number,
  options: { N: number; r: number; p: number; maxmem: number },
) => Promise<Buffer>;

/** The parameters cosign writes (go-securesystemslib's "standard" profile). */
export const COSIGN_SCRYPT = { N: 65536, r: 8, p: 1 } as const;
/** Refuse files asking for more work than this: a hostile key file must not hang us. */
const MAX_SCRYPT_N = 1 << 20;

interface EncryptedKeyJson {
  kdf: { name: string; params: { N: number; r: number; p: number }; salt: string };
  cipher: { name: string; nonce: string };
  ciphertext: string;
}

async function deriveKey(passphrase: string, salt: Buffer, params: { N: number; r: number; p: number }): Promise<Buffer> {
  const maxmem = 128 * params.r * params.N * params.p + 1024 * 1024 * 64;
  return scrypt(Buffer.from(passphrase, 'utf8'), salt, 32, { ...params, maxmem });
}

/** Encrypts `plaintext` (PKCS#8 DER) into the JSON body cosign stores inside its PEM. */
export async function encryptKeyBody(plaintext: Uint8Array, passphrase: string): Promise<Buffer> {
  const salt = randomBytes(32);
  const nonce = randomBytes(24);
  const key = await deriveKey(passphrase, salt, COSIGN_SCRYPT);
  const sealed = secretbox(key, nonce).seal(plaintext);
  // Field order follows the Go structs, so our files read like cosign's.
  const doc: EncryptedKeyJson = {
    kdf: { name: 'scrypt', params: { ...COSIGN_SCRYPT }, salt: salt.toString('base64') },
    cipher: { name: 'nacl/secretbox', nonce: nonce.toString('base64') },
    ciphertext: Buffer.from(sealed).toString('base64'),
  };
  return Buffer.from(JSON.stringify(doc), 'utf8');
}

/** Decrypts a cosign encrypted key body; a wrong passphrase is a UserError, not a crash. */
export async function decryptKeyBody(body: Buffer, passphrase: string, source: string): Promise<Buffer> {
  let doc: EncryptedKeyJson;
  try {
    doc = JSON.parse(body.toString('utf8')) as EncryptedKeyJson;
  } catch {
    throw new UserError(`${source}: encrypted key body is not valid JSON`, 'bad-key');
  }
  const params = doc?.kdf?.params;
  if (doc?.kdf?.name !== 'scrypt' || !params) throw new UserError(`${source}: unsupported key derivation "${doc?.kdf?.name}" (expected scrypt)`, 'bad-key');
  if (doc.cipher?.name !== 'nacl/secretbox') throw new UserError(`${source}: unsupported cipher "${doc.cipher?.name}" (expected nacl/secretbox)`, 'bad-key');
  const { N, r, p } = params;
  const validInt = (v: unknown, max: number) => Number.isInteger(v) && (v as number) > 0 && (v as number) <= max;
  if (!validInt(N, MAX_SCRYPT_N) || (N & (N - 1)) !== 0 || !validInt(r, 32) || !validInt(p, 16)) {
    throw new UserError(`${source}: scrypt parameters out of range (N=${N} r=${r} p=${p})`, 'bad-key');
  }
  const salt = strictBase64(doc.kdf.salt, `${source}: kdf salt`);
  const nonce = strictBase64(doc.cipher.nonce, `${source}: cipher nonce`);
  const sealed = strictBase64(doc.ciphertext, `${source}: ciphertext`);
  if (nonce.length !== 24) throw new UserError(`${source}: secretbox nonce must be 24 bytes, got ${nonce.length}`, 'bad-key');
  if (sealed.length < 16) throw new UserError(`${source}: ciphertext too short`, 'bad-key');
  const key = await deriveKey(passphrase, salt, { N, r, p });
  try {
    return Buffer.from(secretbox(key, nonce).open(sealed));
  } catch {
    throw new UserError(`${source}: wrong passphrase (decryption failed)`, 'bad-passphrase');
  }
}

export function strictBase64(value: unknown, what: string): Buffer {
  if (typeof value !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(value) || value.length % 4 !== 0) {
    throw new UserError(`${what} is not valid base64`, 'bad-base64');
  }
  return Buffer.from(value, 'base64');
}
