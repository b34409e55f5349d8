/**
 * Encrypts what Central must keep but must not store in clear (kubeconfigs, engine TLS
 * keys): AES-256-GCM with a data key from GATEHOUSE_DATA_KEY (base64, 32 bytes; the same on
 * every Central of one store) or DATA_DIR/data.key, made at first start with mode 0600.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../util/errors.js';

const VERSION = 'v1';

export class SecretBox {
  constructor(private readonly key: Buffer) {
    if (key.length !== 32) throw new UserError('the data key must be 32 bytes (base64 in GATEHOUSE_DATA_KEY)', 'usage');
  }

  seal(plain: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return [VERSION, iv.toString('base64'), cipher.getAuthTag().toString('base64'), body.toString('base64')].join('.');
  }

  open(sealed: string): string {
    const [version, iv, tag, body] = sealed.split('.');
    if (version !== VERSION || !iv || !tag || body === undefined) throw new UserError('stored secret is not in a known format', 'store');
    const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64'));
    decipher.setAuthTag(Buffer.from(tag, 'base64'));
    try {
      return Buffer.concat([decipher.update(Buffer.from(body, 'base64')), decipher.final()]).toString('utf8');
    } catch {
      throw new UserError('cannot decrypt a stored secret: the data key differs from the one it was sealed with (GATEHOUSE_DATA_KEY / DATA_DIR/data.key)', 'store');
    }
  }
}

/** The data key: GATEHOUSE_DATA_KEY, else DATA_DIR/data.key (created when missing); random when neither is given (tests). */
export function loadSecretBox(dataDir: string | undefined, env: NodeJS.ProcessEnv = process.env): SecretBox {
  if (env.GATEHOUSE_DATA_KEY) return new SecretBox(Buffer.from(env.GATEHOUSE_DATA_KEY, 'base64'));
  if (!dataDir) return new SecretBox(randomBytes(32));
  const file = join(dataDir, 'data.key');
  if (!existsSync(file)) {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, randomBytes(32).toString('base64') + '\n', { mode: 0o600 });
    renameSync(tmp, file);
  }
  return new SecretBox(Buffer.from(readFileSync(file, 'utf8').trim(), 'base64'));
}
