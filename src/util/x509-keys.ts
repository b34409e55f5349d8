/** Small X.509 helpers shared by Central's local CA (src/central/tls) and the SPIFFE CA (src/identity). */
import { createPrivateKey, KeyObject, randomBytes, type webcrypto } from 'node:crypto';

/** 128 random bits, the top bit cleared so the DER integer stays positive (RFC 5280 4.1.2.2). */
export function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return bytes.toString('hex');
}

export function privateKeyPem(key: webcrypto.CryptoKey): string {
  return KeyObject.from(key).export({ format: 'pem', type: 'pkcs8' }).toString();
}

/** A PEM private key as PKCS#8 DER, for WebCrypto's importKey. */
export function pkcs8Der(pem: string): ArrayBuffer {
  const der = createPrivateKey(pem).export({ format: 'der', type: 'pkcs8' });
  return der.buffer.slice(der.byteOffset, der.byteOffset + der.byteLength) as ArrayBuffer;
}
