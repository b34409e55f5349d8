/**
 * The container images of an admitted object — a Pod or any workload's pod template
 * (workload-kinds.ts says where each kind keeps it) — with the JSON pointer of each image
 * field, so a verdict can become a JSON patch on exactly that field.
 */
import { getIn } from '../kube/workloads.js';
import { workloadKindOf, type WorkloadKind } from '../kube/workload-kinds.js';

export interface ContainerImage {
  /** The image as written in the object. */
  image: string;
  /** JSON pointer (RFC 6901) of the image field, e.g. /spec/template/spec/containers/0/image. */
  path: string;
  /** Container name, for messages. */
  container: string;
}

/** Where a kind's pod spec is: its path and the JSON pointer of it (built once per kind). */
const specOf = new Map<WorkloadKind, { path: string[]; pointer: string }>();

/**
 * Images of every container, init container and ephemeral container; [] for objects that
 * run no pods. Per request at admission: the pointers are built from the kind's spec
 * pointer and the list's name and index (none of which needs escaping), with no path arrays.
 */
export function containerImagesOf(object: Record<string, unknown>): ContainerImage[] {
  const kind = typeof object.kind === 'string' ? workloadKindOf(object.kind) : undefined;
  if (!kind || kind.spec !== 'pod') return [];
  const apiVersion = typeof object.apiVersion === 'string' ? object.apiVersion : '';
  const slash = apiVersion.indexOf('/');
  const group = slash < 0 ? '' : apiVersion.slice(0, slash);
  if (!kind.groups.includes(group)) return [];
  let at = specOf.get(kind);
  if (!at) {
    const path = [...kind.template, 'spec'];
    specOf.set(kind, (at = { path, pointer: `/${path.map(pointerToken).join('/')}` }));
  }
  const spec = getIn(object, at.path) as Record<string, unknown> | undefined;
  if (!spec || typeof spec !== 'object' || Array.isArray(spec)) return [];
  const out: ContainerImage[] = [];
  // The lists and order containersOf (src/kube/workloads.ts) walks.
  for (const list of CONTAINER_LISTS) {
    const containers = spec[list];
    if (!Array.isArray(containers)) continue;
    for (let index = 0; index < containers.length; index++) {
      const c = containers[index] as Record<string, unknown> | null;
      if (!c || typeof c !== 'object') continue;
      const image = c.image;
      if (typeof image !== 'string' || image === '') continue;
      out.push({ image, path: `${at.pointer}/${list}/${index}/image`, container: String(c.name ?? `${list}[${index}]`) });
    }
  }
  return out;
}

const CONTAINER_LISTS = ['initContainers', 'containers', 'ephemeralContainers'] as const;

/** RFC 6901 escaping of one path segment. */
function pointerToken(segment: string | number): string {
  return String(segment).replace(/~/g, '~0').replace(/\//g, '~1');
}
