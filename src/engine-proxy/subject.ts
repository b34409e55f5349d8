/**
 * The `engine-request` subject: one Docker Engine API request as the proxy sees it — the
 * flat facts of facts.ts (action, caller, container.create settings, image, target
 * container, …). Each request is one root node (target `request`); scope.actions matches
 * its action (`container.*`, `*`), scope.images the image it is about.
 */
import type { ResourceRef } from '../findings/finding.js';
import type { SubjectAdapter, SubjectNode } from '../policy/subject.js';
import { UserError } from '../util/errors.js';
import type { Facts } from './facts.js';
import { DERIVED_FIELDS, engineRequestFieldRegistry } from './fields/index.js';

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** The action a request is scoped by (a request the proxy could not classify is `unknown`). */
export const actionOf = (facts: Facts): string => String(facts.action ?? 'unknown');

/** The node of one request (exported for the proxy, which evaluates it directly). */
export function requestNode(facts: Facts): SubjectNode<Facts> {
  const action = actionOf(facts);
  const image = str(facts['image.ref']) ?? str(facts['target.image']);
  const container = str(facts['container.name']) ?? str(facts['target.name']) ?? str(facts['target.ref']);
  const resource: ResourceRef = {};
  if (container !== undefined || image !== undefined || str(facts['target.id'])) {
    resource.container = { id: str(facts['target.id']) ?? '', ...(container ? { name: container } : {}), ...(image ? { image } : {}) };
  }
  const label = `${action}${container ? ` container "${container}"` : ''}${image ? ` image ${image}` : ''}`;
  return {
    ctx: facts,
    scope: { action, images: image ? [image] : [] },
    label,
    identity: `${action}|${container ?? ''}|${image ?? ''}`,
    resource: () => resource,
    data: { action, ...(image ? { image } : {}) },
  };
}

export function engineRequestSubject(): SubjectAdapter<Facts, Facts> {
  const fields = engineRequestFieldRegistry();
  return {
    kind: 'engine-request',
    description: 'a Docker Engine API request seen by the engine proxy (its facts: action, caller, container settings, image, target)',
    defaultStage: 'runtime',
    findingKind: 'policy',
    fields,
    rootTarget: 'request',
    targetDocs: { request: 'the request (one per Docker Engine API call)' },
    elements: {},
    scopeKeys: ['actions', 'images'],
    *roots(facts) {
      yield requestNode(facts);
    },
    fromData(data, file) {
      if (typeof data !== 'object' || data === null || Array.isArray(data)) {
        throw new UserError(`${file}: an engine-request is a mapping of facts (action, container.privileged, …)`, 'bad-input');
      }
      const facts: Facts = {};
      for (const [k, v] of Object.entries(data as Record<string, unknown>)) {
        if (DERIVED_FIELDS.has(k)) throw new UserError(`${file}: ${k} is computed from other facts; give the facts it reads instead`, 'bad-input');
        if (!fields.get(k)) {
          const guess = fields.suggest(k);
          throw new UserError(`${file}: unknown engine-request fact "${k}"${guess ? ` (did you mean "${guess}"?)` : ''}`, 'bad-input');
        }
        if (v === null || v === undefined) continue;
        if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') facts[k] = v;
        else if (Array.isArray(v) && v.every((x) => typeof x === 'string' || typeof x === 'number')) facts[k] = v.map(String);
        else throw new UserError(`${file}: fact ${k} must be a string, number, boolean or list of strings`, 'bad-input');
      }
      return facts;
    },
  };
}
