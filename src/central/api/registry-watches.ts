/**
 * `/api/v1/registry-watches`: registry repositories Central audits for hygiene (stale,
 * unsigned, vulnerable tags; src/central/jobs/registry-hygiene.ts). Admins add and remove
 * them; readers list them with their last run. The job stores its findings like the
 * findings ingest does: source 'registry-audit', target registry/repository.
 */
import { addWatch, listWatches, removeWatch, watchTags } from '../store/registry-watches.js';
import { ApiError, errorSchema } from './errors.js';
import type { ApiModule } from './module.js';
import { NO_QUERY } from './paging.js';

const watchSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' }, registry: { type: 'string' }, repository: { type: 'string' }, target: { type: 'string' },
    createdAt: { type: 'string' }, createdBy: { type: ['string', 'null'] }, lastRunAt: { type: ['string', 'null'] }, lastError: { type: ['string', 'null'] }, tags: { type: ['integer', 'null'] },
  },
  required: ['id', 'registry', 'repository', 'target', 'createdAt'],
} as const;

const tagSchema = {
  type: 'object',
  properties: {
    repository: { type: 'string' }, tag: { type: 'string' }, digest: { type: 'string' }, created: { type: 'string' }, ageDays: { type: 'number' },
    signed: { type: 'boolean' }, stale: { type: 'boolean' },
    vulnerabilities: { type: 'object', additionalProperties: { type: 'integer' } }, error: { type: 'string' },
  },
  required: ['repository', 'tag', 'signed', 'stale'],
} as const;

/** Repository paths as the distribution spec names them, with glob characters for watches over many. */
const PATH = /^[a-z0-9*?{}[\]!]+(?:[._/-]+[a-z0-9*?{}[\]!]+)*$/;

/**
 * Splits REGISTRY/REPOSITORY the way image references are read: the first part is a
 * registry when it has a dot or a port or is localhost; otherwise it is Docker Hub.
 */
export function parseWatchTarget(text: string): { registry: string; repository: string } {
  const slash = text.indexOf('/');
  const first = slash < 0 ? '' : text.slice(0, slash);
  const isHost = first !== '' && (first.includes('.') || first.includes(':') || first === 'localhost');
  const registry = isHost ? first : 'docker.io';
  let repository = isHost ? text.slice(slash + 1) : text;
  if (registry === 'docker.io' && !repository.includes('/')) repository = `library/${repository}`;
  if (!PATH.test(repository)) throw new ApiError(400, 'bad-request', `"${text}" is not REGISTRY/REPOSITORY (e.g. registry.example.com/team/app, or team/** for every repository under team)`);
  return { registry, repository };
}

export const registryWatchesApi: ApiModule = (app, ctx) => {
  app.get('/api/v1/registry-watches', {
    config: { permission: 'read' },
    schema: { querystring: NO_QUERY, summary: 'List the watched registry repositories and their last hygiene audit', response: { 200: { type: 'object', properties: { items: { type: 'array', items: watchSchema } }, required: ['items'] } } },
  }, async () => ({ items: await listWatches(ctx.db) }));

  app.get<{ Params: { id: string } }>('/api/v1/registry-watches/:id/tags', {
    config: { permission: 'read' },
    schema: {
      querystring: NO_QUERY,
      summary: "Each tag of a watched repository as its last good audit saw it: age (stale past six months), signature, Central's vulnerability counts",
      params: { type: 'object', additionalProperties: false, properties: { id: { type: 'string', minLength: 1, maxLength: 100 } }, required: ['id'] },
      response: { 200: { type: 'object', properties: { items: { type: 'array', items: tagSchema } }, required: ['items'] }, 404: errorSchema },
    },
  }, async (req) => {
    const items = await watchTags(ctx.db, req.params.id);
    if (!items) throw new ApiError(404, 'not-found', `no registry watch ${req.params.id}`);
    return { items };
  });

  app.post<{ Body: { repository: string } }>('/api/v1/registry-watches', {
    config: { permission: 'admin' },
    schema: {
      summary: 'Watch a registry repository (REGISTRY/REPOSITORY, a glob allowed) for stale, unsigned and vulnerable tags',
      body: { type: 'object', additionalProperties: false, required: ['repository'], properties: { repository: { type: 'string', minLength: 1, maxLength: 500 } } },
      response: { 200: watchSchema, 201: watchSchema, 400: errorSchema },
    },
  }, async (req, reply) => {
    const { watch, created } = await addWatch(ctx.db, parseWatchTarget(req.body.repository.trim()), req.principal?.name ?? null, ctx.now().toISOString());
    if (created) ctx.events.emit('registry-watches');
    return reply.code(created ? 201 : 200).send(watch);
  });

  app.delete<{ Params: { id: string } }>('/api/v1/registry-watches/:id', {
    config: { permission: 'admin' },
    schema: {
      summary: 'Stop watching a repository (its hygiene findings go, its violations resolve)',
      params: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] },
      response: { 204: { type: 'null' }, 404: errorSchema },
    },
  }, async (req, reply) => {
    if (!(await removeWatch(ctx.db, req.params.id, ctx.now().toISOString()))) throw new ApiError(404, 'not-found', `no registry watch ${req.params.id}`);
    return reply.code(204).send();
  });
};
