/**
 * `POST /api/v1/ingest/findings`: findings of `k8s check`, `registry audit` and other engines
 * that are not about one image. They replace the previous report of the same source and
 * target; policy findings among them go through the violation lifecycle.
 */
import type { FindingsReport } from '../client/ingest-types.js';
import { replaceFindings } from '../store/findings.js';
import { reconcileViolations } from '../store/violations.js';
import { errorSchema } from './errors.js';
import { INGEST_BODY_LIMIT } from './ingest-images.js';
import { findingSchema } from './schemas/finding.js';
import type { ApiModule } from './module.js';

const reportSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['source', 'target', 'findings'],
  properties: {
    source: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]{0,62}$' },
    target: { type: 'string', minLength: 1, maxLength: 2000 },
    findings: { type: 'array', items: findingSchema, maxItems: 200_000 },
  },
} as const;

export const ingestFindingsApi: ApiModule = (app, ctx) => {
  app.post<{ Body: FindingsReport }>('/api/v1/ingest/findings', {
    bodyLimit: INGEST_BODY_LIMIT,
    config: { permission: 'ingest:scans' },
    schema: {
      summary: 'Push the findings of k8s check, registry audit, … for one target (replaces the previous report)',
      body: reportSchema,
      response: { 200: { type: 'object', properties: { stored: { type: 'integer' }, violations: { type: 'integer' } }, required: ['stored', 'violations'] }, 400: errorSchema },
    },
  }, async (req) => {
    const now = ctx.now();
    const at = now.toISOString();
    const { source, target } = req.body;
    const { stored, violations } = await ctx.db.transaction().execute(async (trx) => {
      const findings = await replaceFindings(trx, source, target, req.body.findings, at);
      const policyFindings = findings.filter((f) => f.policy);
      await reconcileViolations(trx, { subjectKind: source, subjectKey: target, stage: source === 'registry-audit' ? 'build' : 'deploy', findings: policyFindings }, ctx.policies.exceptions, now);
      return { stored: findings.length, violations: policyFindings.length };
    });
    ctx.events.emit('violations', `${source}/${target}`);
    return { stored, violations };
  });
};
