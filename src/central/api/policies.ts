/**
 * `/api/v1/policies`: Central's current policies. Upload a pack (the same YAML format as
 * `--policy` files, checked the same way: an unknown field is an error at file:line),
 * enable or disable a policy, remove an uploaded pack.
 */
import { BUILTIN_PACKS } from '../../policy/builtin.js';
import { describeDiagnostic, readPackText } from '../../policy/pack.js';
import { STAGES, SUBJECT_KINDS } from '../../policy/types.js';
import { deletePack, loadPolicies, setPolicyEnabled, upsertPolicies } from '../store/policies.js';
import { ApiError, errorSchema } from './errors.js';
import type { ApiModule } from './module.js';

const idParams = { type: 'object', properties: { id: { type: 'string', maxLength: 300 } }, required: ['id'] } as const;

export const policiesApi: ApiModule = (app, ctx) => {
  app.get<{ Querystring: { stage?: string; subject?: string; pack?: string; enabled?: boolean } }>('/api/v1/policies', {
    config: { permission: 'read' },
    schema: {
      summary: 'List policies',
      querystring: {
        type: 'object', additionalProperties: false,
        properties: { stage: { type: 'string', enum: [...STAGES] }, subject: { type: 'string', enum: [...SUBJECT_KINDS] }, pack: { type: 'string' }, enabled: { type: 'boolean' } },
      },
    },
  }, async (req) => {
    const { stage, subject, pack, enabled } = req.query;
    const items = (await loadPolicies(ctx.db))
      .filter((p) => (!stage || p.policy.stages.includes(stage as never)) && (!subject || p.policy.subject === subject) && (!pack || p.pack === pack) && (enabled === undefined || p.policy.enabled === enabled))
      .map((p) => ({ ...p.policy, pack: p.pack }));
    return { items };
  });

  app.get<{ Params: { id: string } }>('/api/v1/policies/:id', {
    config: { permission: 'read' },
    schema: { summary: 'One policy', params: idParams, response: { 404: errorSchema } },
  }, async (req) => {
    const found = (await loadPolicies(ctx.db)).find((p) => p.policy.id === req.params.id);
    if (!found) throw new ApiError(404, 'not-found', `no policy ${req.params.id}`);
    return { ...found.policy, pack: found.pack };
  });

  app.post<{ Body: { pack: string; yaml: string } }>('/api/v1/policies', {
    config: { permission: 'admin' },
    schema: {
      summary: 'Upload (or replace) a policy pack, given as PolicyPack YAML',
      body: {
        type: 'object', additionalProperties: false, required: ['pack', 'yaml'],
        properties: { pack: { type: 'string', pattern: '^[a-z0-9][a-z0-9._-]{0,62}$' }, yaml: { type: 'string', maxLength: 1_000_000 } },
      },
      response: { 200: { type: 'object', properties: { pack: { type: 'string' }, policies: { type: 'array', items: { type: 'string' } } }, required: ['pack', 'policies'] }, 400: errorSchema },
    },
  }, async (req) => {
    const { pack, yaml } = req.body;
    if ((BUILTIN_PACKS as readonly string[]).includes(pack)) throw new ApiError(400, 'bad-request', `"${pack}" is a built-in pack; upload under another name (a policy id in it overrides the built-in one)`);
    const loaded = readPackText(yaml, `${pack}.yaml`, ctx.policies.subjects);
    const [first, ...rest] = loaded.diagnostics;
    if (first) throw new ApiError(400, 'bad-policy', `${describeDiagnostic(first)}${rest.length ? ` (and ${rest.length} more problem(s))` : ''}`);
    if (loaded.policies.length === 0) throw new ApiError(400, 'bad-policy', `${pack}.yaml: the pack holds no policies`);
    await ctx.db.transaction().execute(async (trx) => {
      await deletePack(trx, pack);
      await upsertPolicies(trx, pack, loaded.policies, ctx.now().toISOString(), { keepEnabled: false });
    });
    await ctx.policies.reload();
    ctx.events.emit('policies');
    return { pack, policies: loaded.policies.map((p) => p.id) };
  });

  app.patch<{ Params: { id: string }; Body: { enabled: boolean } }>('/api/v1/policies/:id', {
    config: { permission: 'admin' },
    schema: {
      summary: 'Enable or disable a policy',
      params: idParams,
      body: { type: 'object', additionalProperties: false, required: ['enabled'], properties: { enabled: { type: 'boolean' } } },
      response: { 404: errorSchema },
    },
  }, async (req) => {
    if (!(await setPolicyEnabled(ctx.db, req.params.id, req.body.enabled, ctx.now().toISOString()))) throw new ApiError(404, 'not-found', `no policy ${req.params.id}`);
    await ctx.policies.reload();
    ctx.events.emit('policies');
    return { id: req.params.id, enabled: req.body.enabled };
  });

  app.delete<{ Params: { pack: string } }>('/api/v1/policy-packs/:pack', {
    config: { permission: 'admin' },
    schema: { summary: 'Remove an uploaded pack', params: { type: 'object', properties: { pack: { type: 'string' } }, required: ['pack'] }, response: { 204: { type: 'null' }, 400: errorSchema, 404: errorSchema } },
  }, async (req, reply) => {
    if ((BUILTIN_PACKS as readonly string[]).includes(req.params.pack)) throw new ApiError(400, 'bad-request', 'built-in packs cannot be removed; disable their policies instead');
    if ((await deletePack(ctx.db, req.params.pack)) === 0) throw new ApiError(404, 'not-found', `no pack ${req.params.pack}`);
    await ctx.policies.reload();
    ctx.events.emit('policies');
    return reply.code(204).send();
  });
};
