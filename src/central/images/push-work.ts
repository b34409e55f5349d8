/**
 * An image push made ready to store, off the main thread (an image worker runs it): the raw
 * body parsed with fastify's own prototype-poisoning guard (secure-json-parse), validated
 * against the route's schema with the route's ajv options, its findings fingerprinted and
 * ordered, and everything the store writes serialized. The parsed packages and findings
 * are kept (briefly, by token) for the image's policy evaluation, which needs the row as
 * merged with what the store already had, so it comes in a second request.
 *
 * A push may name its SBOM's component list by address (`sbom.components` is the address,
 * store/image-sboms.ts) and its vulnerability findings by their bodies' addresses
 * (`vulnerabilities`, store/image-findings.ts) instead of sending them. The worker keeps
 * the packages of the lists it parsed last and the finding texts it split last, by the
 * addresses it computed over them; for others it answers `need` and the main thread sends
 * what the store holds (supplyContent), or refuses the push when Central lacks some. The
 * texts a push named are then confirmed stored by the main thread (the worker's memory may
 * hold texts of a push whose write failed).
 */
import { WeightedMemory } from './weighted-memory.js';
import { createRequire } from 'node:module';
import { Ajv } from 'ajv';
import secureJson from 'secure-json-parse';
import type { Finding } from '../../findings/finding.js';
import { fingerprintOf, withFingerprint } from '../../findings/fingerprint.js';
import type { Package } from '../../inventory/package.js';
import { findViolations, type PolicySet } from '../../policy/evaluate.js';
import { componentFacts, type ImageFacts } from '../../vuln/image-facts.js';
import { describeSchemaError } from '../api/errors.js';
import { imagePushSchema } from '../api/schemas/image-push.js';
import type { ImageReport, VulnerabilityRef } from '../client/ingest-types.js';
import { canonicalFindings, findingDocs, type StoredFinding } from '../store/image-findings.js';
import { joinVulnerability, type AdvisoryText, type FindingBody, type SplitVulnerability } from '../vulnerability-split.js';
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
const validate = ajv.compile(imagePushSchema);

/** A component list's packages, as matching and the image policies read them. */
interface ListPackages { packages: Package[]; packagesHash: string }

/** Content a push named that this worker lacks: the main thread reads it from the store. */
export interface Need {
  list?: string;
  findings?: string[];
  advisories?: string[];
}
/** What the store holds of a Need (every address of it: else the push is refused before). */
export interface Supply {
  list?: { address: string; text: string };
  findings?: Record<string, string>;
  advisories?: Record<string, string>;
}
/** The addresses of the texts a prepared push named, for the main thread to confirm stored. */
export interface NamedTexts {
  findings: string[];
  advisories: string[];
}

interface Parsed {
  /** Set while the push waits for content it named (supplyContent). */
  report?: ImageReport;
  /** Texts the store supplied for this push, by address (the memory below is bounded). */
  supplied?: { findings: Map<string, KnownText<FindingBody>>; advisories: Map<string, KnownText<AdvisoryText>>; list?: { address: string; packages: ListPackages } };
  packages?: Package[];
  packagesHash?: string;
  findings?: StoredFinding[];
  at: number;
}
const parsedByToken = new Map<number, Parsed>();
let nextToken = 1;
/** A token not claimed within this long (its request failed in between) is dropped. */
const TOKEN_TTL_MS = 60_000;

// The lists parsed last, by address: a fleet pushes a few lists again and again. Bounded by
// their packages, not their count (a 5,000-package image weighs ten 500-package ones): at most
// LIST_PACKAGES over all lists (32 lists of 500, as the bound was by count; 50,000 grew
// bench:central's every-list-new row by ~25 MB), and as many in their component facts, below. Whether a list is also stored is the main thread's to check: a
// list parsed from a push whose write failed is here but not in the store.
const LIST_PACKAGES = 16_000;
const listsByAddress = new WeightedMemory<ListPackages>(LIST_PACKAGES, (list) => list.packages.length);

