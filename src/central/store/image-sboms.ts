/**
 * An image's SBOM (CycloneDX JSON text), apart from its `images` row (migration 0006), with
 * the content address of the package list the matcher reads from it (migration 0013):
 * images whose SBOMs differ only in serial number, timestamps or names — rebuilds, tags
 * of one build, a fleet on one base — have one package list, which re-match then matches
 * once.
 *
 * The SBOM's component list (nearly all of its bytes) is stored once by content address
 * (migration 0015): the row holds the envelope, whose `components` value is a placeholder
 * naming the list, and readImageSbom splices the list's text back in its place, so the SBOM
 * reads back as the very text JSON.stringify gave for the pushed one. The address is always
 * computed here, over a list Central itself parsed: a push may name an address (the list
 * then must be stored already) but never claims what content an address has.
 */
import { sql, type Kysely, type RawBuilder, type Transaction } from 'kysely';
import { packagesFromCycloneDx, type SbomPackages } from '../images/sbom-packages.js';
import type { Database } from './schema.js';
import { textAddress } from '../content-address.js';
import { isPostgres } from './json.js';

type Db = Kysely<Database> | Transaction<Database>;

/** What a `components` value is replaced with in a stored envelope. */
const placeholderOf = (hash: string) => `gatehouse:components:${hash}`;

/** The SBOM as stored: the envelope text and, when its list is stored apart, the list's address and text. */
export interface SplitSbom {
  envelope: string;
  componentsHash?: string;
  /**
   * The list's JSON text; absent when the push named a stored list by address. As UTF-8 bytes
   * when an image worker made it (`bytes`): moved to the main thread, not cloned onto its heap.
   */
  componentsText?: string | Uint8Array;
}

/**
 * An SBOM made ready to store. `componentsAddress`: the push named its list by this address
 * (its `components` is that string) rather than sending it. A list whose placeholder would
 * not be the envelope's only one (a document that holds that very text elsewhere) is
 * stored whole.
 */
export function splitSbom(sbom: Record<string, unknown>, componentsAddress?: string, opts: { bytes?: boolean } = {}): SplitSbom {
  let componentsText: string | Uint8Array | undefined;
  let hash = componentsAddress;
  if (hash === undefined) {
    if (!Array.isArray(sbom.components)) return { envelope: JSON.stringify(sbom) };
    const text = JSON.stringify(sbom.components);
    // The bytes hashed are the ones stored: one UTF-8 encoding, not one for the hash and one for the store.
    componentsText = opts.bytes ? new TextEncoder().encode(text) : text;
    hash = textAddress(componentsText);
  }
  const placeholder = placeholderOf(hash);
  const envelope = JSON.stringify({ ...sbom, components: placeholder });
  const quoted = JSON.stringify(placeholder);
  const at = envelope.indexOf(quoted);
  if (envelope.indexOf(quoted, at + 1) !== -1) {
    if (componentsText === undefined) throw new Error('an SBOM holding its own component-list placeholder cannot name its list by address');
    return { envelope: JSON.stringify(sbom) };
  }
  return { envelope, componentsHash: hash, ...(componentsText !== undefined ? { componentsText } : {}) };
}

// Lists read, by address, per store (a process may open several: tests, the bench; a list
// one store holds says nothing of another). Immutable rows, so never stale; a few per
// store, as each is ~250 KB. Keyed by the store's dialect adapter, which its transactions share.
const listCaches = new WeakMap<object, Map<string, string>>();
const LIST_CACHE_ENTRIES = 8;
function listCacheOf(db: Db): Map<string, string> {
  const key = db.getExecutor().adapter;
  let cache = listCaches.get(key);
  if (!cache) listCaches.set(key, (cache = new Map()));
  return cache;
}

