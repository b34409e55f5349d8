/**
 * Vulnerability findings' shared text stored once (issue 16's ingest and re-match cost): a
 * fleet's images repeat the same findings, ~1 KB each, ~120 per image, with only the image
 * digest differing; ~40% of each is its advisory's text. `finding_texts` holds a finding's
 * body once, `advisory_texts` its advisory's text once, both by content address (SHA-256),
 * and an image's vulnerabilities document becomes `[fingerprint, address, modified?]`
 * entries (store/image-findings.ts says why each part is where it is). `image_sboms` gains
 * the address of the SBOM's package list ('' here: re-match computes it when it first reads
 * the SBOM), indexed, so re-match visits images list by list.
 *
 * The encoding is frozen here, so later changes to the store module cannot change what this
 * migration writes; down rebuilds the full documents.
 */
import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';

type Json = Record<string, unknown>;
type Entry = [string, string, string?];

const address = (text: string) => createHash('sha256').update(text).digest('base64url').slice(0, 32);

/** A full finding → its entry, body and advisory text (the split of store/image-findings.ts at 0013). */
function split(f: Json): { entry: Entry; body: [string, string]; advisory?: [string, string] } {
  const { fingerprint, detail, references, data, resource, ...rest } = f as Json & { fingerprint: string; data?: Json; resource: Json & { image?: Json } };
  const { digest: _d, ...image } = resource.image ?? {};
  const { aliases, cve, cvss, feed, published, modified, ...own } = data ?? {};
  const shared: Json = {};
  if (detail !== undefined) shared.detail = detail;
  if (references !== undefined) shared.references = references;
  const sharedData: Json = {};
  for (const [k, v] of Object.entries({ aliases, cve, cvss, feed, published })) if (v !== undefined) sharedData[k] = v;
  if (Object.keys(sharedData).length) shared.data = sharedData;
  const advText = Object.keys(shared).length ? JSON.stringify(shared) : undefined;
  const advisory: [string, string] | undefined = advText === undefined ? undefined : [address(advText), advText];
  const bodyText = JSON.stringify({ ...rest, resource: { ...resource, image }, ...(data ? { data: own } : {}), ...(advisory ? { advisory: advisory[0] } : {}) });
  const hash = address(bodyText);
  return { entry: typeof modified === 'string' ? [fingerprint, hash, modified] : [fingerprint, hash], body: [hash, bodyText], ...(advisory ? { advisory } : {}) };
}

async function insertMissing(db: Kysely<any>, table: string, texts: Map<string, string>): Promise<void> {
  const hashes = [...texts.keys()];
  for (let i = 0; i < hashes.length; i += 400) {
    const part = hashes.slice(i, i + 400);
    const stored = new Set(((await db.selectFrom(table).select('hash').where('hash', 'in', part).execute()) as { hash: string }[]).map((r) => r.hash));
    const missing = part.filter((h) => !stored.has(h));
    if (missing.length) await db.insertInto(table).values(missing.map((hash) => ({ hash, body: texts.get(hash)! }))).execute();
  }
}

/** Every image_finding_docs row, a page at a time, rewritten by `rewrite`. */
async function eachDoc(db: Kysely<any>, rewrite: (digest: string, vulnerabilities: string) => Promise<string>): Promise<void> {
  let after = '';
  for (;;) {
    const rows = (await db.selectFrom('image_finding_docs').select(['image_digest', 'vulnerabilities']).where('image_digest', '>', after).orderBy('image_digest').limit(200).execute()) as { image_digest: string; vulnerabilities: string }[];
    if (rows.length === 0) return;
    for (const r of rows) await db.updateTable('image_finding_docs').set({ vulnerabilities: await rewrite(r.image_digest, r.vulnerabilities) }).where('image_digest', '=', r.image_digest).execute();
    after = rows[rows.length - 1]!.image_digest;
  }
}

export async function up(db: Kysely<any>): Promise<void> {
  for (const table of ['finding_texts', 'advisory_texts']) {
    await db.schema.createTable(table).addColumn('hash', 'text', (c) => c.primaryKey()).addColumn('body', 'text', (c) => c.notNull()).execute();
  }
  await db.schema.alterTable('image_sboms').addColumn('packages_hash', 'text', (c) => c.notNull().defaultTo('')).execute();
  await db.schema.createIndex('image_sboms_by_packages').on('image_sboms').columns(['packages_hash', 'digest']).execute();
  await eachDoc(db, async (_digest, text) => {
    const bodies = new Map<string, string>();
    const advisories = new Map<string, string>();
    const entries = (JSON.parse(text) as Json[]).map((f) => {
      const s = split(f);
      bodies.set(...s.body);
      if (s.advisory) advisories.set(...s.advisory);
      return s.entry;
    });
    await insertMissing(db, 'finding_texts', bodies);
    await insertMissing(db, 'advisory_texts', advisories);
    return JSON.stringify(entries);
  });
}

export async function down(db: Kysely<any>): Promise<void> {
  const text = async (table: string, hash: string) => ((await db.selectFrom(table).select('body').where('hash', '=', hash).executeTakeFirstOrThrow()) as { body: string }).body;
  await eachDoc(db, async (digest, doc) => {
    const full: Json[] = [];
    for (const [fingerprint, hash, modified] of JSON.parse(doc) as Entry[]) {
      const { advisory, ...body } = JSON.parse(await text('finding_texts', hash)) as Json & { advisory?: string; resource: Json & { image: Json }; data?: Json };
      const shared = advisory === undefined ? {} : JSON.parse(await text('advisory_texts', advisory)) as { detail?: string; references?: string[]; data?: Json };
      const f: Json = { ...body, fingerprint, resource: { ...body.resource, image: { ...body.resource.image, digest } } };
      if (shared.detail !== undefined) f.detail = shared.detail;
      if (shared.references !== undefined) f.references = shared.references;
      if (body.data) f.data = { ...body.data, ...shared.data, ...(modified !== undefined ? { modified } : {}) };
      full.push(f);
    }
    return JSON.stringify(full);
  });
  await db.schema.dropIndex('image_sboms_by_packages').execute();
  await db.schema.alterTable('image_sboms').dropColumn('packages_hash').execute();
  await db.schema.dropTable('advisory_texts').execute();
  await db.schema.dropTable('finding_texts').execute();
}
