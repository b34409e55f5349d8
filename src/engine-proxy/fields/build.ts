/** Fields of image.build (POST /build query parameters). */
import { fact, type EngineFieldDef } from './fact.js';

export const buildFields: EngineFieldDef[] = [
  fact('build.tags', 'list', 'tags given with t='),
  fact('build.networkMode', 'string', 'networkmode= of the build (host, none, …)'),
  fact('build.remote', 'string', 'remote= build context URL'),
];
