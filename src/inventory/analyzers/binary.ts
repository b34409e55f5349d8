/**
 * Executables: Go build info (gobinary.ts) and cargo-auditable crate lists (rust.ts). One
 * visitor for both, so each executable is streamed once: Go binaries are recognised from
 * their headers and read only up to the build info; other ELF files are read whole (up to
 * a cap) to look for the Rust section, and static ones also for Go build info without the
 * Go note. Packages keep `analyzer: gobinary | rust`.
 */
import { Readable } from 'node:stream';
import type { Analyzer, FileFindings } from '../analyzer.js';
import type { Package } from '../package.js';
import { StreamCursor } from '../streams.js';
import { NotElf, PT_INTERP, readElfHeaders } from './elf.js';
import { goBuildInfoAfterHeaders, goPackages, hasGoNote, readGoBuildInfo } from './gobinary.js';
import { rustPackages } from './rust.js';

/** Larger non-Go executables are not searched for Rust crate data. */
const MAX_WHOLE = 128 * 1024 * 1024;

export const binaryAnalyzer: Analyzer = {
  name: 'binary',
  wants: (_path, entry) => entry.type === 'file' && (entry.mode & 0o111) !== 0 && entry.size >= 64,
  async visit({ path, entry, content }): Promise<FileFindings | undefined> {
    const cur = new StreamCursor(content);
    cur.retain = true;
    try {
      let elf;
      try {
        elf = await readElfHeaders(cur);
      } catch (e) {
        if (e instanceof NotElf) return undefined;
        throw e;
      }
      if (await hasGoNote(cur, elf)) {
        cur.retain = false;
        const info = await goBuildInfoAfterHeaders(cur, elf, true);
        return info ? { packages: goPackages(info, path) } : undefined;
      }
      if (entry.size > MAX_WHOLE) return undefined;
      const whole = await cur.read(0, entry.size);
      if (whole.length < entry.size) throw new Error(`truncated ELF: ${whole.length} of ${entry.size} bytes`);
      const packages: Package[] = rustPackages(whole, path) ?? [];
      if (!elf.phdrs.some((p) => p.type === PT_INTERP)) {
        const info = await readGoBuildInfo(new StreamCursor(Readable.from([whole])));
        if (info) packages.push(...goPackages(info, path));
      }
      return packages.length ? { packages } : undefined;
    } finally {
      cur.close();
    }
  },
};
