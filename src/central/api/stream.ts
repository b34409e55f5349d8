/**
 * Live change notices for the console over Server-Sent Events. EventSource cannot send an
 * Authorization header, and the API token must never appear in a URL (logs, history), so a
 * client first trades its token for a single-use ticket that lives 30 s (`POST
 * /api/v1/stream/tickets`), then opens `GET /api/v1/stream?ticket=…`. Notices carry only a
 * topic (and an image digest): clients re-read what they show through the API, with its
 * usual permissions.
 */
import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { ApiModule } from './module.js';
import { ApiError, errorSchema } from './errors.js';
import { NO_QUERY } from './paging.js';

/** The context's change notices that the console cares about. */
export const STREAM_TOPICS = ['policies', 'exceptions', 'image', 'images', 'alerts', 'events', 'sources', 'registry-watches', 'objects', 'db', 'violations', 'deployments', 'incidents', 'response-actions', 'baselines'] as const;
const TICKET_TTL_MS = 30_000;
const HEARTBEAT_MS = 25_000;
const MAX_TICKETS = 10_000;

export const streamApi: ApiModule = (app, ctx) => {
  const tickets = new Map<string, number>();
  /** Open streams; one listener per topic fans out to them all. */
  const open = new Set<ServerResponse>();
  for (const topic of STREAM_TOPICS) {
    ctx.events.on(topic, (subject?: unknown) => {
      if (open.size === 0) return;
      const frame = `event: change\ndata: ${JSON.stringify({ topic, ...(typeof subject === 'string' ? { subject } : {}) })}\n\n`;
      for (const res of open) res.write(frame);
    });
  }
  // Central closing: end open streams so app.close() does not wait on them.
  app.addHook('onClose', async () => { for (const res of open) res.end(); open.clear(); });
  const sweep = (now: number) => { for (const [t, exp] of tickets) if (exp <= now) tickets.delete(t); };

  app.post('/api/v1/stream/tickets', {
    config: { permission: 'read' },
    schema: {
      summary: 'A single-use ticket (30 s) to open the live change stream',
      querystring: NO_QUERY,
      response: { 201: { type: 'object', properties: { ticket: { type: 'string' }, expiresAt: { type: 'string' } }, required: ['ticket', 'expiresAt'] } },
    },
  }, async (_req, reply) => {
    const now = Date.now();
    sweep(now);
    if (tickets.size >= MAX_TICKETS) throw new ApiError(429, 'rate-limited', 'too many open stream tickets; retry shortly');
    const ticket = randomBytes(24).toString('base64url');
    tickets.set(ticket, now + TICKET_TTL_MS);
    return reply.code(201).send({ ticket, expiresAt: new Date(now + TICKET_TTL_MS).toISOString() });
  });

  app.get<{ Querystring: { ticket: string } }>('/api/v1/stream', {
    // Authenticated by the ticket below, not by a bearer token (EventSource sends no headers).
    config: { public: true },
    // Request lines are logged at info with their URL: keep even the spent ticket out of them.
    logLevel: 'warn',
    schema: {
      summary: 'Server-Sent Events: `change` notices {topic, subject?} (open with a ticket)',
      querystring: { type: 'object', additionalProperties: false, required: ['ticket'], properties: { ticket: { type: 'string', maxLength: 100 } } },
      response: { 401: errorSchema },
    },
  }, async (req, reply) => {
    const expires = tickets.get(req.query.ticket);
    tickets.delete(req.query.ticket);
    if (!expires || expires <= Date.now()) throw new ApiError(401, 'unauthenticated', 'invalid or expired stream ticket (POST /api/v1/stream/tickets for a new one)');
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    res.write('retry: 3000\n\n');
    open.add(res);
    const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), HEARTBEAT_MS);
    req.raw.on('close', () => { clearInterval(heartbeat); open.delete(res); });
  });
};
