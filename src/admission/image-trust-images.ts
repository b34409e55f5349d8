/**
 * The container images of an admitted object — a Pod or any workload's pod template
 * (workload-kinds.ts says where each kind keeps it) — with the JSON pointer of each image
 * field, so a verdict can become a JSON patch on exactly that field.
 */
import { containersOf, getIn } from '../kube/workloads.js';
import { workloadKindOf } from '../kube/workload-kinds.js';

export interface ContainerImage {
  /** The image as written in the object. */
  image: string;
  /** JSON pointer (RFC 6901) of the image field, e.g. /spec/template/spec/containers/0/image. */
  path: string;
  /** Container name, for messages. */
  container: string;
}

/** Images of every container, init container and ephemeral container; [] for objects that run no pods. */
export function containerImagesOf(object: Record<string, unknown>): ContainerImage[] {
  const kind = typeof object.kind === 'string' ? workloadKindOf(object.kind) : undefined;
  if (!kind || kind.spec !== 'pod') return [];
  const apiVersion = typeof object.apiVersion === 'string' ? object.apiVersion : '';
  const group = apiVersion.includes('/') ? apiVersion.slice(0, apiVersion.indexOf('/')) : '';
  if (!kind.groups.includes(group)) return [];
  const specPath = [...kind.template, 'spec'];
  const spec = getIn(object, specPath);
  if (!spec || typeof spec !== 'object' || Array.isArray(spec)) return [];
  const out: ContainerImage[] = [];
  for (const ref of containersOf({ spec, metadata: {}, specPath, metadataPath: [] })) {
    const image = ref.container.image;
    if (typeof image !== 'string' || image === '') continue;
    out.push({ image, path: `/${[...ref.path, 'image'].map(pointerToken).join('/')}`, container: String(ref.container.name ?? `${ref.kind}[${ref.index}]`) });
  }
  return out;
}

/** RFC 6901 escaping of one path segment. */
function pointerToken(segment: string | number): string {
  return String(segment).replace(/~/g, '~0').replace(/\//g, '~1');
}
