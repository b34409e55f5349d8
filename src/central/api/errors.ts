/** Errors the API answers with: a status, a short code and one line of message. */
import type { FastifyError, FastifyInstance } from 'fastify';
import { isUserError } from '../../util/errors.js';

export class ApiError extends Error {
  constructor(readonly statusCode: number, readonly code: string, message: string) {
    super(message);
  }
}

export interface ErrorBody {
  error: string;
  message: string;
}

export const errorSchema = {
  type: 'object',
  properties: { error: { type: 'string' }, message: { type: 'string' } },
  required: ['error', 'message'],
} as const;

/** Every error becomes `{error, message}` with one line; internals are logged, never sent. */
export function registerErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | ApiError | Error, req, reply) => {
    if (err instanceof ApiError) return reply.code(err.statusCode).send({ error: err.code, message: err.message });
    if (isUserError(err)) return reply.code(400).send({ error: err.code, message: firstLine(err.message) });
    const fe = err as FastifyError;
    if (fe.validation) {
      return reply.code(400).send({ error: 'bad-request', message: firstLine(`${fe.validationContext ?? 'request'}: ${describeValidation(fe)}`) });
    }
    if (fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500) {
      return reply.code(fe.statusCode).send({ error: codeFor(fe.statusCode), message: firstLine(fe.message) });
    }
    req.log.error({ err }, 'internal error');
    return reply.code(500).send({ error: 'internal', message: 'internal error (see Central\'s log)' });
  });
  app.setNotFoundHandler((req, reply) => reply.code(404).send({ error: 'not-found', message: `no route ${req.method} ${req.url.split('?')[0]}` }));
}

function describeValidation(err: FastifyError): string {
  const first = err.validation?.[0];
  return first ? describeSchemaError(first) : err.message;
}

/** One line for a JSON-schema error (ajv's first): the route's validation and the image workers' say the same. */
export function describeSchemaError(first: { instancePath?: string; keyword: string; params: unknown; message?: string }): string {
  const where = first.instancePath || '';
  if (first.keyword === 'additionalProperties') return `unknown field "${String((first.params as { additionalProperty?: string }).additionalProperty)}"${where ? ` in ${where}` : ''}`;
  return `${where || '/'} ${first.message ?? 'is invalid'}`;
}

function codeFor(status: number): string {
  return ({ 400: 'bad-request', 401: 'unauthenticated', 403: 'forbidden', 404: 'not-found', 409: 'conflict', 413: 'too-large', 415: 'unsupported-media-type', 429: 'rate-limited' } as Record<number, string>)[status] ?? 'bad-request';
}

function firstLine(s: string): string {
  return s.split('\n')[0]!.slice(0, 500);
}
