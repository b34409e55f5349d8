/**
 * An image push made ready to store, off the main thread (an image worker runs it): the raw
 * body parsed with fastify's own prototype-poisoning guard (secure-json-parse), validated
 * against the route's schema with the route's ajv options, its findings fingerprinted and
 * ordered, and everything the store writes serialized. The parsed packages and findings
 * are kept (briefly, by token) for the image's policy evaluation, which needs the row as
 * merged with what the store already had, so it comes in a second request.
 *
 * A push may name its SBOM's component list by address (`sbom.components` is the address,
 * store/image-sboms.ts) instead of sending it. The worker keeps the packages of the lists it
 * parsed last, by address; for another address it answers `needList` and the main thread
 * sends the stored list (supplyList), or refuses the push when Central does not hold it.
 */
import { createRequire } from 'node:module';
import { Ajv } from 'ajv';
import secureJson from 'secure-json-parse';
import type { Finding } from '../../findings/finding.js';
import { withFingerprint } from '../../findings/fingerprint.js';
import type { Package } from '../../inventory/package.js';
import { findViolations, type PolicySet } from '../../policy/evaluate.js';
import { componentFacts, type ImageFacts } from '../../vuln/image-facts.js';
import { describeSchemaError } from '../api/errors.js';
import { imageReportSchema } from '../api/schemas/image-report.js';
import type { ImageReport } from '../client/ingest-types.js';
import { canonicalFindings, findingDocs, type StoredFinding } from '../store/image-findings.js';
import { packagesAddress, splitSbom } from '../store/image-sboms.js';
import { summarize, type PreparedImage } from '../store/images.js';
import { packagesFromCycloneDx } from './sbom-packages.js';
import { storedImageFacts, type StoredImageRow } from './stored-facts.js';

/** A push the worker refused: the route answers 400 with this line, as its own validation would. */
export class BadPush extends Error {}

// The route's options (server.ts): unknown fields are errors, not dropped.
const ajv = new Ajv({ removeAdditional: false, useDefaults: true, coerceTypes: 'array', allErrors: false });
// A CommonJS module whose default export TypeScript's NodeNext view does not see as callable.
(createRequire(import.meta.url)('ajv-formats') as (a: Ajv) => void)(ajv);
const validate = ajv.compile(imageReportSchema);

/** A component list's packages, as matching and the image policies read them. */
interface ListPackages { packages: Package[]; packagesHash: string }

interface Parsed {
  /** Set while the push waits for its named list (supplyList). */
  report?: ImageReport;
  packages?: Package[];
  packagesHash?: string;
  findings?: StoredFinding[];
  at: number;
}
const parsedByToken = new Map<number, Parsed>();
let nextToken = 1;
/** A token not claimed within this long (its request failed in between) is dropped. */
const TOKEN_TTL_MS = 60_000;

// The lists parsed last, by address: a fleet pushes a few lists again and again. Bounded.
// Whether a list is also stored is the main thread's to check: a list parsed from a push
// whose write failed is here but not in the store.
const listsByAddress = new Map<string, ListPackages>();
function rememberList(address: string, list: ListPackages): void {
  if (listsByAddress.size >= 32) listsByAddress.delete(listsByAddress.keys().next().value!);
  listsByAddress.set(address, list);
}

function listPackages(components: unknown): ListPackages {
  const fromSbom = packagesFromCycloneDx({ components });
  return { packages: fromSbom.packages, packagesHash: packagesAddress(fromSbom) };
}

export type PrepareResult = { prepared: PreparedImage; token: number } | { needList: string; token: number };

