/**
 * The `workload` subject: Kubernetes objects (manifests or a live cluster). Each object is
 * a root node; containers of its pod template are the `container` element level. Findings
 * point at the file and line of the offending field when the object came from a file.
 */
import type { ResourceRef } from '../findings/finding.js';
import type { FieldPath } from '../policy/fields.js';
import type { SubjectAdapter, SubjectNode } from '../policy/subject.js';
import type { EvalContext, EvalSettings } from './fields/context.js';
import { workloadFieldRegistry } from './fields/index.js';
import { UserError } from '../util/errors.js';
import { loadManifests, parseManifests, type ManifestObject } from './manifests.js';
import { buildIndex, type ObjectIndex } from './object-index.js';
import { PSS_LATEST_MINOR } from './pss/evaluate.js';
import { containersOf, podTemplateOf } from './workloads.js';
import type { ImageFacts } from '../vuln/image-facts.js';

export interface WorkloadSubject {
  objects: readonly ManifestObject[];
  /** Cross-object index (built from `objects` when absent). */
  index?: ObjectIndex;
  settings?: EvalSettings;
  /** Cluster name for scope.clusters (live mode); manifests have none. */
  cluster?: string;
  /** The facts of an image by reference, when known (a scan, Central's inventory): image.* fields. */
  imageFacts?: (image: string) => ImageFacts | undefined;
}

function resourceOf(object: ManifestObject, path: FieldPath, container?: string): ResourceRef {
  const pos = object.positionOf(path);
  const k8s = { kind: object.kind, namespace: object.namespace, name: object.name, container };
  // Objects read from a live cluster have no file: the finding names the object only.
  return pos.file
    ? { k8s: { ...k8s, file: pos.file, line: pos.line }, file: { path: pos.file, line: pos.line, column: pos.column } }
    : { k8s };
}

const where = (o: ManifestObject) => `${o.kind} ${o.namespace ? `${o.namespace}/` : ''}${o.name}`;

export function workloadSubject(): SubjectAdapter<WorkloadSubject, EvalContext> {
  return {
    kind: 'workload',
    description: 'a Kubernetes object (manifest or live) with its pod template and containers',
    defaultStage: 'deploy',
    findingKind: 'misconfiguration',
    fields: workloadFieldRegistry(),
    rootTarget: 'object',
    targetDocs: { object: 'the whole object', container: 'each init, regular and ephemeral container' },
    scopeKeys: ['clusters', 'namespaces', 'excludeNamespaces', 'kinds', 'labelSelector', 'images'],
    *roots(subject) {
      const index = subject.index ?? buildIndex(subject.objects);
      const settings = subject.settings ?? { pss: { level: 'baseline', minor: PSS_LATEST_MINOR } };
      for (const object of subject.objects) {
        const pod = podTemplateOf(object);
        const containers = pod ? containersOf(pod) : [];
        const node: SubjectNode<EvalContext> & { containers: typeof containers } = {
          ctx: { object, pod, index, settings, imageFacts: subject.imageFacts },
          scope: {
            cluster: subject.cluster,
            namespace: object.namespace ?? 'default',
            kind: object.kind,
            labels: object.labels,
            images: containers.map((c) => String(c.container.image ?? '')),
          },
          label: where(object),
          identity: `${object.kind}/${object.namespace ?? ''}/${object.name}`,
          resource: (path) => resourceOf(object, path ?? []),
          containers,
        };
        yield node;
      }
    },
    // Plain data (a policy test's inline input): one object or a list of them.
    fromData(data, file) {
      const list = Array.isArray(data) ? data : [data];
      const { objects, notes } = parseManifests(list.map((o) => JSON.stringify(o)).join('\n---\n'), file);
      const err = notes.find((n) => n.level === 'error');
      if (err) throw new UserError(`${file}: ${err.message}`, 'bad-input');
      if (objects.length === 0) throw new UserError(`${file}: no Kubernetes object (a mapping with apiVersion, kind and metadata.name)`, 'bad-input');
      return { objects };
    },
    // Files keep their positions, so findings point at the offending line.
    async fromFile(file) {
      const { objects, notes } = await loadManifests([file]);
      const err = notes.find((n) => n.level === 'error');
      if (err) throw new UserError(`${err.file}${err.line ? `:${err.line}` : ''}: ${err.message}`, 'bad-input');
      return { objects };
    },
    elements: {
      container: (root) => {
        const { object, pod, index, settings, imageFacts } = root.ctx;
        const containers = (root as SubjectNode<EvalContext> & { containers?: ReturnType<typeof containersOf> }).containers ?? [];
        return containers.map((container): SubjectNode<EvalContext> => {
          const name = String(container.container.name ?? '');
          const image = String(container.container.image ?? '');
          return {
            ctx: { object, pod, container, index, settings, imageFacts },
            scope: { ...root.scope, images: [image] },
            label: `${where(object)} container "${name}"`,
            identity: `${object.kind}/${object.namespace ?? ''}/${object.name}/${name}`,
            resource: (path) => resourceOf(object, path ?? container.path, name),
            data: { image },
          };
        });
      },
    },
  };
}
