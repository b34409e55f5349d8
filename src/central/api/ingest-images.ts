/** `POST /api/v1/ingest/images`: what `image scan`, `image sbom` and `image verify` found about one image. */
import type { ImageReport } from '../client/ingest-types.js';
import { evaluateUpsertedImage, POLICIES_EVALUATED } from '../images/image-policies.js';
import { upsertImageReport } from '../store/images.js';
import { errorSchema } from './errors.js';
import { findingSchema } from './schemas/finding.js';
import type { ApiModule } from './module.js';

export const INGEST_BODY_LIMIT = 64 * 1024 * 1024;

const imageReportSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['image'],
  properties: {
    image: {
      type: 'object',
      additionalProperties: false,
      required: ['digest'],
      properties: {
        digest: { type: 'string', pattern: '^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$' },
        refs: { type: 'array', items: { type: 'string', maxLength: 1000 }, maxItems: 1000 },
        os: { type: 'object', additionalProperties: false, required: ['family'], properties: { family: { type: 'string' }, version: { type: 'string' } } },
        created: { type: 'string', format: 'date-time' },
        layers: {
          type: 'array', maxItems: 1000,
          items: { type: 'object', additionalProperties: false, required: ['digest'], properties: { digest: { type: 'string' }, size: { type: 'integer' }, createdBy: { type: 'string' } } },
        },
      },
    },
    sbom: { type: 'object' },
    findings: { type: 'array', items: findingSchema, maxItems: 200_000 },
    signature: {
      type: 'object', additionalProperties: false, required: ['verified'],
      properties: { verified: { type: 'boolean' }, signers: { type: 'array', items: { type: 'string' } }, message: { type: 'string' }, checkedAt: { type: 'string', format: 'date-time' } },
    },
    db: { type: 'object', additionalProperties: false, properties: { version: { type: 'string' }, updatedAt: { type: 'string' } } },
  },
} as const;

export const ingestImagesApi: ApiModule = (app, ctx) => {
  app.post<{ Body: ImageReport }>('/api/v1/ingest/images', {
    bodyLimit: INGEST_BODY_LIMIT,
    config: { permission: 'ingest:scans' },
    schema: {
      summary: 'Push an image scan, SBOM or signature status (same digest again = update)',
      body: imageReportSchema,
      response: { 200: { type: 'object', properties: { digest: { type: 'string' }, created: { type: 'boolean' } }, required: ['digest', 'created'] }, 400: errorSchema },
    },
  }, async (req) => {
    const now = ctx.now();
    // The image's build-stage policies are evaluated in the same transaction, from the
    // parsed push (as a re-match does): reading ~400 KB back and parsing it again cost
    // about as much as the push itself.
    const { created } = await ctx.db.transaction().execute(async (trx) => {
      const upserted = await upsertImageReport(trx, req.body, now.toISOString());
      await evaluateUpsertedImage(trx, ctx.policies, req.body.sbom, upserted, now);
      return upserted;
    });
    ctx.events.emit('image', req.body.image.digest, POLICIES_EVALUATED);
    return { digest: req.body.image.digest, created };
  });
};
