/**
 * Where the submitted workload's pods may be scheduled: the node pinning a segregated node
 * pool needs (a nodeSelector or required node affinity, AND tolerations of the pool's
 * taint). Read from the pod template of request.object (a Pod, a Deployment's template, a
 * CronJob's…); not applicable to objects without one, nor to DELETE and CONNECT.
 */
import { hit, type FieldHit } from '../../policy/fields.js';
import { workloadKindOf } from '../../kube/workload-kinds.js';
import type { AdmissionContext, FieldDef } from './context.js';

type Json = Record<string, unknown>;
const isMap = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const listOf = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

interface PodSpecRef {
  spec: Json;
  /** JSON path of the spec, for findings. */
  path: (string | number)[];
}

/** The pod spec of request.object, when its kind has a pod template. */
export function podSpecOf(ctx: AdmissionContext): PodSpecRef | undefined {
  const { request } = ctx;
  if (request.operation !== 'CREATE' && request.operation !== 'UPDATE') return undefined;
  const o = request.object;
  if (!o || typeof o.kind !== 'string') return undefined;
  const kind = workloadKindOf(o.kind);
  if (!kind || kind.spec !== 'pod') return undefined;
  let v: unknown = o;
  for (const k of kind.template) v = isMap(v) ? v[k] : undefined;
  const spec = isMap(v) ? v.spec : undefined;
  return isMap(spec) ? { spec, path: ['request', 'object', ...kind.template, 'spec'] } : undefined;
}

function podField(name: string, type: FieldDef['type'], description: string, read: (p: PodSpecRef) => FieldHit[]): FieldDef {
  return {
    name, target: 'request', type, description,
    extract: (ctx) => {
      const p = podSpecOf(ctx);
      return p ? read(p) : undefined;
    },
  };
}

/** Required node-affinity terms' `key=value` pairs (operator In, each value). */
function requiredAffinity(spec: Json): string[] {
  const na = isMap(spec.affinity) && isMap(spec.affinity.nodeAffinity) ? spec.affinity.nodeAffinity : undefined;
  const req = na && isMap(na.requiredDuringSchedulingIgnoredDuringExecution) ? na.requiredDuringSchedulingIgnoredDuringExecution : undefined;
  const out: string[] = [];
  for (const term of listOf(req?.nodeSelectorTerms)) {
    if (!isMap(term)) continue;
    for (const e of listOf(term.matchExpressions)) {
      if (isMap(e) && e.operator === 'In' && typeof e.key === 'string') for (const val of listOf(e.values)) out.push(`${e.key}=${String(val)}`);
    }
  }
  return out;
}

const nodeSelectorOf = (spec: Json): string[] =>
  isMap(spec.nodeSelector) ? Object.entries(spec.nodeSelector).map(([k, v]) => `${k}=${String(v)}`) : [];

export const placementFields: FieldDef[] = [
  podField('placement.nodePinned', 'boolean', 'the pod template pins its pods to chosen nodes: a nodeSelector, a required node affinity or a nodeName', (p) => {
    const pinned = nodeSelectorOf(p.spec).length > 0 || requiredAffinity(p.spec).length > 0 || (typeof p.spec.nodeName === 'string' && p.spec.nodeName !== '');
    return [hit(pinned, p.path, pinned ? undefined : 'no nodeSelector, required node affinity or nodeName')];
  }),
  podField('placement.nodeSelector', 'list', 'node labels the pod template requires, each "key=value": nodeSelector entries and required node-affinity In terms', (p) =>
    [...nodeSelectorOf(p.spec), ...requiredAffinity(p.spec)].map((kv) => hit(kv, p.path, `requires node ${kv}`))),
  podField('placement.tolerations', 'list', 'taint keys the pod template tolerates ("*" for a toleration of every taint)', (p) =>
    listOf(p.spec.tolerations).flatMap((t, i) => (isMap(t) ? [hit(typeof t.key === 'string' && t.key !== '' ? t.key : '*', [...p.path, 'tolerations', i], `tolerates ${typeof t.key === 'string' && t.key ? t.key : 'every taint'}`)] : []))),
  podField('placement.tolerated', 'boolean', 'the pod template has at least one toleration', (p) => {
    const n = listOf(p.spec.tolerations).length;
    return [hit(n > 0, p.path, n > 0 ? undefined : 'no tolerations')];
  }),
];
