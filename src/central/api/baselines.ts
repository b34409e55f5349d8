/** Behavioural baselines in Central (issue 19): placeholder, filled in by the baselines work. */
import type { ApiModule } from './module.js';

export const baselinesApi: ApiModule = () => {};
