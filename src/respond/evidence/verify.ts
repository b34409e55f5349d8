/**
 * Checks an evidence bundle: the manifest parses; every part it lists exists, has its size
 * and sha256; no file in the bundle is unlisted; and the signature over the manifest's
 * exact bytes verifies with the given public key (chain of custody). Without a key the
 * signature is checked against the bundle's own signer.pub, which proves integrity only
 * and says so. Part paths come from the manifest, which is untrusted: only plain relative
 * names of the bundle's layout are ever opened.
 */
import { createHash, KeyObject } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir, readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parsePublicKey } from '../../trust/keys.js';
import { keyId } from '../../trust/sign.js';
import { UserError, describeError } from '../../util/errors.js';
import { EVIDENCE_SCHEMA, MANIFEST_FILE, SIGNATURE_FILE, SIGNER_KEY_FILE, checkManifestSignature, sha256Hex, type EvidenceManifest } from './manifest.js';

export interface VerifyEvidenceOptions {
  /** The trusted public key; without it, the bundle's own signer.pub (integrity, not custody). */
  publicKey?: KeyObject;
  /** Fail when the bundle is not signed (default true). */
  requireSignature?: boolean;
}

export interface EvidenceVerification {
  ok: boolean;
  /** One line per failed check, naming the part. */
  problems: string[];
  /** How the signature was checked. */
  signature: 'trusted-key' | 'embedded-key' | 'unsigned' | 'invalid';
  keyId?: string;
  /** Parts whose hash matched. */
  partsChecked: number;
  manifest?: EvidenceManifest;
}

const SAFE_PART = /^(?:[a-z][a-z0-9-]*\.(?:json|txt)|files\/[0-9a-f]{64})$/;
const BUNDLE_FILES = new Set([MANIFEST_FILE, SIGNATURE_FILE, SIGNER_KEY_FILE]);

/** Checks the bundle at `path`; `key` is the trusted public key, or options. */
export async function verifyEvidence(path: string, key: KeyObject | VerifyEvidenceOptions = {}): Promise<EvidenceVerification> {
  const opts: VerifyEvidenceOptions = key instanceof KeyObject ? { publicKey: key } : key;
  const dir = resolve(path);
  const st = await stat(dir).catch(() => undefined);
  if (!st?.isDirectory()) throw new UserError(`${path}: not an evidence bundle directory`, 'usage');
  const problems: string[] = [];
  let manifestBytes: Buffer;
  try {
    const mst = await lstat(join(dir, MANIFEST_FILE));
    if (!mst.isFile()) throw new Error('not a regular file');
    manifestBytes = await readFile(join(dir, MANIFEST_FILE));
  } catch (e) {
    throw new UserError(`${path}: no ${MANIFEST_FILE} (${describeError(e)}); not an evidence bundle`, 'usage');
  }
  let manifest: EvidenceManifest | undefined;
  try {
    manifest = JSON.parse(manifestBytes.toString('utf8')) as EvidenceManifest;
    if (manifest?.schema !== EVIDENCE_SCHEMA || !Array.isArray(manifest.parts) || typeof manifest.container?.id !== 'string') {
      problems.push(`${MANIFEST_FILE}: not a ${EVIDENCE_SCHEMA} manifest`);
      manifest = undefined;
    }
  } catch (e) {
    problems.push(`${MANIFEST_FILE}: not valid JSON (${describeError(e)})`);
  }

  // The signature first: a tampered manifest is reported as such, not only as odd parts.
  let signature: EvidenceVerification['signature'] = 'unsigned';
  let signer: string | undefined;
  const sigBytes = await readFile(join(dir, SIGNATURE_FILE)).catch(() => undefined);
  if (!sigBytes) {
    if (opts.requireSignature !== false || opts.publicKey) problems.push(`${SIGNATURE_FILE}: missing (the bundle is not signed)`);
  } else {
    let key = opts.publicKey;
    if (!key) {
      try {
        key = parsePublicKey(await readFile(join(dir, SIGNER_KEY_FILE), 'utf8'), SIGNER_KEY_FILE);
      } catch (e) {
        problems.push(`${SIGNER_KEY_FILE}: ${describeError(e)}`);
      }
    }
    if (key) {
      signer = keyId(key);
      const r = checkManifestSignature(manifestBytes, sigBytes, key, manifest?.container.id ?? '');
      if (r.ok) signature = opts.publicKey ? 'trusted-key' : 'embedded-key';
      else {
        signature = 'invalid';
        problems.push(`${SIGNATURE_FILE}: ${r.reason.includes('statement names') ? `${MANIFEST_FILE} changed since it was signed (sha256 ${sha256Hex(manifestBytes)} is not the signed digest)` : r.reason}`);
      }
    } else signature = 'invalid';
  }

  let partsChecked = 0;
  // Parts are opened below the bundle only: the files/ folder must be a real folder.
  const filesDir = await lstat(join(dir, 'files')).catch(() => undefined);
  const filesOk = !filesDir || filesDir.isDirectory();
  if (!filesOk) problems.push('files: not a directory (a link or a file where the copies belong)');
  if (manifest) {
    const listed = new Set<string>();
    for (const part of manifest.parts) {
      const name = typeof part?.path === 'string' ? part.path : '';
      if (!SAFE_PART.test(name) || BUNDLE_FILES.has(name)) {
        problems.push(`${MANIFEST_FILE}: part "${name.slice(0, 100)}" is not a bundle part name`);
        continue;
      }
      if (listed.has(name)) {
        problems.push(`${MANIFEST_FILE}: part ${name} listed twice`);
        continue;
      }
      listed.add(name);
      if (name.startsWith('files/') && !filesOk) continue;
      const file = join(dir, name);
      const fst = await lstat(file).catch(() => undefined);
      if (!fst) {
        problems.push(`part ${name}: missing`);
        continue;
      }
      if (!fst.isFile()) {
        problems.push(`part ${name}: not a regular file`);
        continue;
      }
      const hash = await hashFile(file);
      if (hash !== part.sha256) problems.push(`part ${name}: sha256 ${hash} does not match the manifest's ${String(part.sha256)} (changed after capture)`);
      else if (fst.size !== part.size) problems.push(`part ${name}: size ${fst.size} does not match the manifest's ${String(part.size)}`);
      else partsChecked++;
    }
    for (const extra of await listFiles(dir, filesOk)) {
      if (!listed.has(extra) && !BUNDLE_FILES.has(extra)) problems.push(`${extra}: in the bundle but not in the manifest`);
    }
  }
  return { ok: problems.length === 0, problems, signature, ...(signer ? { keyId: signer } : {}), partsChecked, ...(manifest ? { manifest } : {}) };
}

async function hashFile(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Relative names of everything in the bundle (two levels: the layout has one subfolder). */
async function listFiles(dir: string, filesOk: boolean): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    if (e.name === 'files' && !filesOk) continue; // reported above
    if (e.isDirectory() && e.name === 'files') {
      for (const f of await readdir(join(dir, 'files'))) out.push(`files/${f}`);
    } else out.push(e.isDirectory() ? `${e.name}/` : e.name);
  }
  return out.sort();
}
