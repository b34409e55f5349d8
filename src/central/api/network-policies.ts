/** Placeholder registered ahead of its owner's work (session 4); replaced by the real module. */
import type { ApiModule } from './module.js';

export const networkPoliciesApi: ApiModule = () => {};
