/** PEM armor (RFC 7468) as Go's encoding/pem writes it: 64-column base64 lines. */
import { UserError } from '../util/errors.js';

export interface PemBlock {
  type: string;
  bytes: Buffer;
}

const BLOCK_RE = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)-----END \1-----/g;
const BASE64_RE = /^[A-Za-z0-9+/]*={0,2}$/;

/** Every PEM block in `text`; throws a UserError naming `source` when there is none or one is malformed. */
export function decodePem(text: string, source: string): PemBlock[] {
  const blocks: PemBlock[] = [];
  for (const m of text.matchAll(BLOCK_RE)) {
    const body = (m[2] ?? '')
      .split(/\r?\n/)
      .filter((line) => line.trim() !== '' && !line.includes(':')) // skip RFC 1421 headers
      .join('')
      .trim();
    if (!BASE64_RE.test(body) || body.length % 4 !== 0) {
      throw new UserError(`${source}: malformed PEM: the ${m[1]} block is not valid base64`, 'bad-pem');
    }
    blocks.push({ type: m[1] ?? '', bytes: Buffer.from(body, 'base64') });
  }
  if (blocks.length === 0) throw new UserError(`${source}: no PEM block found (expected -----BEGIN ...-----)`, 'bad-pem');
  return blocks;
}

export function encodePem(type: string, bytes: Uint8Array): string {
  const b64 = Buffer.from(bytes).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${type}-----\n${lines.join('\n')}\n-----END ${type}-----\n`;
}
