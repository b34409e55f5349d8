/**
 * An image push made ready to store, off the main thread (an image worker runs it): the raw
 * body parsed with fastify's own prototype-poisoning guard (secure-json-parse), validated
 * against the route's schema with the route's ajv options, its findings fingerprinted and
 * ordered, and everything the store writes serialized. The parsed packages and findings
 * are kept (briefly, by token) for the image's policy evaluation, which needs the row as
 * merged with what the store already had, so it comes in a second request.
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
import { packagesAddress } from '../store/image-sboms.js';
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

interface Parsed { packages?: Package[]; packagesHash?: string; findings?: StoredFinding[]; at: number }
const parsedByToken = new Map<number, Parsed>();
let nextToken = 1;
/** A token not claimed within this long (its request failed in between) is dropped. */
const TOKEN_TTL_MS = 60_000;

export function preparePush(body: Uint8Array): { prepared: PreparedImage; token: number } {
  let report: ImageReport;
  try {
    report = secureJson.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8'), undefined, { protoAction: 'error', constructorAction: 'error' }) as ImageReport;
  } catch (e) {
    throw new BadPush(`body is not valid JSON: ${(e as Error).message}`);
  }
  if (!validate(report)) throw new BadPush(`body: ${describeSchemaError(validate.errors![0]!)}`);
  const digest = report.image.digest;
  const findings = report.findings && canonicalFindings(report.findings.map((f) => withFingerprint({ ...f, resource: { ...f.resource, image: { ...f.resource.image, digest } } })) as StoredFinding[]);
  const fromSbom = report.sbom ? packagesFromCycloneDx(report.sbom) : undefined;
  const prepared: PreparedImage = {
    image: report.image, signature: report.signature, db: report.db,
    sbomText: report.sbom ? JSON.stringify(report.sbom) : undefined,
    packagesHash: fromSbom && packagesAddress(fromSbom),
    findings: findings && { ...findingDocs(findings), summary: JSON.stringify(summarize(findings)) },
  };
  const now = Date.now();
  for (const [t, p] of parsedByToken) if (now - p.at > TOKEN_TTL_MS) parsedByToken.delete(t);
  const token = nextToken++;
  parsedByToken.set(token, { packages: fromSbom?.packages, packagesHash: prepared.packagesHash, findings, at: now });
  return { prepared, token };
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
