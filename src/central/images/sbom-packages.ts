/**
 * The package list of a stored CycloneDX SBOM, as the vulnerability matcher takes it.
 *
 * Hand-written because nothing reads CycloneDX back: src/inventory only writes it, and
 * @cyclonedx/cyclonedx-library has serializers but no JSON deserializer. What matching
 * needs is small and is exactly what src/inventory/sbom/cyclonedx.ts writes: each
 * component's name, version and purl, and its `gatehouse:package:*` properties (ecosystem,
 * source package, location, layer), plus the operating-system component (id, VERSION_ID).
 * SBOMs from other tools lack those properties: the ecosystem and the source package are
 * then taken from the purl (type, namespace and the `upstream` qualifier).
 */
import { PackageURL } from 'packageurl-js';
import type { OsInfo, Package } from '../../inventory/package.js';

interface CdxProperty { name?: unknown; value?: unknown }
interface CdxComponent {
  type?: unknown;
  name?: unknown;
  version?: unknown;
  description?: unknown;
  purl?: unknown;
  licenses?: { license?: { id?: unknown; name?: unknown }; expression?: unknown }[];
  properties?: CdxProperty[];
  components?: CdxComponent[];
}

export interface SbomPackages {
  os?: OsInfo;
  packages: Package[];
}

const PREFIX = 'gatehouse:package:';

/** purl type (and namespace for deb/rpm) → the ecosystem name the matcher and feeds use. */
const ECOSYSTEM_OF_PURL: Record<string, string> = {
  apk: 'Alpine', npm: 'npm', pypi: 'PyPI', golang: 'Go', maven: 'Maven', cargo: 'crates.io',
  gem: 'RubyGems', nuget: 'NuGet', composer: 'Packagist', hex: 'Hex', pub: 'Pub', swift: 'SwiftURL',
};
const DEB_VENDORS: Record<string, string> = { debian: 'Debian', ubuntu: 'Ubuntu' };

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

function parsePurl(purl: string | undefined): PackageURL | undefined {
  if (!purl) return undefined;
  try {
    return PackageURL.fromString(purl);
  } catch {
    return undefined;
  }
}

function ecosystemFromPurl(p: PackageURL | undefined): string | undefined {
  if (!p) return undefined;
  if (p.type === 'deb') return DEB_VENDORS[p.namespace ?? ''] ?? 'Debian';
  if (p.type === 'rpm') return p.namespace ?? 'rpm';
  return ECOSYSTEM_OF_PURL[p.type];
}

function licensesOf(c: CdxComponent): string[] | undefined {
  const out: string[] = [];
  for (const l of c.licenses ?? []) {
    const v = str(l.license?.id) ?? str(l.license?.name) ?? str(l.expression);
    if (v) out.push(v);
  }
  return out.length ? out : undefined;
}

function toPackage(c: CdxComponent): Package | undefined {
  const name = str(c.name);
  if (!name) return undefined;
  const props = new Map<string, string>();
  for (const p of c.properties ?? []) {
    const k = str(p.name);
    if (k?.startsWith(PREFIX) && typeof p.value === 'string') props.set(k.slice(PREFIX.length), p.value);
  }
  const purlText = str(c.purl);
  // A Gatehouse SBOM carries everything in its properties: the purl is parsed only for others'.
  const purl = props.has('ecosystem') ? undefined : parsePurl(purlText);
  const ecosystem = props.get('ecosystem') ?? ecosystemFromPurl(purl);
  if (!ecosystem) return undefined; // nothing to match it under (a file, an unknown purl type)
  const layer = props.get('layer');
  const pkg: Package = {
    ecosystem,
    name,
    version: str(c.version) ?? '',
    purl: purlText ?? '',
    location: {
      path: props.get('location') ?? '',
      ...(layer !== undefined && /^\d+$/.test(layer) ? { layer: Number(layer) } : {}),
      ...(props.get('layerDigest') ? { layerDigest: props.get('layerDigest') } : {}),
    },
    analyzer: props.get('analyzer') ?? 'sbom',
  };
  const sourceName = props.get('sourceName') ?? purl?.qualifiers?.upstream?.split('@')[0];
  const sourceVersion = props.get('sourceVersion') ?? purl?.qualifiers?.upstream?.split('@')[1];
  if (sourceName) pkg.source = { name: sourceName, ...(sourceVersion ? { version: sourceVersion } : {}) };
  const arch = props.get('arch') ?? purl?.qualifiers?.arch;
  if (arch) pkg.arch = arch;
  const epoch = props.get('epoch');
  if (epoch && /^\d+$/.test(epoch)) pkg.epoch = Number(epoch);
  const licenses = licensesOf(c);
  if (licenses) pkg.licenses = licenses;
  return pkg;
}

/** The OS and packages of a CycloneDX BOM (nested components included). */
export function packagesFromCycloneDx(bom: unknown): SbomPackages {
  const out: SbomPackages = { packages: [] };
  const walk = (list: unknown) => {
    if (!Array.isArray(list)) return;
    for (const raw of list as CdxComponent[]) {
      if (!raw || typeof raw !== 'object') continue;
      if (raw.type === 'operating-system') {
        const id = str(raw.name);
        if (id && !out.os) out.os = { id: id.toLowerCase(), ...(str(raw.version) ? { versionId: str(raw.version) } : {}), ...(str(raw.description) ? { prettyName: str(raw.description) } : {}) };
      } else {
        const pkg = toPackage(raw);
        if (pkg) out.packages.push(pkg);
      }
      walk(raw.components);
    }
  };
  walk((bom as { components?: unknown } | null)?.components);
  return out;
}
