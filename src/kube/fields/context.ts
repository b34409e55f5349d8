/** What Kubernetes fields read: one object, its pod template and container, and the whole set. */
import type { FieldDef as PolicyFieldDef } from '../../policy/fields.js';
import type { ManifestObject } from '../manifests.js';
import type { ObjectIndex } from '../object-index.js';
import type { PssPolicy } from '../pss/evaluate.js';
import type { ContainerRef, PodTemplateRef } from '../workloads.js';
import type { ImageFacts } from '../../vuln/image-facts.js';

export interface EvalSettings {
  /** Pod Security level/version used by pss.* fields. */
  pss: PssPolicy;
}

export interface EvalContext {
  object: ManifestObject;
  pod?: PodTemplateRef;
  container?: ContainerRef;
  index: ObjectIndex;
  settings: EvalSettings;
  /** The facts of an image by reference, when known (image.* fields); undefined: unknown. */
  imageFacts?: (image: string) => ImageFacts | undefined;
}

/** 'object' fields read the whole object; 'container' fields are evaluated per container. */
export type FieldDef = PolicyFieldDef<EvalContext> & { target: 'object' | 'container' };