export function preparePush(body: Uint8Array): PrepareResult {
  let report: ImageReport;
  try {
    report = secureJson.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8'), undefined, { protoAction: 'error', constructorAction: 'error' }) as ImageReport;
  } catch (e) {
    throw new BadPush(`body is not valid JSON: ${(e as Error).message}`);
  }
  if (!validate(report)) throw new BadPush(`body: ${describeSchemaError(validate.errors![0]!)}`);
  const named = typeof report.sbom?.components === 'string' ? report.sbom.components : undefined;
  if (named !== undefined && !/^[A-Za-z0-9_-]{32}$/.test(named)) throw new BadPush('body: /sbom/components must be a list of components or the 32-character address of one');
  const token = nextToken++;
  const now = Date.now();
  for (const [t, p] of parsedByToken) if (now - p.at > TOKEN_TTL_MS) parsedByToken.delete(t);
  if (named !== undefined && !listsByAddress.has(named)) {
    parsedByToken.set(token, { report, at: now });
    return { needList: named, token };
  }
  return { prepared: prepare(report, token, named === undefined ? undefined : listsByAddress.get(named)), token };
}

/** The stored list a push named (read by the main thread), and the push made ready. */
export function supplyList(token: number, address: string, listText: string): { prepared: PreparedImage; token: number } {
  const parsed = parsedByToken.get(token);
  if (!parsed?.report) throw new Error('the push waiting for its component list is gone');
  const list = listPackages(JSON.parse(listText));
  rememberList(address, list);
  return { prepared: prepare(parsed.report, token, list), token };
}

export function dropPush(token: number): void {
  parsedByToken.delete(token);
}

/** `named`: the packages of the list the push named by address (undefined when it sent its SBOM whole, or none). */
function prepare(report: ImageReport, token: number, named: ListPackages | undefined): PreparedImage {
  const digest = report.image.digest;
  const findings = report.findings && canonicalFindings(report.findings.map((f) => withFingerprint({ ...f, resource: { ...f.resource, image: { ...f.resource.image, digest } } })) as StoredFinding[]);
  let sbom: PreparedImage['sbom'];
  let list: ListPackages | undefined;
  if (report.sbom) {
    try {
      sbom = splitSbom(report.sbom, named === undefined ? undefined : report.sbom.components as string);
    } catch (e) {
      throw new BadPush(`body: /sbom ${(e as Error).message}`);
    }
    // A list sent whole is addressed here, over what this worker parsed; a list seen before is not parsed into packages again.
    list = named ?? (sbom.componentsHash !== undefined ? listsByAddress.get(sbom.componentsHash) : undefined);
    if (!list) {
      list = listPackages(report.sbom.components);
      if (sbom.componentsHash !== undefined) rememberList(sbom.componentsHash, list);
    }
  }
  const prepared: PreparedImage = {
    image: report.image, signature: report.signature, db: report.db,
    sbom,
    packagesHash: list?.packagesHash,
    findings: findings && { ...findingDocs(findings), summary: JSON.stringify(summarize(findings)) },
  };
  parsedByToken.set(token, { packages: list?.packages, packagesHash: list?.packagesHash, findings, at: Date.now() });
  return prepared;
}

/**
 * The violations of the image as stored by the push of `token`, or undefined when the push
 * left out its SBOM or findings (the caller evaluates from the store) or the token is gone.
 */
export function pushViolations(token: number, row: StoredImageRow, now: string, policies: PolicySet): Finding[] | undefined {
  const parsed = parsedByToken.get(token);
  parsedByToken.delete(token);
  if (!parsed?.packages || !parsed.findings) return undefined;
  return findViolations({ kind: 'image', value: storedImageFacts(row, parsed.packages, parsed.findings, new Date(now), componentsOf(parsed.packagesHash!, parsed.packages)) }, policies, 'build');
}

// A fleet pushes the same package lists again and again (rebuilds, tags of one build, one
// base): their component facts are made once per list, by its address, and shared read-only
// as re-match shares them (FleetMatcher's sets). Bounded.
const componentsByList = new Map<string, ImageFacts['components']>();
function componentsOf(packagesHash: string, packages: Package[]): ImageFacts['components'] {
  let hit = componentsByList.get(packagesHash);
  if (!hit) {
    if (componentsByList.size >= 32) componentsByList.delete(componentsByList.keys().next().value!);
    componentsByList.set(packagesHash, (hit = componentFacts({ packages: [...packages], warnings: [] })));
  }
  return hit;
}
