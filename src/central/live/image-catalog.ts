/**
 * What Central knows about images, for deployments that reference them: looked up by
 * digest (`…@sha256:…`) or by canonical reference (`nginx:1.25` = docker.io/library/nginx:1.25).
 * Loaded once; after an image push only the pushed digests are read again (refresh): a full
 * reload per push read every image row (15,000 in bench:central) for one changed image.
 */
import type { Kysely } from 'kysely';
import { formatReference, parseRegistryReference } from '../../image/reference.js';
import type { ImageRiskInput } from '../risk/index.js';
import { readAllImageFindings } from '../store/image-findings.js';
import { readImageSbom } from '../store/image-sboms.js';
import { chunks, fromJson } from '../store/json.js';
import type { Database } from '../store/schema.js';
import type { ImageSummary } from '../store/images.js';
import type { ImageFacts } from '../../vuln/image-facts.js';
import { packagesFromCycloneDx } from '../images/sbom-packages.js';
import { storedImageFacts } from '../images/stored-facts.js';
import { TimeSlice } from './slice.js';

/** Facts of this many images are kept for deploy policies that read image.* fields. */
const FACTS_CACHE = 256;

/** Canonical form of a registry reference; the text itself when it does not parse. */
export function canonicalRef(ref: string): string {
  try {
    return formatReference(parseRegistryReference(ref));
  } catch {
    return ref;
  }
}

export class ImageCatalog {
  private byDigest: Map<string, ImageRiskInput> | undefined;
  private byRef = new Map<string, ImageRiskInput>();

  constructor(
    private readonly db: Kysely<Database>,
    /** The time slice a load runs in (slice.ts): 15,000 rows put at once held the event loop ~100 ms. */
    private readonly slice: () => TimeSlice = () => new TimeSlice(),
  ) {}

  private readonly facts = new Map<string, ImageFacts>();
  /** Digests pushed since they were read: read again before the next lookup. */
  private readonly stale = new Set<string>();

  /** Bumped by invalidate(): a load that yielded meanwhile does not install what it read. */
  private generation = 0;
  private loading = false;

  invalidate(): void {
    this.generation++;
    this.byDigest = undefined;
    this.stale.clear();
    this.facts.clear();
  }

  /** These images were pushed (or changed): only their rows are read again, at the next lookup. */
  refresh(digests: Iterable<string>): void {
    for (const d of digests) {
      this.facts.delete(d);
      if (this.byDigest || this.loading) this.stale.add(d);
    }
  }

  /**
   * What the image subject knows about a deployment's image (vulnerabilities, components,
   * signature, age…), for deploy policies over `image.*` fields; built from the stored scan.
   */
  async factsFor(ref: string, now: Date): Promise<ImageFacts | undefined> {
    const known = await this.lookup(ref);
    if (!known) return undefined;
    const cached = this.facts.get(known.digest);
    if (cached) return cached;
    const row = await this.db.selectFrom('images').select(['digest', 'refs', 'os', 'created', 'layers', 'signature']).where('digest', '=', known.digest).executeTakeFirst();
    if (!row) return undefined;
    const findings = await readAllImageFindings(this.db, known.digest);
    const facts = storedImageFacts(row, packagesFromCycloneDx(fromJson(await readImageSbom(this.db, known.digest), null)).packages, findings, now);
    if (this.facts.size >= FACTS_CACHE) this.facts.delete(this.facts.keys().next().value!);
    this.facts.set(known.digest, facts);
    return facts;
  }

  async lookup(ref: string): Promise<ImageRiskInput | undefined> {
    while (!this.byDigest) await this.load();
    if (this.stale.size > 0) await this.reloadStale();
    // An invalidate() during the reload's await leaves no catalog: load it again.
    while (!this.byDigest) await this.load();
    const at = ref.indexOf('@');
    if (at >= 0) {
      const hit = this.byDigest.get(ref.slice(at + 1));
      if (hit) return { ...hit, name: ref };
    }
    const hit = this.byRef.get(canonicalRef(ref));
    return hit ? { ...hit, name: ref } : undefined;
  }

  private async load(): Promise<void> {
    this.stale.clear();
    const generation = this.generation;
    this.loading = true;
    try {
      await this.loadRows(generation);
    } finally {
      this.loading = false;
    }
  }

  private async loadRows(generation: number): Promise<void> {
    const rows = await this.db.selectFrom('images').select(['digest', 'refs', 'created', 'signature', 'summary']).execute();
    // Built aside and swapped in whole: an invalidate() or refresh() while the load yields must
    // not find (or drop) half a catalog.
    const byDigest = new Map<string, ImageRiskInput>();
    const byRef = new Map<string, ImageRiskInput>();
    const slice = this.slice();
    for (const r of rows) {
      this.put(r, byDigest, byRef);
      await slice.check();
    }
    if (generation !== this.generation) return;
    this.byDigest = byDigest;
    this.byRef = byRef;
  }

  private async reloadStale(): Promise<void> {
    const digests = [...this.stale];
    this.stale.clear();
    // The maps this reload updates: an invalidate() meanwhile replaces them, and these are dropped.
    const byDigest = this.byDigest!;
    const byRef = this.byRef;
    const found = new Set<string>();
    for (const part of chunks(digests, 500)) {
      for (const r of await this.db.selectFrom('images').select(['digest', 'refs', 'created', 'signature', 'summary']).where('digest', 'in', part).execute()) {
        found.add(r.digest);
        this.put(r, byDigest, byRef);
      }
    }
    for (const d of digests) {
      if (found.has(d)) continue;
      byDigest.delete(d);
      for (const [ref, input] of byRef) if (input.digest === d) byRef.delete(ref);
    }
  }

  /** Records an image row; its references now name it (the latest push of a reference wins). */
  private put(r: { digest: string; refs: string; created: string | null; signature: string | null; summary: string }, byDigest: Map<string, ImageRiskInput>, byRef: Map<string, ImageRiskInput>): void {
    const summary = fromJson<ImageSummary>(r.summary, { counts: {}, fixable: 0, knownExploited: 0 });
    const vuln = summary.counts.vulnerability ?? {};
    const signature = fromJson<{ verified?: boolean } | null>(r.signature, null);
    const input: ImageRiskInput = {
      digest: r.digest,
      ...(r.created ? { created: r.created } : {}),
      ...(signature ? { signed: signature.verified === true } : {}),
      secrets: Object.values(summary.counts.secret ?? {}).reduce((a, b) => a + b, 0),
      vulns: { critical: vuln.CRITICAL ?? 0, high: vuln.HIGH ?? 0, medium: vuln.MEDIUM ?? 0, low: vuln.LOW ?? 0, fixable: summary.fixable, knownExploited: summary.knownExploited },
    };
    byDigest.set(r.digest, input);
    for (const ref of fromJson<string[]>(r.refs, [])) byRef.set(canonicalRef(ref), input);
  }
}
