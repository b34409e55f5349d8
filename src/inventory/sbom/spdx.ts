/**
 * SPDX 2.3 JSON, written by hand: no maintained npm library writes SPDX 2.3 documents.
 * One package per inventory package (plus the scanned target, which the document
 * DESCRIBES and which CONTAINS each package); licences that are not valid SPDX
 * expressions become LicenseRef-s with their text in hasExtractedLicensingInfos.
 */
import { createHash } from 'node:crypto';
import type { Package } from '../package.js';
import { isSpdxExpression, spdxIdFor } from './licenses.js';
import type { SbomInput } from './target.js';

export function writeSpdx({ target, inventory, toolVersion, now }: SbomInput): string {
  const extracted = new Map<string, string>();
  const licenseRef = (text: string): string => {
    const id = `LicenseRef-${createHash('sha256').update(text).digest('hex').slice(0, 12)}`;
    extracted.set(id, text);
    return id;
  };
  const declared = (p: Package): string => {
    if (!p.licenses?.length) return 'NOASSERTION';
    const parts = p.licenses.map((l) => spdxIdFor(l) ?? (isSpdxExpression(l) ? (/\s/.test(l) ? `(${l})` : l) : licenseRef(l)));
    return parts.join(' AND ');
  };
  const rootId = 'SPDXRef-Target';
  const packages: any[] = [
    {
      SPDXID: rootId,
      name: target.name,
      ...(target.digest ? { versionInfo: target.digest } : {}),
      downloadLocation: 'NOASSERTION',
      filesAnalyzed: false,
      primaryPackagePurpose: target.kind === 'image' ? 'CONTAINER' : 'SOURCE',
    },
  ];
  if (inventory.os) {
    packages.push({
      SPDXID: 'SPDXRef-OperatingSystem',
      name: inventory.os.id,
      ...(inventory.os.versionId ? { versionInfo: inventory.os.versionId } : {}),
      downloadLocation: 'NOASSERTION',
      filesAnalyzed: false,
      primaryPackagePurpose: 'OPERATING-SYSTEM',
    });
  }
  inventory.packages.forEach((p, i) => {
    packages.push({
      SPDXID: `SPDXRef-Package-${i}`,
      name: p.name,
      versionInfo: p.version,
      downloadLocation: 'NOASSERTION',
      filesAnalyzed: false,
      licenseConcluded: 'NOASSERTION',
      licenseDeclared: declared(p),
      copyrightText: 'NOASSERTION',
      sourceInfo: `found by gatehouse ${p.analyzer} in ${p.location.path}${p.location.layer !== undefined ? ` (layer ${p.location.layer})` : ''}`,
      primaryPackagePurpose: 'LIBRARY',
      externalRefs: [{ referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: p.purl }],
    });
  });
  const relationships = [
    { spdxElementId: 'SPDXRef-DOCUMENT', relationshipType: 'DESCRIBES', relatedSpdxElement: rootId },
    ...packages.slice(1).map((p) => ({ spdxElementId: rootId, relationshipType: 'CONTAINS', relatedSpdxElement: p.SPDXID })),
  ];
  const created = (now ?? new Date()).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const doc = {
    spdxVersion: 'SPDX-2.3',
    dataLicense: 'CC0-1.0',
    SPDXID: 'SPDXRef-DOCUMENT',
    name: target.name,
    documentNamespace: `https://gatehouse.invalid/spdx/${target.kind}/${encodeURIComponent(target.name)}-${crypto.randomUUID()}`,
    creationInfo: { created, creators: [`Tool: gatehouse-${toolVersion}`] },
    documentDescribes: [rootId],
    packages,
    relationships,
    ...(extracted.size
      ? { hasExtractedLicensingInfos: [...extracted].map(([licenseId, extractedText]) => ({ licenseId, extractedText, name: extractedText.slice(0, 80) })) }
      : {}),
  };
  return JSON.stringify(doc, null, 2) + '\n';
}
