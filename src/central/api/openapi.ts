/** The OpenAPI 3.1 document, generated from the routes' JSON schemas by @fastify/swagger. */
import type { ApiModule } from './module.js';

export const openapiApi: ApiModule = (app) => {
  app.get('/api/v1/openapi.json', { config: { permission: 'read' }, schema: { hide: true } }, async () => app.swagger());
};