// The finding texts split last (the bodies and advisories of whole pushes' vulnerabilities) or
// read from the store, by address, parsed on first use. A fleet's rebuilds repeat them. Bounded.
interface KnownText<T> { text: string; parsed?: T; joined?: Joined }
/** A body joined with its advisory, for no image in particular, and its split: each push copies it (a spread of one shape is cheap; joining afresh was a third of an addressed push). */
interface Joined { finding: Omit<Finding, 'fingerprint'>; split: SplitVulnerability }
// Bounded by the texts' length, not their count: an advisory may be 100 bytes or 20 KB. The
// parsed and joined forms kept beside a text weigh about as much again (a few times its length).
const TEXT_CHARS = 4_000_000;
const bodyTexts = new WeightedMemory<KnownText<FindingBody>>(TEXT_CHARS, (known) => known.text.length);
const advisoryTexts = new WeightedMemory<KnownText<AdvisoryText>>(TEXT_CHARS, (known) => known.text.length);
function parsedText<T>(known: KnownText<T>): T {
  return (known.parsed ??= JSON.parse(known.text) as T);
}

function listPackages(components: unknown): ListPackages {
  const fromSbom = packagesFromCycloneDx({ components });
  return { packages: fromSbom.packages, packagesHash: packagesAddress(fromSbom) };
}

/** What a reply moves to the main thread rather than copying: the bytes of a component list sent whole (image-sboms.ts). */
export function transferablesOf(result: PrepareResult): ArrayBuffer[] {
  const list = 'prepared' in result ? result.prepared.sbom?.componentsText : undefined;
  return list instanceof Uint8Array ? [list.buffer as ArrayBuffer] : [];
}

export type PrepareResult = { prepared: PreparedImage; token: number; named?: NamedTexts } | { need: Need; token: number };

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
  const parsed: Parsed = { report, supplied: { findings: new Map(), advisories: new Map() }, at: now };
  return prepareOrAsk(parsed, token);
}

/** What the store holds of what the push of `token` named, and the push made ready (or what it still lacks). */
export function supplyContent(token: number, supply: Supply): PrepareResult {
  const parsed = parsedByToken.get(token);
  if (!parsed?.report || !parsed.supplied) throw new Error('the push waiting for its content is gone');
  parsedByToken.delete(token);
  if (supply.list) {
    // Kept for this push whatever the memory keeps (a list over its whole budget is not kept).
    parsed.supplied.list = { address: supply.list.address, packages: listPackages(JSON.parse(supply.list.text)) };
    listsByAddress.remember(supply.list.address, parsed.supplied.list.packages);
  }
  for (const [address, text] of Object.entries(supply.findings ?? {})) {
    parsed.supplied.findings.set(address, { text });
    bodyTexts.remember(address, { text });
  }
  for (const [address, text] of Object.entries(supply.advisories ?? {})) {
    parsed.supplied.advisories.set(address, { text });
    advisoryTexts.remember(address, { text });
  }
  return prepareOrAsk(parsed, token);
}

function prepareOrAsk(parsed: Parsed, token: number): PrepareResult {
  const report = parsed.report!;
  const named = typeof report.sbom?.components === 'string' ? report.sbom.components : undefined;
  const need: Need = {};
  const knownList = named === undefined ? undefined : parsed.supplied!.list?.address === named ? parsed.supplied!.list.packages : listsByAddress.get(named);
  if (named !== undefined && !knownList) need.list = named;
  const refs = report.vulnerabilities ?? [];
  const body = (a: string) => parsed.supplied!.findings.get(a) ?? bodyTexts.get(a);
  const advisory = (a: string) => parsed.supplied!.advisories.get(a) ?? advisoryTexts.get(a);
  const findings = new Set<string>();
  const advisories = new Set<string>();
  for (const ref of refs) {
    const known = body(ref.finding);
    if (!known) findings.add(ref.finding);
    else {
      const a = parsedText(known).advisory;
      if (a !== undefined && !advisory(a)) advisories.add(a);
    }
  }
  if (findings.size) need.findings = [...findings];
  if (advisories.size) need.advisories = [...advisories];
  if (need.list !== undefined || need.findings || need.advisories) {
    parsedByToken.set(token, parsed);
    return { need, token };
  }
  if (refs.length === 0) return { prepared: prepare(report, token, knownList, undefined), token };
  const joined = joinRefs(report.image.digest, refs, body, advisory);
  return { prepared: prepare(report, token, knownList, joined.splits), token, named: joined.named };
}

/**
 * The vulnerability findings a push named, put back together from the texts at their
 * addresses with what the push gave as their own (fingerprint, modified), and their splits:
 * the texts are the ones a whole push of the same findings splits into, as the client
 * addressed them with the same split. Parsed texts are shared between pushes, read-only.
 * (Tests: test/central/image-push-findings-addressed.test.ts, differential against whole pushes.)
 */
