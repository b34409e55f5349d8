/** CycloneDX 1.6 JSON through @cyclonedx/cyclonedx-library (its normalizer enforces the spec). */
import { Enums, Models, Serialize, SPDX, Spec } from '@cyclonedx/cyclonedx-library';
import type { Finding } from '../../findings/finding.js';
import type { Package } from '../package.js';
import { isSpdxExpression, spdxIdFor } from './licenses.js';
import type { SbomInput } from './target.js';

export function writeCycloneDx({ target, inventory, toolVersion, now, vulnerabilities }: SbomInput): string {
  const bom = new Models.Bom();
  bom.serialNumber = `urn:uuid:${crypto.randomUUID()}`;
  bom.metadata.timestamp = now ?? new Date();
  bom.metadata.tools.components.add(
    new Models.Component(Enums.ComponentType.Application, 'gatehouse', { version: toolVersion, group: 'gatehouse' }),
  );
  bom.metadata.component = new Models.Component(
    target.kind === 'image' ? Enums.ComponentType.Container : Enums.ComponentType.File,
    target.name,
    { bomRef: 'target', version: target.digest },
  );
  if (inventory.os) {
    bom.components.add(
      new Models.Component(Enums.ComponentType.OperatingSystem, inventory.os.id, {
        bomRef: 'os',
        version: inventory.os.versionId,
        description: inventory.os.prettyName,
      }),
    );
  }
  const byKey = new Map<string, Models.Component>();
  inventory.packages.forEach((p, i) => {
    const c = component(p, i);
    bom.components.add(c);
    byKey.set(`${p.purl}|${p.location.path}`, c);
  });
  for (const f of vulnerabilities ?? []) {
    const affected = byKey.get(`${String(f.data?.purl)}|${f.resource.image?.path ?? f.resource.file?.path ?? ''}`);
    if (affected && f.kind === 'vulnerability') bom.vulnerabilities.add(vulnerability(f, affected));
  }
  const serializer = new Serialize.JsonSerializer(new Serialize.JSON.Normalize.Factory(Spec.Spec1dot6));
  return serializer.serialize(bom, { sortLists: true, space: 2 }) + '\n';
}

function component(p: Package, i: number): Models.Component {
  const c = new Models.Component(Enums.ComponentType.Library, p.name, {
    bomRef: `pkg-${i}`,
    version: p.version,
    purl: p.purl,
  });
  for (const l of p.licenses ?? []) {
    const id = spdxIdFor(l) ?? l;
    if (SPDX.isSupportedSpdxId(id)) c.licenses.add(new Models.SpdxLicense(id));
    else if (isSpdxExpression(l) && /\s(AND|OR|WITH)\s/.test(l)) c.licenses.add(new Models.LicenseExpression(l));
    else c.licenses.add(new Models.NamedLicense(l));
  }
  const prop = (name: string, value: string | number | undefined) => {
    if (value !== undefined && value !== '') c.properties.add(new Models.Property(`gatehouse:package:${name}`, String(value)));
  };
  prop('ecosystem', p.ecosystem);
  prop('analyzer', p.analyzer);
  prop('location', p.location.path);
  prop('layer', p.location.layer);
  prop('layerDigest', p.location.layerDigest);
  prop('sourceName', p.source?.name);
  prop('sourceVersion', p.source?.version);
  prop('arch', p.arch);
  prop('epoch', p.epoch);
  const archive = p.metadata?.archive;
  if (typeof archive === 'string') prop('archive', archive);
  return c;
}

const CVSS_METHODS: Record<string, Enums.Vulnerability.RatingMethod> = {
  '2.0': Enums.Vulnerability.RatingMethod.CVSSv2,
  '3.0': Enums.Vulnerability.RatingMethod.CVSSv3,
  '3.1': Enums.Vulnerability.RatingMethod.CVSSv31,
  '4.0': Enums.Vulnerability.RatingMethod.CVSSv4,
};

/** One scan finding as a CycloneDX vulnerability affecting its package's component. */
function vulnerability(f: Finding, affected: Models.Component): Models.Vulnerability.Vulnerability {
  const d = f.data ?? {};
  const date = (v: unknown) => (typeof v === 'string' && !Number.isNaN(Date.parse(v)) ? new Date(v) : undefined);
  const v = new Models.Vulnerability.Vulnerability({
    id: f.id,
    description: f.title,
    detail: f.detail,
    recommendation: typeof d.fixedVersion === 'string' ? `Upgrade ${String(d.package)} to ${d.fixedVersion}` : undefined,
    published: date(d.published),
    updated: date(d.modified),
    source: typeof d.feed === 'string' ? new Models.Vulnerability.Source({ name: d.feed }) : undefined,
  });
  const severity = f.severity.toLowerCase() as Enums.Vulnerability.Severity;
  const cvss = Array.isArray(d.cvss) ? (d.cvss as { version: string; vector: string; score: number; rating: string }[]) : [];
  for (const c of cvss) {
    v.ratings.add(new Models.Vulnerability.Rating({ score: c.score, severity: c.rating.toLowerCase() as Enums.Vulnerability.Severity, method: CVSS_METHODS[c.version], vector: c.vector }));
  }
  if (cvss.length === 0) v.ratings.add(new Models.Vulnerability.Rating({ severity }));
  for (const ref of f.references ?? []) {
    try {
      v.references.add(new Models.Vulnerability.Reference(ref, new Models.Vulnerability.Source({ url: ref })));
    } catch {
      /* a reference that is not a URL is left out */
    }
  }
  const affect = new Models.Vulnerability.Affect(affected.bomRef);
  affect.versions.add(new Models.Vulnerability.AffectedSingleVersion(String(d.installedVersion ?? affected.version ?? ''), { status: Enums.Vulnerability.AffectStatus.Affected }));
  v.affects.add(affect);
  return v;
}
