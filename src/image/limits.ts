/**
 * Caps that keep hostile images from exhausting memory or disk. Defaults are far above
 * real images (the largest public images expand to a few GiB and ~10^5 entries).
 */
export interface WalkLimits {
  /** Total bytes of decompressed layer data across all layers. */
  maxExpandedBytes: number;
  /** Total tar entries across all layers. */
  maxEntries: number;
  /** Largest manifest/config/index document read into memory. */
  maxDocumentBytes: number;
  /** Symlink hops before a lookup is declared a loop (Linux uses 40). */
  maxSymlinkHops: number;
}

export const DEFAULT_LIMITS: WalkLimits = {
  maxExpandedBytes: 32 * 1024 ** 3,
  maxEntries: 2_000_000,
  maxDocumentBytes: 8 * 1024 ** 2,
  maxSymlinkHops: 40,
};

export function withLimits(overrides?: Partial<WalkLimits>): WalkLimits {
  return { ...DEFAULT_LIMITS, ...Object.fromEntries(Object.entries(overrides ?? {}).filter(([, v]) => v !== undefined)) };
}

/** Parses sizes like 512, 10k, 64M, 2G, 1.5GiB into bytes. */
export function parseSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?\s*$/i.exec(text);
  if (!m) throw new Error(`invalid size "${text}" (examples: 500M, 2G)`);
  const unit = (m[2] ?? '').toLowerCase();
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[unit] ?? 1;
  return Math.floor(Number(m[1]) * mult);
}
