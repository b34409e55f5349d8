/**
 * For `bench:central`: fills a store with N stored images made from one real SBOM, then
 * times re-matching them all (the goal: 15,000 stored SBOMs in at most 60 s on 2 cores).
 * Copies differ as a fleet's images do: each has its own digest and reference, and a tenth
 * of its packages carry another build of the same version, so every image is matched for
 * real (no two SBOMs are identical) while sharing the packages most images share.
 */
import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import { openVulnDb } from './db-version.js';
import { rematchAll, type RematchResult } from './rematch.js';
import { packagesHashOf } from '../store/image-sboms.js';
import { chunks, toJson } from '../store/json.js';
import type { Database } from '../store/schema.js';

interface CdxComponent { type?: string; name?: string; version?: string; purl?: string; properties?: { name: string; value: string }[] }

/**
 * The i-th copy of a CycloneDX SBOM (see the file comment): 70 package lists over the
 * copies. `distinct`: every copy's list its own (one more package of its own), the worst
 * case for re-match, which works once per distinct list.
 */
export function sbomCopy(sbom: Record<string, unknown>, i: number, distinct = false): Record<string, unknown> {
  const components = ((sbom.components ?? []) as CdxComponent[]).map((c, k) => {
    if (c.type === 'operating-system' || k % 10 !== i % 10 || !c.version) return c;
    // Another binNMU of the same version (Debian's "+bN"): same source package, another build.
    const version = `${c.version}+b${(i % 7) + 1}`;
    return { ...c, version };
  });
  if (distinct) components.push({ type: 'library', name: `bench-own-${i}`, version: '1.0.0', purl: `pkg:generic/bench-own-${i}@1.0.0` } as CdxComponent);
  return { ...sbom, serialNumber: `urn:uuid:${syntheticUuid(i)}`, components };
}

function syntheticUuid(i: number): string {
  const h = createHash('sha256').update(`gatehouse-bench-${i}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export function syntheticDigest(i: number): string {
  return `sha256:${createHash('sha256').update(`gatehouse-bench-image-${i}`).digest('hex')}`;
}

/** Stores `count` images made from `sbom`, matched with no DB yet (db_version 'seed'). */
export async function seedStoredSboms(db: Kysely<Database>, sbom: Record<string, unknown>, count: number, now = new Date().toISOString(), distinct = false): Promise<void> {
  const rows = Array.from({ length: count }, (_, i) => i);
  for (const part of chunks(rows, 100)) {
    await db.transaction().execute(async (trx) => {
      await trx.insertInto('images').values(part.map((i) => ({
        digest: syntheticDigest(i), refs: toJson([`registry.example/team-${i % 50}/app-${i}:1.${i % 20}`]), os: toJson({ family: 'debian', version: '12' }),
        created: now, layers: '[]', has_sbom: 1, signature: null, summary: toJson({ counts: {}, fixable: 0, knownExploited: 0 }),
        db_version: 'seed', scanned_at: now, first_seen: now, last_seen: now,
      }))).execute();
      // With its package list's address, as a push stores it.
      await trx.insertInto('image_sboms').values(part.map((i) => {
        const copy = sbomCopy(sbom, i, distinct);
        return { digest: syntheticDigest(i), sbom: toJson(copy), packages_hash: packagesHashOf(copy) };
      })).execute();
    });
  }
}

/** Re-matches every stored image against the DB at `dbPath`, timed; `perSecond` is images per second. */
export async function measureRematch(ctx: Parameters<typeof rematchAll>[0], dbPath: string): Promise<RematchResult & { perSecond: number }> {
  const { db, version } = openVulnDb(dbPath);
  try {
    const r = await rematchAll(ctx, { db, version });
    return { ...r, perSecond: Math.round((r.images / Math.max(r.ms, 1)) * 1000) };
  } finally {
    db.close();
  }
}
