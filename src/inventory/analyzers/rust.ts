/**
 * Rust crates compiled into binaries built with cargo-auditable (read by the `binary`
 * analyzer, binary.ts): the `.dep-v0` ELF section holds zlib-compressed JSON of the
 * dependency tree. Sections are found through the section header table at the end of the
 * file, so the whole file is needed.
 */
import { inflateSync } from 'node:zlib';
import type { Package } from '../package.js';
import { makePurl } from '../purl.js';
import { elfSection } from './elf.js';

const MAX_JSON = 16 * 1024 * 1024;

/** Crates listed in a cargo-auditable binary (the whole ELF file), or undefined if none. */
export function rustPackages(bin: Buffer, path: string): Package[] | undefined {
  const section = elfSection(bin, '.dep-v0');
  if (!section) return undefined;
  let json: any;
  try {
    json = JSON.parse(inflateSync(section, { maxOutputLength: MAX_JSON }).toString('utf8'));
  } catch (e) {
    throw new Error(`unreadable cargo-auditable data: ${(e as Error).message}`);
  }
  const packages: Package[] = [];
  for (const p of Array.isArray(json?.packages) ? json.packages : []) {
    if (typeof p?.name !== 'string' || typeof p?.version !== 'string') continue;
    packages.push({
      ecosystem: 'crates.io',
      name: p.name,
      version: p.version,
      purl: makePurl('cargo', undefined, p.name, p.version),
      location: { path },
      analyzer: 'rust',
      metadata: { source: p.source, kind: p.kind ?? 'runtime', ...(p.root ? { root: true } : {}) },
    });
  }
  return packages;
}
