/**
 * One field per Pod Security Standards check (`pss.<checkId>`), evaluated at the level and
 * version in the settings. Each default-pack PSS policy is a criterion over one of these.
 */
import { hit } from '../../policy/fields.js';
import type { FieldDef } from './context.js';
import { PSS_CHECKS } from '../pss/checks.js';
import { checksFor } from '../pss/evaluate.js';

export const pssFields: FieldDef[] = PSS_CHECKS.map((check) => ({
  name: `pss.${check.id}`,
  target: 'object',
  type: 'string',
  description: `Pod Security Standards check ${check.id} (${check.level}); holds the violation detail`,
  extract: (ctx) => {
    if (!ctx.pod) return undefined;
    // The check applies only when it is part of the configured level/version (overrides included).
    const entry = checksFor(ctx.settings.pss).byId.get(check.id);
    if (!entry) return undefined;
    const v = entry.variant.check({ metadata: ctx.pod.metadata, spec: ctx.pod.spec });
    if (!v) return [];
    const toObjectPath = (p: readonly (string | number)[]) => (p[0] === 'spec' ? [...ctx.pod!.specPath, ...p.slice(1)] : [...ctx.pod!.metadataPath, ...p.slice(1)]);
    return [hit(v.detail, toObjectPath(v.paths[0]!), `${v.reason}: ${v.detail}`)];
  },
}));
