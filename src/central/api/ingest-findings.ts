/**
 * `POST /api/v1/ingest/findings`: findings of `k8s check`, `registry audit` and other engines
 * that are not about one image. They replace the previous report of the same source and
 * target; policy findings among them go through the violation lifecycle.
 */
import type { FindingsReport } from '../client/ingest-types.js';
import { withFingerprint } from '../../findings/fingerprint.js';
import { chunks, toJson } from '../store/json.js';
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
    const findings = [...new Map(req.body.findings.map((f) => withFingerprint(f)).map((f) => [f.fingerprint, f])).values()];
    const policyFindings = findings.filter((f) => f.policy);
    await ctx.db.transaction().execute(async (trx) => {
      const firstSeen = new Map((await trx.selectFrom('findings').select(['fingerprint', 'first_seen']).where('source', '=', source).where('target', '=', target).execute()).map((r) => [r.fingerprint, r.first_seen]));
      await trx.deleteFrom('findings').where('source', '=', source).where('target', '=', target).execute();
      for (const part of chunks(findings, 300)) {
        await trx.insertInto('findings').values(part.map((f) => ({
          source, target, fingerprint: f.fingerprint, finding_id: f.id, kind: f.kind, severity: f.severity, body: toJson(f),
          first_seen: firstSeen.get(f.fingerprint) ?? at, last_seen: at,
        }))).execute();
      }
      await reconcileViolations(trx, { subjectKind: source, subjectKey: target, stage: source === 'registry-audit' ? 'build' : 'deploy', findings: policyFindings }, ctx.policies.exceptions, now);
    });
    return { stored: findings.length, violations: policyFindings.length };
  });
};
