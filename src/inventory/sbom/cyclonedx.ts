/** CycloneDX 1.6 JSON through @cyclonedx/cyclonedx-library (its normalizer enforces the spec). */
import { Enums, Models, Serialize, SPDX, Spec } from '@cyclonedx/cyclonedx-library';
import type { Package } from '../package.js';
import { isSpdxExpression } from './licenses.js';
import type { SbomInput } from './target.js';

export function writeCycloneDx({ target, inventory, toolVersion, now }: SbomInput): string {
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
  inventory.packages.forEach((p, i) => bom.components.add(component(p, i)));
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
    if (SPDX.isSupportedSpdxId(l)) c.licenses.add(new Models.SpdxLicense(l));
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
