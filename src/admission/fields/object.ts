/**
 * A few facts of the submitted object (and of the old one on UPDATE and DELETE). The
 * object's workload posture is the workload subject's: the webhook evaluates that subject on
 * workloadObjectOf(request), so no workload field is repeated here.
 */
import { hit, type FieldHit } from '../../policy/fields.js';
import type { KubeObject } from '../review.js';
import type { AdmissionContext, FieldDef } from './context.js';

type Which = 'object' | 'oldObject';

const metaOf = (o: KubeObject): Record<string, unknown> =>
  o.metadata && typeof o.metadata === 'object' && !Array.isArray(o.metadata) ? (o.metadata as Record<string, unknown>) : {};

const mapOf = (v: unknown): Record<string, string> =>
  v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, string>) : {};

/** A field over one of the objects; not applicable (undefined) when the request has none. */
function over(which: Which, name: string, type: FieldDef['type'], description: string, read: (o: KubeObject) => FieldHit[]): FieldDef {
  return {
    name, target: 'request', type, description,
    extract: (ctx: AdmissionContext) => {
      const o = ctx.request[which];
      return o ? read(o) : undefined;
    },
  };
}

const scalar = (which: Which, key: 'kind' | 'apiVersion') => (o: KubeObject): FieldHit[] =>
  typeof o[key] === 'string' && o[key] !== '' ? [hit(o[key], ['request', which, key])] : [];

const metaString = (which: Which, key: 'name' | 'namespace') => (o: KubeObject): FieldHit[] => {
  const v = metaOf(o)[key];
  return typeof v === 'string' && v !== '' ? [hit(v, ['request', which, 'metadata', key])] : [];
};

const labels = (which: Which) => (o: KubeObject): FieldHit[] =>
  Object.entries(mapOf(metaOf(o).labels)).map(([k, v]) => hit(`${k}=${v}`, ['request', which, 'metadata', 'labels', k], `label ${k}=${v}`));

const annotationKeys = (which: Which) => (o: KubeObject): FieldHit[] =>
  Object.keys(mapOf(metaOf(o).annotations)).map((k) => hit(k, ['request', which, 'metadata', 'annotations', k], `annotation ${k}`));

const NONE = '(unset on DELETE, where only oldObject is sent)';

export const objectFields: FieldDef[] = [
  over('object', 'object.kind', 'string', `kind of request.object ${NONE}`, scalar('object', 'kind')),
  over('object', 'object.apiVersion', 'string', 'apiVersion of request.object', scalar('object', 'apiVersion')),
  over('object', 'object.name', 'string', 'metadata.name of request.object', metaString('object', 'name')),
  over('object', 'object.namespace', 'string', 'metadata.namespace of request.object', metaString('object', 'namespace')),
  over('object', 'object.labels', 'list', 'labels of request.object, each as "key=value"', labels('object')),
  over('object', 'object.annotations', 'list', 'annotation keys of request.object', annotationKeys('object')),
  over('oldObject', 'oldObject.kind', 'string', 'kind of request.oldObject (UPDATE and DELETE)', scalar('oldObject', 'kind')),
  over('oldObject', 'oldObject.labels', 'list', 'labels of request.oldObject, each as "key=value" (UPDATE and DELETE)', labels('oldObject')),
  over('oldObject', 'oldObject.annotations', 'list', 'annotation keys of request.oldObject (UPDATE and DELETE)', annotationKeys('oldObject')),
];
