/** One API resource = one file exporting an ApiModule, listed once in index.ts. */
import type { FastifyInstance } from 'fastify';
import type { CentralContext } from '../context.js';

export type ApiModule = (app: FastifyInstance, ctx: CentralContext) => void | Promise<void>;
