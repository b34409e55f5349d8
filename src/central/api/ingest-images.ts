/**
 * `POST /api/v1/ingest/images`: what `image scan`, `image sbom` and `image verify` found about
 * one image.
 *
 * A push is a ~300 KB body for a 500-package image; parsing, validating, fingerprinting and
 * serializing it, and evaluating the image's policies, cost ~10 ms of CPU that would block
 * every other request. So this route takes the raw body and an image worker does that work
 * (src/central/images/push-work.ts: the same parser guard, the same schema, the same ajv
 * options as every other route); the main thread only writes, in one transaction, the row,
 * the SBOM, the findings and the image's violations.
 *
 * A push may name its SBOM's component list (the bulk of a push) and its vulnerability
 * findings' texts by address instead of sending them, as Trivy's client asks its server for
 * the blobs it lacks: when Central holds nothing under an address it answers 409
 * `missing-content` with `missing: ['sbom.components']` and/or `['findings']`, stores
 * nothing, and the client sends the push again whole. Central computes every stored address
 * itself, over content it parsed (store/image-sboms.ts, store/image-findings.ts), so a push
 * can only name content it could have sent.
 */
import { ADDRESSED_PUSH_TYPE, type ImageReport } from '../client/ingest-types.js';
import { BadPushError, MissingContentError } from '../images/image-pool.js';
import { evaluateStoredImageIn, POLICIES_EVALUATED } from '../images/image-policies.js';
import { componentListStored, readComponentList } from '../store/image-sboms.js';
import { readStoredTexts, sharedTextsMissing } from '../store/shared-texts.js';
import { mergeImageRow, readImageRow, upsertPreparedImage, writePreparedImage } from '../store/images.js';
import { reconcileViolations } from '../store/violations.js';
import { ApiError, errorSchema } from './errors.js';
import { imagePushSchema } from './schemas/image-push.js';
import type { ApiModule } from './module.js';

export const INGEST_BODY_LIMIT = 64 * 1024 * 1024;

export const ingestImagesApi: ApiModule = (app, ctx) => {
  // In this module's scope only: JSON bodies arrive unparsed, for the worker.
  for (const type of ['application/json', ADDRESSED_PUSH_TYPE]) {
    app.addContentTypeParser(type, { parseAs: 'buffer', bodyLimit: INGEST_BODY_LIMIT }, (_req, body, done) => done(null, body));
  }
  app.post<{ Body: ImageReport }>('/api/v1/ingest/images', {
    bodyLimit: INGEST_BODY_LIMIT,
    config: { permission: 'ingest:scans' },
    // The schema documents the body (OpenAPI); the worker validates it.
    validatorCompiler: () => () => true,
    schema: {
      summary: 'Push an image scan, SBOM or signature status (same digest again = update)',
      body: imagePushSchema,
      response: {
        200: { type: 'object', properties: { digest: { type: 'string' }, created: { type: 'boolean' } }, required: ['digest', 'created'] },
        400: errorSchema,
        409: { type: 'object', properties: { ...errorSchema.properties, missing: { type: 'array', items: { type: 'string' } } }, required: ['error', 'message', 'missing'] },
      },
    },
  }, async (req, reply) => {
    // Only this scope's JSON parser gives a Buffer; fastify's text/plain parser a string.
    if (!Buffer.isBuffer(req.body)) throw new ApiError(415, 'unsupported-media-type', `an image push is application/json or ${ADDRESSED_PUSH_TYPE}`);
    const missing = (what: string[]) => reply.code(409).send({
      error: 'missing-content',
      message: `Central does not hold the ${what.join(' and ')} this push names by address: send the push whole`,
      missing: what,
    });
    let push;
    try {
      push = await ctx.imagePool.preparePush(req.body, {
        list: (address) => readComponentList(ctx.db, address),
        texts: (table, addresses) => readStoredTexts(ctx.db, table, addresses),
      });
    } catch (e) {
      if (e instanceof MissingContentError) return missing(e.missing);
      throw e instanceof BadPushError ? new ApiError(400, 'bad-request', e.message.split('\n')[0]!.slice(0, 500)) : e;
    }
    // Content the worker knew from an earlier push: that push's write may have failed.
    const named = push.prepared.sbom?.componentsText === undefined ? push.prepared.sbom?.componentsHash : undefined;
    const lacking: string[] = [];
    if (named !== undefined && !push.listRead && !(await componentListStored(ctx.db, named))) lacking.push('sbom.components');
    if (push.named && ((await sharedTextsMissing(ctx.db, 'finding_texts', push.named.findings)).length || (await sharedTextsMissing(ctx.db, 'advisory_texts', push.named.advisories)).length)) lacking.push('findings');
    if (lacking.length) {
      push.drop();
      return missing(lacking);
    }
    const { prepared } = push;
    const digest = prepared.image.digest;
    const now = ctx.now();
    const at = now.toISOString();
    // The image's policies are evaluated on the row as this push leaves it, in the worker,
    // before the write; if another push of the digest landed meanwhile, from the store instead.
    const existing = await readImageRow(ctx.db, digest);
    const row = mergeImageRow(existing, prepared, at);
    const violations = await push.violations(row, at);
    const created = await ctx.db.transaction().execute(async (trx) => {
      const current = await readImageRow(trx, digest);
      if (current?.last_seen !== existing?.last_seen || violations === undefined) {
        const upserted = await upsertPreparedImage(trx, prepared, at);
        await evaluateStoredImageIn(trx, ctx.policies, digest, now);
        return upserted.created;
      }
      await writePreparedImage(trx, prepared, row, existing !== undefined);
      await reconcileViolations(trx, { subjectKind: 'image', subjectKey: digest, stage: 'build', findings: violations }, ctx.policies.exceptions, now);
      return existing === undefined;
    });
    ctx.events.emit('image', digest, POLICIES_EVALUATED);
    return { digest, created };
  });
};
