/**
 * Central's access log: one line per request, written when it ends, with what fastify's two
 * default lines said between them (method, URL, client address, status, time, request id).
 * Fastify logs each request twice ("incoming request", then "request completed"), each line
 * a redaction pass and a synchronous write: ~0.9 ms of the main thread per image push in the
 * ingest profiles (session 7), for a line that repeats the other. A request that never ends
 * (the process dies under it) has no line; its absence and the crash's own log say that much.
 * Errors are logged as fastify logs them (its other LogController methods are kept).
 */
import { LogController, type FastifyReply, type FastifyRequest } from 'fastify';

export class AccessLogController extends LogController {
  /** The client's address, read when the request arrives: once a client has closed its socket, node no longer knows it. */
  private readonly addresses = new WeakMap<FastifyRequest, string | undefined>();

  override incomingRequest(request: FastifyRequest): void {
    if (!this.isLogDisabled(request)) this.addresses.set(request, request.ip);
  }

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (this.isLogDisabled(request)) return;
    // Plain fields, not the request object: never its headers. Fastify's `req` serializer still
    // runs on them (method, url, and `ip` as remoteAddress), so the line has its usual shape.
    const line = { req: { method: request.method, url: request.url, ip: this.addresses.get(request) }, res: { statusCode: reply.statusCode }, responseTime: reply.elapsedTime };
    if (error) reply.log.error({ ...line, err: error }, 'request errored');
    else reply.log.info(line, 'request completed');
  }
}
