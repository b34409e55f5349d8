/**
 * The `connection` field set: the identity of the side that connects (`source.*`: its
 * workload, service account, SPIFFE ID, labels, images with signature, vulnerabilities and
 * build provenance) and where it connects to (`destination.*`). All fields read the root
 * target `connection`.
 *
 * Per-image lists (`source.build.*`, `source.image.*`): one value per image the workload
 * runs. An image whose build attribute is unknown gives null beside the others' values, so
 * `notEquals main` holds for it ("every image built from main" is a policy over
 * `source.build.branch notEquals main`); when no image has the attribute the field is
 * empty, so `exists` is false and the negative operators hold.
 */
import { FieldRegistry, hit, type FieldDef, type FieldHit } from '../policy/fields.js';
import type { ImageIdentity, VulnerabilityCounts } from '../identity/types.js';
import type { ConnectionSubject } from './connection.js';

export interface ConnectionContext {
  connection: ConnectionSubject;
}

type Def = FieldDef<ConnectionContext>;
const one = (v: unknown, path: (string | number)[]): FieldHit[] => (v === undefined || v === null || v === '' ? [] : [hit(v, path)]);
const field = (name: string, type: Def['type'], description: string, extract: Def['extract']): Def => ({ name, type, description, target: 'connection', extract });

const labelList = (labels: Record<string, string> | undefined, path: string[]): FieldHit[] => Object.entries(labels ?? {}).map(([k, v]) => hit(`${k}=${v}`, [...path, k]));

function perImage(name: 'revision' | 'repository' | 'branch') {
  return ({ connection: c }: ConnectionContext): FieldHit[] => {
    const images = c.source.images;
    if (!images.length) return one(c.source.build[name], ['source', 'build', name]);
    if (!images.some((i) => i.build[name])) return [];
    return images.map((i, n) => hit(i.build[name] ?? null, ['source', 'images', n, 'build', name], i.build[name] ? undefined : `image ${i.ref} has no ${name}`));
  };
}

const imageList = (pick: (i: ImageIdentity) => unknown) => ({ connection: c }: ConnectionContext): FieldHit[] =>
  c.source.images.map((i) => pick(i)).map((v, n) => hit(v, ['source', 'images', n])).filter((h) => h.value !== undefined);

const vuln = (k: keyof VulnerabilityCounts): Def =>
  field(`source.vulnerabilities.${k}`, 'number', `${k} vulnerabilities summed over the source's scanned images (no value when none was scanned; see source.image.scanned)`,
    ({ connection: c }) => (c.source.vulnerabilities ? [hit(c.source.vulnerabilities[k], ['source', 'vulnerabilities', k])] : []));

export const connectionFields: Def[] = [
  field('source.cluster', 'string', 'cluster of the connecting workload', ({ connection: c }) => one(c.source.workload.cluster ?? c.cluster, ['source', 'workload', 'cluster'])),
  field('source.host', 'string', 'host of the connecting plain-host container', ({ connection: c }) => one(c.source.workload.host, ['source', 'workload', 'host'])),
  field('source.namespace', 'string', 'namespace of the connecting workload', ({ connection: c }) => one(c.source.workload.namespace, ['source', 'workload', 'namespace'])),
  field('source.kind', 'string', 'kind of the connecting workload (Deployment, Container, …)', ({ connection: c }) => one(c.source.workload.kind, ['source', 'workload', 'kind'])),
  field('source.workload', 'string', 'name of the connecting workload', ({ connection: c }) => one(c.source.workload.name, ['source', 'workload', 'name'])),
  field('source.serviceAccount', 'string', "the connecting workload's service account", ({ connection: c }) => one(c.source.serviceAccount, ['source', 'serviceAccount'])),
  field('source.spiffeId', 'string', "the connecting workload's SPIFFE ID", ({ connection: c }) => one(c.source.spiffeId, ['source', 'spiffeId'])),
  field('source.labels', 'list', 'labels of the connecting workload, each as KEY=VALUE', ({ connection: c }) => labelList(c.source.labels, ['source', 'labels'])),
  field('source.image.refs', 'list', 'references of the images the source runs', imageList((i) => i.ref)),
  field('source.image.digests', 'list', 'digests of the images the source runs (when known)', imageList((i) => i.digest)),
  field('source.image.signature', 'list', 'signature status of each image: verified, unverified or unknown (never checked)', imageList((i) => i.signature)),
  field('source.image.signed', 'boolean', 'every image the source runs has a verified signature', ({ connection: c }) => [hit(c.source.images.length > 0 ? c.source.images.every((i) => i.signature === 'verified') : c.source.signature === 'verified', ['source', 'signature'])]),
  field('source.image.signers', 'list', 'signers of the verified signatures of the source\'s images', ({ connection: c }) => c.source.signers.map((s, n) => hit(s, ['source', 'signers', n]))),
  field('source.image.scanned', 'boolean', 'every image the source runs was scanned for vulnerabilities', ({ connection: c }) => [hit(c.source.scanned, ['source', 'scanned'])]),
  vuln('critical'), vuln('high'), vuln('medium'), vuln('low'), vuln('unknown'),
  field('source.build.revision', 'list', 'source commit of each image (org.opencontainers.image.revision or an equivalent; null for an image with none)', perImage('revision')),
  field('source.build.repository', 'list', 'source repository of each image (org.opencontainers.image.source or an equivalent; null for an image with none)', perImage('repository')),
  field('source.build.branch', 'list', 'branch each image was built from (gatehouse.dev/branch, io.openshift.build.commit.ref, or org.opencontainers.image.ref.name=refs/heads/NAME; null for an image with none)', perImage('branch')),
  field('destination.cluster', 'string', 'cluster of the destination', ({ connection: c }) => one(c.destination.cluster ?? c.cluster, ['destination', 'cluster'])),
  field('destination.host', 'string', 'host of a plain-host destination', ({ connection: c }) => one(c.destination.host, ['destination', 'host'])),
  field('destination.namespace', 'string', 'namespace of the destination', ({ connection: c }) => one(c.destination.namespace, ['destination', 'namespace'])),
  field('destination.kind', 'string', 'kind of the destination workload', ({ connection: c }) => one(c.destination.kind, ['destination', 'kind'])),
  field('destination.workload', 'string', 'name of the destination workload', ({ connection: c }) => one(c.destination.workload, ['destination', 'workload'])),
  field('destination.labels', 'list', 'labels of the destination workload, each as KEY=VALUE', ({ connection: c }) => labelList(c.destination.labels, ['destination', 'labels'])),
  field('destination.port', 'number', 'destination port', ({ connection: c }) => one(c.destination.port, ['destination', 'port'])),
  field('destination.protocol', 'string', 'TCP, UDP or SCTP', ({ connection: c }) => one(c.destination.protocol, ['destination', 'protocol'])),
  field('destination.spiffeId', 'string', "the destination's SPIFFE ID", ({ connection: c }) => one(c.destination.spiffeId, ['destination', 'spiffeId'])),
  field('destination.external', 'boolean', 'the destination is outside the known workloads (an address or DNS name)', ({ connection: c }) => [hit(c.destination.external === true, ['destination', 'external'])]),
  field('destination.address', 'string', 'IP address or DNS name of the destination, when known', ({ connection: c }) => one(c.destination.address, ['destination', 'address'])),
];

export function connectionFieldRegistry(): FieldRegistry<ConnectionContext> {
  return new FieldRegistry<ConnectionContext>(connectionFields);
}
