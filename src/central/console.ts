/**
 * Serves the web console (web/, built into web/dist by `npm run build`) at `/` from the same
 * origin as the API. Its files are public — they hold no data; every API call still needs a
 * token. Paths that are not files and not API routes get index.html, so the console's path
 * routes (/deployments/…) can be shared as links.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';

/** web/dist beside src/ or dist/ (both are one level below the package root). */
export const CONSOLE_DIR = fileURLToPath(new URL('../../web/dist/', import.meta.url));

/** Everything from Central's own origin: nothing from a CDN, no inline script. */
const CSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

const isApiPath = (url: string) => url.startsWith('/api/') || url === '/healthz' || url === '/readyz';

export async function registerConsole(app: FastifyInstance, root = CONSOLE_DIR): Promise<void> {
  await app.register(async (scope) => {
    // Console routes need no token: mark every route of this scope public.
    scope.addHook('onRoute', (route) => { route.config = { ...(route.config as object), public: true }; });
    scope.addHook('onSend', async (_req, reply, payload) => {
      reply.header('content-security-policy', CSP).header('x-content-type-options', 'nosniff').header('referrer-policy', 'no-referrer');
      return payload;
    });
    if (!existsSync(`${root}index.html`)) {
      scope.get('/', { schema: { hide: true } }, async (_req, reply) => reply.code(503).type('text/plain').send('The web console is not built: run `npm run build` (the API is at /api/v1).\n'));
      return;
    }
    // wildcard: false registers one route per built file, so the SPA fallback below can be a wildcard.
    await scope.register(fastifyStatic, { root, wildcard: false, index: false, schemaHide: true, cacheControl: false,
      setHeaders: (res, path) => res.header('cache-control', path.includes('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache') });
    const sendIndex = (reply: { header(k: string, v: string): unknown; sendFile(f: string): unknown }) => {
      reply.header('cache-control', 'no-cache');
      return reply.sendFile('index.html');
    };
    scope.get('/', { schema: { hide: true } }, async (_req, reply) => sendIndex(reply));
    scope.get('/*', { schema: { hide: true } }, async (req, reply) => {
      if (isApiPath(req.url) || req.url.startsWith('/assets/')) return reply.callNotFound();
      return sendIndex(reply);
    });
  });
}
