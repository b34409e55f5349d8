/**
 * The `image` policy subject (ImageFacts, src/vuln/image-facts.ts) rebuilt from what
 * Central stores about an image: its row (refs, OS, created, layers, signature), its SBOM's
 * packages and its findings. Nothing is pulled.
 *
 * Hygiene facts are not stored as such, only the hygiene findings the scan reported; they
 * are rebuilt from those when the scan reported any (runs as root, package managers and
 * attacker tools with their paths, wasted bytes). Setuid files are never reported as
 * findings, so `image.setuidFiles` reads empty here.
 */
import type { Finding } from '../../findings/finding.js';
import { parseReference } from '../../image/reference.js';
import type { Package } from '../../inventory/package.js';
import { componentFacts, secretAndCheckFacts, vulnerabilityFacts, type ImageFacts, type ImageHygiene } from '../../vuln/image-facts.js';
import { fromJson } from '../store/json.js';
import type { ImagesTable } from '../store/schema.js';

export type StoredImageRow = Pick<ImagesTable, 'digest' | 'refs' | 'os' | 'created' | 'layers' | 'signature'>;

/** The reference policies see (scope.images globs match it): the first registry reference, else the digest. */
function nameOf(digest: string, refs: string[]): { ref: string; registry?: string; repository?: string; tag?: string } {
  for (const ref of refs) {
    try {
      const r = parseReference(ref);
      if (r.transport === 'docker') return { ref, registry: r.registry, repository: r.repository, ...(r.tag ? { tag: r.tag } : {}) };
    } catch {
      /* not a registry reference (oci:…, a file): try the next */
    }
  }
  return { ref: refs[0] ?? digest };
}

function hygieneFrom(findings: readonly Finding[]): ImageHygiene | undefined {
  const hygiene = findings.filter((f) => f.kind === 'hygiene');
  if (hygiene.length === 0) return undefined;
  const paths = (id: string) => hygiene.filter((f) => f.id === id).flatMap((f) => (Array.isArray(f.data?.paths) ? f.data.paths.map(String) : []));
  const root = hygiene.find((f) => f.id === 'GH-HYG-ROOT');
  return {
    user: root ? (/runs as (\S+)$/.exec(root.title)?.[1] ?? '') : '',
    runsAsRoot: root !== undefined,
    packageManagers: paths('GH-HYG-PACKAGE-MANAGER'),
    attackerTools: paths('GH-HYG-ATTACKER-TOOL'),
    wastedBytes: hygiene.filter((f) => f.id === 'GH-HYG-WASTE').reduce((n, f) => n + (typeof f.data?.wastedBytes === 'number' ? f.data.wastedBytes : 0), 0),
    setuidFiles: [],
  };
}

/** `components`: the packages' component facts when the caller holds them already (re-match: once per package list; read-only). */
export function storedImageFacts(row: StoredImageRow, packages: readonly Package[], findings: readonly Finding[], now: Date, components?: ImageFacts['components']): ImageFacts {
  const { secrets, checks } = secretAndCheckFacts(findings);
  const facts: ImageFacts = {
    now: now.toISOString(),
    ...nameOf(row.digest, fromJson<string[]>(row.refs, [])),
    digest: row.digest,
    vulnerabilities: vulnerabilityFacts(findings),
    components: components ?? componentFacts({ packages: [...packages], warnings: [] }),
    secrets,
    checks,
  };
  if (row.created) facts.created = row.created;
  const os = fromJson<{ family?: string; version?: string } | null>(row.os, null);
  if (os?.family) facts.os = { id: os.family, ...(os.version ? { versionId: os.version } : {}) };
  const layers = fromJson<{ digest: string; createdBy?: string }[]>(row.layers, []);
  if (layers.length) facts.layers = layers.map((l, index) => ({ index, digest: l.digest, ...(l.createdBy ? { createdBy: l.createdBy } : {}) }));
  const hygiene = hygieneFrom(findings);
  if (hygiene) facts.hygiene = hygiene;
  const sig = fromJson<{ verified?: boolean; signers?: string[]; message?: string } | null>(row.signature, null);
  if (sig) facts.signature = { signed: sig.verified === true, trusted: sig.verified === true, signers: sig.signers ?? [], ...(sig.message ? { reason: sig.message } : {}) };
  return facts;
}
