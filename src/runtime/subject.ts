/**
 * The `runtime` subject: a Falco alert (raised here by the rule engine, or read as Falco's
 * json_output writes it) and, when known, the event that triggered it. Each alert is one
 * root node; there are no element levels. Policies over it decide the response to an alert
 * (kill, pause, stop, isolate, label, …); `runtime replay --policy` and `sensor --policy`
 * evaluate every alert through this adapter.
 */
import type { ResourceRef } from '../findings/finding.js';
import type { SubjectAdapter, SubjectNode } from '../policy/subject.js';
import { UserError } from '../util/errors.js';
import type { Alert } from './alerts/alert.js';
import type { FieldValue, RuntimeEvent } from './event.js';
import { parsePriority } from './rules/priority.js';
import { falcoField, known, type RuntimeContext } from './subject-fields/context.js';
import { runtimeFieldRegistry } from './subject-fields/index.js';

export interface RuntimeSubject {
  alert: Alert;
  /** The event that triggered the alert, when the rule engine ran in this process. */
  event?: RuntimeEvent;
  /** Cluster name for scope.clusters, when the sensor knows it. */
  cluster?: string;
}

const reader = (name: string) => {
  const read = falcoField(name);
  return (alert: Alert, event: RuntimeEvent | undefined): string | undefined => {
    const v = read(alert, event);
    return known(v) ? String(v) : undefined;
  };
};
const containerId = reader('container.id');
const containerName = reader('container.name');
const containerImage = reader('container.image');
const imageRepository = reader('container.image.repository');
const imageTag = reader('container.image.tag');
const namespace = reader('k8s.ns.name');

/** The container an alert is about, or undefined on the host. */
export function alertContainer(alert: Alert, event?: RuntimeEvent): { id: string; name?: string; image?: string } | undefined {
  const id = containerId(alert, event);
  if (!id || id === 'host') return undefined;
  const name = containerName(alert, event);
  const image = containerImage(alert, event) ?? imageRepository(alert, event);
  return { id, ...(name ? { name } : {}), ...(image ? { image } : {}) };
}

const podName = reader('k8s.pod.name');

/**
 * Where an alert happened: its container (with the pod when the source knows it, so
 * exceptions by namespace and workload apply), else its host.
 */
export function alertResource(alert: Alert, event?: RuntimeEvent): ResourceRef {
  const container = alertContainer(alert, event);
  if (!container) return { host: alert.hostname };
  const pod = podName(alert, event);
  const ns = namespace(alert, event);
  return pod ? { container, k8s: { kind: 'Pod', ...(ns ? { namespace: ns } : {}), name: pod, ...(container.name ? { container: container.name } : {}) } } : { container };
}

/** Image names a scope glob may match: the reference as reported, and repository:tag. */
function imagesOf(alert: Alert, event: RuntimeEvent | undefined): string[] {
  const image = containerImage(alert, event);
  const repo = imageRepository(alert, event);
  const tag = imageTag(alert, event);
  const named = repo && (tag ? `${repo}:${tag}` : repo);
  return image && named && image !== named ? [image, named] : image ? [image] : named ? [named] : [];
}

