/**
 * Texts many images share, stored once by content address (migration 0013): a vulnerability
 * finding's package-level body (`finding_texts`) and its advisory's text (`advisory_texts`:
 * description, references, CVSS…). A fleet repeats the same findings image after image, so an
 * image's own record shrinks to fingerprints and addresses (store/image-findings.ts).
 *
 * The address is SHA-256, not the fingerprint's fast hash: any `ci` token can push texts, and
 * a text is shared with every image that has the same one, so a collision must be infeasible
 * (else a push could plant its text under another's address first). Rows are immutable and
 * never deleted, so a text once read is cached for good, and an address once seen committed
 * is not looked up again in that store (a deleting clean-up, if one is ever added, must clear
 * `committedByStore`).
 */
import type { Kysely, Transaction } from 'kysely';
import { chunks } from './json.js';
import type { Database } from './schema.js';

type Db = Kysely<Database> | Transaction<Database>;
export type SharedTextTable = 'finding_texts' | 'advisory_texts';

/** Texts to store with a write, by address. Plain records: they cross from image workers. */
export interface SharedTexts {
  findings: Record<string, string>;
  advisories: Record<string, string>;
}

export { cachedTextAddress } from '../vulnerability-split.js';

// Addresses known to be stored by committed transactions, per store (a process may open
// several: tests, the bench). Keyed by the store's dialect adapter, which its transactions
// share. Bounded.
const committedByStore = new WeakMap<object, Set<string>>();
function committedIn(db: Db): Set<string> {
  const key = db.getExecutor().adapter;
  let set = committedByStore.get(key);
  if (!set) committedByStore.set(key, (set = new Set()));
  return set;
}
const remember = (committed: Set<string>, hash: string) => {
  if (committed.size >= 200_000) committed.clear();
  committed.add(hash);
};

/** After the caller's transaction on `db`'s store committed: these texts are stored. */
export function markTextsStored(db: Db, texts: SharedTexts): void {
  const committed = committedIn(db);
  for (const h of Object.keys(texts.findings)) remember(committed, h);
  for (const h of Object.keys(texts.advisories)) remember(committed, h);
}

/**
 * Stores the texts not stored yet. Addresses not known committed are looked up first, so a
 * push whose texts are all stored (the common case in a fleet) writes none, and from then on
 * needs no look-up either.
 */
export async function writeSharedTexts(db: Db, texts: SharedTexts): Promise<void> {
  await writeTable(db, 'finding_texts', texts.findings);
  await writeTable(db, 'advisory_texts', texts.advisories);
}

async function writeTable(db: Db, table: SharedTextTable, texts: Record<string, string>): Promise<void> {
  // In address order: two transactions inserting the same texts (PostgreSQL, two images of
  // one package list at once) then take their row locks in one order and cannot deadlock.
  const committed = committedIn(db);
  const wanted = Object.keys(texts).filter((h) => !committed.has(h)).sort();
  for (const part of chunks(wanted, 400)) {
    // A row found here was committed by an earlier transaction (each write stores a text at
    // most once per transaction, and rows are never deleted): remembered as stored.
    const stored = new Set((await db.selectFrom(table).select('hash').where('hash', 'in', part).execute()).map((r) => r.hash));
    for (const h of stored) remember(committed, h);
    const missing = part.filter((h) => !stored.has(h));
    if (missing.length === 0) continue;
    // Another writer (PostgreSQL, concurrent pushes) may store the same text meanwhile: it is the same row.
    await db.insertInto(table).values(missing.map((hash) => ({ hash, body: texts[hash]! })))
      .onConflict((oc) => oc.column('hash').doNothing()).execute();
  }
}

// Read texts, by address (immutable, so never stale). Bounded: cleared when full.
const cache = new Map<string, string>();
const CACHE_ENTRIES = 5_000;

/** The texts at these addresses; an address with no row is an error (a store that lost its texts). */
export async function readSharedTexts(db: Db, table: SharedTextTable, hashes: Iterable<string>): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const missing: string[] = [];
  for (const h of new Set(hashes)) {
    const hit = cache.get(h);
    if (hit === undefined) missing.push(h);
    else out.set(h, hit);
  }
  for (const part of chunks(missing, 400)) {
    for (const r of await db.selectFrom(table).select(['hash', 'body']).where('hash', 'in', part).execute()) {
      out.set(r.hash, r.body);
      if (cache.size >= CACHE_ENTRIES) cache.clear();
      cache.set(r.hash, r.body);
    }
  }
  for (const h of missing) if (!out.has(h)) throw new Error(`${table} has no text ${h}: the store is damaged`);
  return out;
}

/**
 * Of these addresses, those with no text in `table` (an empty list: all are stored). For a
 * push naming texts by address: an address known committed needs no look-up.
 */
export async function sharedTextsMissing(db: Db, table: SharedTextTable, hashes: readonly string[]): Promise<string[]> {
  const committed = committedIn(db);
  const wanted = [...new Set(hashes)].filter((h) => !committed.has(h));
  const missing: string[] = [];
  for (const part of chunks(wanted, 400)) {
    const stored = new Set((await db.selectFrom(table).select('hash').where('hash', 'in', part).execute()).map((r) => r.hash));
    for (const h of part) {
      if (stored.has(h)) remember(committed, h);
      else missing.push(h);
    }
  }
  return missing;
}

/** The texts stored at these addresses; an address with no row is left out (a push named a text Central lacks). */
export async function readStoredTexts(db: Db, table: SharedTextTable, hashes: Iterable<string>): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const missing: string[] = [];
  // The cache is the process's, not this store's: a hit counts only for a text this store holds.
  const committed = committedIn(db);
  for (const h of new Set(hashes)) {
    const hit = committed.has(h) ? cache.get(h) : undefined;
    if (hit === undefined) missing.push(h);
    else out[h] = hit;
  }
  for (const part of chunks(missing, 400)) {
    for (const r of await db.selectFrom(table).select(['hash', 'body']).where('hash', 'in', part).execute()) {
      out[r.hash] = r.body;
      remember(committed, r.hash);
      if (cache.size >= CACHE_ENTRIES) cache.clear();
      cache.set(r.hash, r.body);
    }
  }
  return out;
}
