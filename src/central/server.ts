/**
 * Builds Central's HTTP application (fastify 5) over an open store: authentication, JSON
 * schemas on every route, the OpenAPI document, one error shape. Listening, TLS and the
 * background work (inventory, re-matching) are the caller's: see start.ts.
 */
import { LOG_REDACTED_PATHS } from '../util/log.js';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import swagger from '@fastify/swagger';
import { registerAuthentication } from './auth/authenticate.js';
import { FailureLimiter } from './auth/failure-limiter.js';
import { registerErrorHandler } from './api/errors.js';
import { API_MODULES } from './api/index.js';
import { registerHttpMetrics } from './metrics.js';
import { registerConsole } from './console.js';
import { AccessLogController } from './access-log.js';
import type { CentralContext } from './context.js';
import { GATEHOUSE_VERSION } from '../version.js';

/** Headers and fields that carry secrets: pino replaces them wherever they appear in a log line. */
export interface BuildCentralOptions {
  /** pino options (level, destination stream); redaction is always added. `false` = no log. */
  logger?: false | { level?: string; stream?: NodeJS.WritableStream };
  /** HTTPS material; absent = plain HTTP (the caller has checked that is allowed). */
  https?: { key: string; cert: string };
  /** Default body limit (bytes); ingest routes set their own. */
  bodyLimit?: number;
  failedLoginLimit?: { max: number; windowMs: number };
}

export async function buildCentral(ctx: CentralContext, options: BuildCentralOptions = {}): Promise<FastifyInstance> {
  const logger: FastifyServerOptions['logger'] = options.logger === false
    ? false
    : {
        level: options.logger?.level ?? 'info',
        redact: { paths: LOG_REDACTED_PATHS, censor: '[redacted]' },
        ...(options.logger?.stream ? { stream: options.logger.stream } : {}),
      };
  const app = Fastify({
    logger,
    // One access-log line per request instead of fastify's two (access-log.ts).
    ...(logger ? { logController: new AccessLogController() } : {}),
    bodyLimit: options.bodyLimit ?? 1024 * 1024,
    ...(options.https ? { https: { key: options.https.key, cert: options.https.cert, minVersion: 'TLSv1.2' as const } } : {}),
    ajv: { customOptions: { removeAdditional: false, useDefaults: true, coerceTypes: 'array', allErrors: false } },
    // Routes are matched case-sensitively and without trailing-slash guessing, as the OpenAPI document says.
    routerOptions: { ignoreTrailingSlash: false },
  }) as unknown as FastifyInstance;

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Gatehouse Central API', version: GATEHOUSE_VERSION },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });
  registerErrorHandler(app);
  registerAuthentication(app, ctx.db, options.failedLoginLimit ? new FailureLimiter(options.failedLoginLimit.max, options.failedLoginLimit.windowMs) : undefined);
  registerHttpMetrics(app, ctx);
  for (const register of API_MODULES) await app.register(async (scope) => register(scope, ctx));
  await registerConsole(app);
  return app;
}
