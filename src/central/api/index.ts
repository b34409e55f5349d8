/** Every API resource, registered once. A new resource is one file and one line here. */
import type { ApiModule } from './module.js';
import { healthApi } from './health.js';
import { openapiApi } from './openapi.js';
import { tokensApi } from './tokens.js';

export const API_MODULES: ApiModule[] = [
  healthApi,
  openapiApi,
  tokensApi,
];