function joinRefs(digest: string, refs: readonly VulnerabilityRef[], body: (a: string) => KnownText<FindingBody> | undefined, advisory: (a: string) => KnownText<AdvisoryText> | undefined): { splits: Map<StoredFinding, SplitVulnerability>; named: NamedTexts } {
  const splits = new Map<StoredFinding, SplitVulnerability>();
  const advisories = new Set<string>();
  for (const ref of refs) {
    const b = body(ref.finding)!;
    const t = b.joined ??= joined(b, ref.finding, advisory);
    if (t.split.advisory) advisories.add(t.split.advisory.hash);
    const f = { ...t.finding, resource: { ...t.finding.resource, image: { ...t.finding.resource.image, digest } } } as StoredFinding;
    // As a whole push stores them: modified only within data, as a string.
    const modified = t.finding.data && ref.modified !== undefined ? ref.modified : undefined;
    if (modified !== undefined) f.data = { ...t.finding.data, modified };
    // As a whole push: a fingerprint given is kept, else computed over the finding with this image's digest.
    f.fingerprint = ref.fingerprint || fingerprintOf(f);
    splits.set(f, modified === undefined ? t.split : { ...t.split, modified });
  }
  return { splits, named: { findings: [...new Set(refs.map((r) => r.finding))], advisories: [...advisories] } };
}

function joined(b: KnownText<FindingBody>, address: string, advisory: (a: string) => KnownText<AdvisoryText> | undefined): Joined {
  const parsedBody = parsedText(b);
  const a = parsedBody.advisory === undefined ? undefined : advisory(parsedBody.advisory)!;
  return {
    finding: joinVulnerability(parsedBody, a ? parsedText(a) : {}, '', undefined),
    split: { body: b.text, bodyHash: address, ...(a ? { advisory: { text: a.text, hash: parsedBody.advisory! } } : {}) },
  };
}

export function dropPush(token: number): void {
  parsedByToken.delete(token);
}

/**
 * `named`: the packages of the list the push named by address (undefined when it sent its SBOM
 * whole, or none). `joined`: the vulnerability findings it named, with their splits.
 */
function prepare(report: ImageReport, token: number, named: ListPackages | undefined, joined: Map<StoredFinding, SplitVulnerability> | undefined): PreparedImage {
  const digest = report.image.digest;
  const whole = report.findings?.map((f) => withFingerprint({ ...f, resource: { ...f.resource, image: { ...f.resource.image, digest } } }) as StoredFinding);
  // Named before whole, as the client ordered them (ingest-types.ts addressedImageReport).
  const findings = whole || joined ? canonicalFindings([...(joined?.keys() ?? []), ...(whole ?? [])]) : undefined;
  let sbom: PreparedImage['sbom'];
  let list: ListPackages | undefined;
  if (report.sbom) {
    try {
      sbom = splitSbom(report.sbom, named === undefined ? undefined : report.sbom.components as string, { bytes: true });
    } catch (e) {
      throw new BadPush(`body: /sbom ${(e as Error).message}`);
    }
    // A list sent whole is addressed here, over what this worker parsed; a list seen before is not parsed into packages again.
    list = named ?? (sbom.componentsHash !== undefined ? listsByAddress.get(sbom.componentsHash) : undefined);
    if (!list) {
      list = listPackages(report.sbom.components);
      if (sbom.componentsHash !== undefined) listsByAddress.remember(sbom.componentsHash, list);
    }
  }
  const prepared: PreparedImage = {
    image: report.image, signature: report.signature, db: report.db,
    sbom,
    packagesHash: list?.packagesHash,
    findings: findings && { ...findingDocs(findings, joined), summary: JSON.stringify(summarize(findings)) },
  };
  // The texts this worker split are the ones later pushes name.
  if (prepared.findings) {
    for (const [address, text] of Object.entries(prepared.findings.texts.findings)) bodyTexts.remember(address, { text });
    for (const [address, text] of Object.entries(prepared.findings.texts.advisories)) advisoryTexts.remember(address, { text });
  }
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
// as re-match shares them (FleetMatcher's sets). Bounded as the lists are (LIST_PACKAGES).
const componentsByList = new WeightedMemory<ImageFacts['components']>(LIST_PACKAGES, (components) => components.length);
function componentsOf(packagesHash: string, packages: Package[]): ImageFacts['components'] {
  let hit = componentsByList.get(packagesHash);
  if (!hit) {
    hit = componentFacts({ packages: [...packages], warnings: [] });
    componentsByList.remember(packagesHash, hit);
  }
  return hit;
}
