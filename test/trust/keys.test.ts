/** Key formats: cosign's encrypted PEM round trip, plain PKCS#8/SEC1, and every bad-input path. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign, verify } from 'node:crypto';
import { generateKeyPair, parsePrivateKey, parsePublicKey, publicKeyPem } from '../../src/trust/keys.js';
import { decodePem, encodePem } from '../../src/trust/pem.js';
import { UserError } from '../../src/util/errors.js';

const pass = (p: string) => async () => p;

test('generated key pair: encrypted private key decrypts with its passphrase and matches the public key', async () => {
  const pair = await generateKeyPair('correct horse');
  assert.match(pair.privatePem, /^-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n/);
  assert.match(pair.publicPem, /^-----BEGIN PUBLIC KEY-----\n/);
  const body = JSON.parse(decodePem(pair.privatePem, 'k')[0]!.bytes.toString('utf8'));
  assert.deepEqual(Object.keys(body), ['kdf', 'cipher', 'ciphertext']);
  assert.deepEqual(body.kdf.params, { N: 65536, r: 8, p: 1 });
  assert.equal(body.cipher.name, 'nacl/secretbox');
  const priv = await parsePrivateKey(pair.privatePem, 'k', pass('correct horse'));
  const pub = parsePublicKey(pair.publicPem, 'p');
  assert.equal(publicKeyPem(priv), pair.publicPem);
  const msg = Buffer.from('payload');
  assert.ok(verify('sha256', msg, pub, sign('sha256', msg, priv)));
});

test('wrong passphrase is a one-line UserError', async () => {
  const pair = await generateKeyPair('right');
  await assert.rejects(parsePrivateKey(pair.privatePem, 'k.key', pass('wrong')), (e: unknown) => {
    assert.ok(e instanceof UserError);
    assert.equal(e.message, 'k.key: wrong passphrase (decryption failed)');
    return true;
  });
});

test('the older ENCRYPTED COSIGN PRIVATE KEY label loads too', async () => {
  const pair = await generateKeyPair('x');
  const legacy = pair.privatePem.replaceAll('ENCRYPTED SIGSTORE PRIVATE KEY', 'ENCRYPTED COSIGN PRIVATE KEY');
  const priv = await parsePrivateKey(legacy, 'k', pass('x'));
  assert.equal(publicKeyPem(priv), pair.publicPem);
});

test('unencrypted PKCS#8 and SEC1 EC keys load without asking for a passphrase', async () => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const never = async () => {
    throw new Error('passphrase must not be asked for');
  };
  for (const type of ['pkcs8', 'sec1'] as const) {
    const pem = privateKey.export({ format: 'pem', type }) as string;
    const priv = await parsePrivateKey(pem, 'k', never);
    assert.equal(publicKeyPem(priv), publicKeyPem(publicKey));
  }
});

test('bad key input: each a UserError with a clear reason', async () => {
  const pair = await generateKeyPair('x');
  const body = decodePem(pair.privatePem, 'k')[0]!.bytes;
  const doc = JSON.parse(body.toString());
  const rewrap = (d: unknown) => encodePem('ENCRYPTED SIGSTORE PRIVATE KEY', Buffer.from(JSON.stringify(d)));
  const cases: [string, string, RegExp][] = [
    ['no PEM', 'hello', /no PEM block found/],
    ['bad base64', '-----BEGIN PUBLIC KEY-----\nnot*base64!\n-----END PUBLIC KEY-----\n', /malformed PEM/],
    ['not JSON', encodePem('ENCRYPTED SIGSTORE PRIVATE KEY', Buffer.from('garbage')), /not valid JSON/],
    ['bad salt', rewrap({ ...doc, kdf: { ...doc.kdf, salt: '%%%' } }), /kdf salt is not valid base64/],
    ['bad ciphertext', rewrap({ ...doc, ciphertext: 'abc' }), /ciphertext is not valid base64/],
    ['huge N', rewrap({ ...doc, kdf: { ...doc.kdf, params: { N: 2 ** 30, r: 8, p: 1 } } }), /scrypt parameters out of range/],
    ['other kdf', rewrap({ ...doc, kdf: { ...doc.kdf, name: 'pbkdf2' } }), /unsupported key derivation/],
    ['tampered ciphertext', rewrap({ ...doc, ciphertext: Buffer.from(Buffer.from(doc.ciphertext, 'base64').map((b, i) => (i === 20 ? b ^ 1 : b))).toString('base64') }), /wrong passphrase/],
    ['public given as private', pair.publicPem, /not a private key/],
  ];
  for (const [name, text, re] of cases) {
    await assert.rejects(parsePrivateKey(text, 'k.key', pass('x')), (e: unknown) => {
      assert.ok(e instanceof UserError, name);
      assert.match(e.message, re, name);
      assert.ok(!e.message.includes('\n'), name);
      return true;
    });
  }
  assert.throws(() => parsePublicKey(pair.privatePem, 'p.pub'), /not a public key/);
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'pem', type: 'spki' }) as string;
  assert.throws(() => parsePublicKey(rsa, 'p.pub'), /unsupported key type rsa \(expected ECDSA P-256\)/);
  const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey.export({ format: 'pem', type: 'spki' }) as string;
  assert.throws(() => parsePublicKey(p384, 'p.pub'), /unsupported key type EC secp384r1/);
  assert.throws(() => parsePublicKey('-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n', 'p.pub'), /cannot parse public key/);
});
