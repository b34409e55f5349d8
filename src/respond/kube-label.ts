/**
 * Label or annotate a Kubernetes object (a pod, usually): a merge patch of metadata.labels
 * or metadata.annotations. `already` when every key has the wanted value.
 */
import { UserError } from '../util/errors.js';
import { mustGet, type KubeApi } from './kube-api.js';
import { describeTarget, type KubeTarget, type ResponseAction } from './types.js';

const KEY_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const KEY_PREFIX = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;

/** Checks label/annotation keys (and label values) as the API server would, with a one-line error. */
export function checkMetadata(kind: 'label' | 'annotation', entries: Record<string, string>): void {
  if (Object.keys(entries).length === 0) throw new UserError(`no ${kind} to set (give --set key=value)`, 'usage');
  for (const [k, v] of Object.entries(entries)) {
    const slash = k.lastIndexOf('/');
    const prefix = slash >= 0 ? k.slice(0, slash) : undefined;
    const name = slash >= 0 ? k.slice(slash + 1) : k;
    if (!KEY_NAME.test(name) || (prefix !== undefined && !KEY_PREFIX.test(prefix))) throw new UserError(`invalid ${kind} key "${k}" (a name of up to 63 letters, digits, '-', '_', '.', with an optional DNS prefix and '/')`, 'usage');
    if (kind === 'label' && !LABEL_VALUE.test(v)) throw new UserError(`invalid label value "${v}" for ${k} (up to 63 letters, digits, '-', '_', '.', starting and ending alphanumeric)`, 'usage');
  }
}

/** Parses `key=value` pairs (repeatable --set). */
export function parseAssignments(list: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of list) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new UserError(`"${item}" is not key=value`, 'usage');
    out[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return out;
}

export function kubeLabel(api: KubeApi, what: 'label' | 'annotate', entries: Record<string, string>): ResponseAction<KubeTarget> {
  const field = what === 'label' ? 'labels' : 'annotations';
  checkMetadata(what === 'label' ? 'label' : 'annotation', entries);
  return {
    name: what,
    destructive: false,
    async plan(target) {
      const obj = await mustGet<{ metadata: Record<string, Record<string, string> | undefined> }>(api, target);
      const current = obj.metadata[field] ?? {};
      const missing = Object.entries(entries).filter(([k, v]) => current[k] !== v);
      const shown = Object.entries(entries).map(([k, v]) => `${k}=${v}`).join(', ');
      if (missing.length === 0) return { state: 'already', detail: `${describeTarget(target)} already has ${field} ${shown}` };
      return {
        state: 'todo',
        detail: `set ${field} ${missing.map(([k, v]) => `${k}=${v}`).join(', ')} on ${describeTarget(target)}`,
        data: { [field]: Object.fromEntries(missing) },
        async apply() {
          await api.patch(api.path(target.kind, target.namespace, target.name), { metadata: { [field]: Object.fromEntries(missing) } });
          return { detail: `set ${field} ${missing.map(([k, v]) => `${k}=${v}`).join(', ')} on ${describeTarget(target)}` };
        },
      };
    },
  };
}
