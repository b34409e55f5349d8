/**
 * The key Central signs its evidence bundles with (chain of custody, as the sensor's bundles
 * with `--evidence-key`): an ECDSA P-256 key made at first use in DATA_DIR/evidence/, the
 * private half 0600, the public half beside it for `gatehouse evidence verify --key`.
 */
import { createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const EVIDENCE_KEY_FILE = 'signing.key';
export const EVIDENCE_PUBLIC_KEY_FILE = 'signing.pub';

export function centralEvidenceKey(evidenceDir: string): KeyObject {
  const file = join(evidenceDir, EVIDENCE_KEY_FILE);
  if (!existsSync(file)) {
    mkdirSync(evidenceDir, { recursive: true, mode: 0o700 });
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    // Written then renamed: a crash never leaves half a key, and two starts do not mix halves.
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    writeFileSync(join(evidenceDir, EVIDENCE_PUBLIC_KEY_FILE), publicKey.export({ type: 'spki', format: 'pem' }), { mode: 0o644 });
    renameSync(tmp, file);
  }
  return createPrivateKey(readFileSync(file));
}