export function runtimeSubject(): SubjectAdapter<RuntimeSubject, RuntimeContext> {
  return {
    kind: 'runtime',
    description: 'a Falco alert and, when known, the event that triggered it (process, user, container, k8s, fd)',
    defaultStage: 'runtime',
    findingKind: 'runtime',
    fields: runtimeFieldRegistry(),
    rootTarget: 'alert',
    targetDocs: { alert: 'the alert, with the output fields and event behind it' },
    scopeKeys: ['clusters', 'namespaces', 'excludeNamespaces', 'images'],
    *roots(subject) {
      const { alert, event } = subject;
      const container = alertContainer(alert, event);
      const where = container ? `container ${container.name ?? container.id}${container.name ? ` (${container.id})` : ''}` : `host ${alert.hostname || '?'}`;
      const resource = alertResource(alert, event);
      const node: SubjectNode<RuntimeContext> = {
        ctx: { alert, ...(event ? { event } : {}), onHost: !container },
        scope: {
          cluster: subject.cluster,
          namespace: container ? namespace(alert, event) : undefined,
          images: container ? imagesOf(alert, event) : [],
        },
        label: `${alert.priority} "${alert.rule}" in ${where}`,
        identity: `${alert.rule}@${container ? `container:${container.id}` : `host:${alert.hostname}`}`,
        resource: () => resource,
        data: { rule: alert.rule, priority: alert.priority, time: alert.time, tags: alert.tags },
      };
      yield node;
    },
    elements: {},
    fromData: (data, file) => {
      if (isMap(data) && isMap(data.alert)) {
        const { alert, event, cluster, ...rest } = data;
        const extra = Object.keys(rest);
        if (extra.length) throw new UserError(`${file}: unknown key "${extra[0]}" beside alert (expected alert, event, cluster)`, 'bad-input');
        if (event !== undefined && !isMap(event)) throw new UserError(`${file}: event must be a mapping of Falco field names to values`, 'bad-input');
        if (cluster !== undefined && typeof cluster !== 'string') throw new UserError(`${file}: cluster must be a string`, 'bad-input');
        return { alert: parseFalcoAlert(alert, file), ...(event ? { event: eventOf(event, file) } : {}), ...(cluster ? { cluster } : {}) };
      }
      return { alert: parseFalcoAlert(data, file) };
    },
  };
}

const isMap = (v: unknown): v is Record<string, any> => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
const isScalar = (v: unknown) => v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';

function eventOf(data: Record<string, unknown>, file: string): RuntimeEvent {
  const ev: RuntimeEvent = {};
  for (const [k, v] of Object.entries(data)) {
    if (isScalar(v) || (Array.isArray(v) && v.every((x) => typeof x === 'string' || typeof x === 'number'))) ev[k] = v as FieldValue;
    else throw new UserError(`${file}: event field ${k} must be a scalar or a list of scalars`, 'bad-input');
  }
  return ev;
}

/**
 * A Falco JSON alert (json_output: time, rule, priority, source, hostname, output,
 * output_fields, tags; uuid and Gatehouse's own `gatehouse` verdict are ignored). Only
 * `rule` and `priority` are required.
 */
export function parseFalcoAlert(data: unknown, file: string): Alert {
  const bad = (msg: string): never => {
    throw new UserError(`${file}: not a Falco alert: ${msg}`, 'bad-input');
  };
  if (!isMap(data)) return bad('expected a JSON object with rule, priority and output_fields');
  if (typeof data.rule !== 'string' || !data.rule) bad('rule must be a non-empty string');
  if (typeof data.priority !== 'string') bad('priority must be a string');
  const priority = parsePriority(data.priority);
  if (!priority) bad(`unknown priority "${data.priority}" (expected Emergency, Alert, Critical, Error, Warning, Notice, Informational or Debug)`);
  for (const k of ['source', 'hostname', 'output'] as const) if (data[k] !== undefined && typeof data[k] !== 'string') bad(`${k} must be a string`);
  const time = data.time instanceof Date ? data.time.toISOString() : data.time;
  if (time !== undefined && typeof time !== 'string') bad('time must be a string');
  const fields = data.output_fields ?? {};
  if (!isMap(fields)) bad('output_fields must be a mapping of Falco field names to values');
  for (const [k, v] of Object.entries(fields)) if (!isScalar(v)) bad(`output field ${k} must be a string, number, boolean or null`);
  const tags = data.tags ?? [];
  if (!Array.isArray(tags) || tags.some((t) => typeof t !== 'string')) bad('tags must be a list of strings');
  return {
    time: time ?? '',
    rule: data.rule,
    priority: priority!,
    source: data.source ?? 'syscall',
    hostname: data.hostname ?? '',
    output: data.output ?? '',
    output_fields: fields,
    tags,
  };
}
