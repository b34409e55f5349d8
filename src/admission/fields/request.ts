/** Fields over the request itself: who asks, what operation, on which resource. */
import { hit } from '../../policy/fields.js';
import type { AdmissionContext, FieldDef } from './context.js';

/** The ServiceAccount user prefix (`system:serviceaccount:NAMESPACE:NAME`). */
export const SERVICE_ACCOUNT_PREFIX = 'system:serviceaccount:';

/** A string field: unset ([]) when the request carries '' (no subresource, cluster-scoped). */
const str = (name: string, description: string, get: (ctx: AdmissionContext) => string, path: readonly (string | number)[]): FieldDef => ({
  name, target: 'request', type: 'string', description,
  extract: (ctx) => {
    const v = get(ctx);
    return v === '' ? [] : [hit(v, path)];
  },
});

/** `pods/exec`, or `pods` when there is no subresource. */
export const resourceWithSub = (ctx: AdmissionContext): string =>
  ctx.request.subResource ? `${ctx.request.resource.resource}/${ctx.request.subResource}` : ctx.request.resource.resource;

export const requestFields: FieldDef[] = [
  str('request.operation', 'CREATE, UPDATE, DELETE or CONNECT', (c) => c.request.operation, ['request', 'operation']),
  str('request.uid', 'the request uid (one per API server call)', (c) => c.request.uid, ['request', 'uid']),
  str('request.user', 'userInfo.username of the requester', (c) => c.request.userInfo.username, ['request', 'userInfo', 'username']),
  {
    name: 'request.groups', target: 'request', type: 'list',
    description: 'userInfo.groups of the requester (use `not: {op: in}` for "in none of")',
    extract: (ctx) => ctx.request.userInfo.groups.map((g, i) => hit(g, ['request', 'userInfo', 'groups', i], `group ${g}`)),
  },
  {
    name: 'request.serviceAccount', target: 'request', type: 'boolean', description: 'whether the requester is a ServiceAccount (user system:serviceaccount:…)',
    extract: (ctx) => [hit(ctx.request.userInfo.username.startsWith(SERVICE_ACCOUNT_PREFIX), ['request', 'userInfo', 'username'])],
  },
  str('request.kind', 'kind of the submitted object (kind.kind: Pod, Scale, PodExecOptions…)', (c) => c.request.kind.kind, ['request', 'kind', 'kind']),
  str('request.group', 'API group of the requested resource ("" core is unset)', (c) => c.request.resource.group, ['request', 'resource', 'group']),
  str('request.version', 'API version of the requested resource (v1, v1beta1…)', (c) => c.request.resource.version, ['request', 'resource', 'version']),
  str('request.resource', 'the requested resource (pods, deployments…)', (c) => c.request.resource.resource, ['request', 'resource', 'resource']),
  str('request.subResource', 'the requested subresource (exec, attach, portforward, ephemeralcontainers, status, scale…)', (c) => c.request.subResource, ['request', 'subResource']),
  str('request.resourceWithSub', 'resource/subresource as RBAC names it (pods/exec, pods/attach, pods/portforward) or the resource alone', resourceWithSub, ['request', 'resource', 'resource']),
  str('request.namespace', 'namespace of the request (unset for cluster-scoped resources)', (c) => c.request.namespace, ['request', 'namespace']),
  str('request.name', 'name of the object (unset on a CREATE with generateName)', (c) => c.request.name, ['request', 'name']),
  {
    name: 'request.dryRun', target: 'request', type: 'boolean', description: 'whether the request is a dry run (kubectl --dry-run=server): nothing is persisted',
    extract: (ctx) => [hit(ctx.request.dryRun, ['request', 'dryRun'], ctx.request.dryRun ? 'dry run' : undefined)],
  },
];