/** The list stored at this address, or undefined. */
export async function readComponentList(db: Db, hash: string): Promise<string | undefined> {
  const cache = listCacheOf(db);
  const hit = cache.get(hash);
  if (hit !== undefined) return hit;
  const body = (await db.selectFrom('sbom_component_lists').select('body').where('hash', '=', hash).executeTakeFirst())?.body;
  // Only what a committed transaction stored is kept: a transaction's own write may yet roll back.
  if (body !== undefined && !db.isTransaction) {
    if (cache.size >= LIST_CACHE_ENTRIES) cache.delete(cache.keys().next().value!);
    cache.set(hash, body);
  }
  return body;
}

/** Whether a list is stored under this address (rows are never deleted). */
export async function componentListStored(db: Db, hash: string): Promise<boolean> {
  if (listCacheOf(db).has(hash)) return true;
  return (await db.selectFrom('sbom_component_lists').select('hash').where('hash', '=', hash).executeTakeFirst()) !== undefined;
}

/**
 * Stores a list Central parsed itself, once (a concurrent writer of the same list writes the same row).
 * A list as UTF-8 bytes is made text by the store itself: decoded here, each new ~250 KB list
 * would be a (two-byte) string on the main thread's heap, garbage that a large heap's rare full
 * collections leave in place (bench:central's every-list-new row grew Central by ~300 MB).
 */
async function writeComponentList(db: Db, hash: string, text: string | Uint8Array): Promise<void> {
  if (await componentListStored(db, hash)) return;
  let body: string | RawBuilder<string>;
  if (typeof text === 'string') body = text;
  else {
    const bytes = Buffer.from(text.buffer, text.byteOffset, text.byteLength);
    // Both stores' text is UTF-8, and the bytes are JSON.stringify's (well-formed: lone surrogates escaped).
    body = isPostgres(db) ? sql<string>`convert_from(${bytes}, 'UTF8')` : sql<string>`cast(${bytes} as text)`;
  }
  await db.insertInto('sbom_component_lists').values({ hash, body }).onConflict((oc) => oc.column('hash').doNothing()).execute();
}

export async function readImageSbom(db: Db, digest: string): Promise<string | undefined> {
  const row = await db.selectFrom('image_sboms').select(['sbom', 'components_hash']).where('digest', '=', digest).executeTakeFirst();
  if (!row?.components_hash) return row?.sbom;
  const list = await readComponentList(db, row.components_hash);
  if (list === undefined) throw new Error(`sbom_component_lists has no list ${row.components_hash}: the store is damaged`);
  const quoted = JSON.stringify(placeholderOf(row.components_hash));
  const at = row.sbom.indexOf(quoted);
  return row.sbom.slice(0, at) + list + row.sbom.slice(at + quoted.length);
}

/** The content address of a package list (what matching an SBOM depends on). */
export function packagesAddress(p: SbomPackages): string {
  return textAddress(JSON.stringify({ os: p.os ?? null, packages: p.packages }));
}

/** The content address of a parsed SBOM's package list. */
export function packagesHashOf(sbom: unknown): string {
  return packagesAddress(packagesFromCycloneDx(sbom));
}

/**
 * Stores the SBOM and its package list's address (its `images` row must exist, or be written
 * in the same transaction). Without an address the row gets '' and re-match computes it. A
 * split SBOM's list is written too when it came with the push; one named by address must be
 * stored already (the caller checked).
 */
export async function writeImageSbom(db: Db, digest: string, sbom: string | SplitSbom, packagesHash = ''): Promise<void> {
  const split = typeof sbom === 'string' ? { envelope: sbom } : sbom;
  if (split.componentsHash !== undefined && split.componentsText !== undefined) await writeComponentList(db, split.componentsHash, split.componentsText);
  const row = { sbom: split.envelope, packages_hash: packagesHash, components_hash: split.componentsHash ?? null };
  await db.insertInto('image_sboms').values({ digest, ...row })
    .onConflict((oc) => oc.column('digest').doUpdateSet(row)).execute();
}

/** Records the address re-match computed for an SBOM stored without one. */
export async function setPackagesHash(db: Db, digest: string, packagesHash: string): Promise<void> {
  await db.updateTable('image_sboms').set({ packages_hash: packagesHash }).where('digest', '=', digest).execute();
}
