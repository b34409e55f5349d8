/**
 * The CI gate (roxctl image check / deployment check): the CLI does the local work (scans
 * the image, reads the manifests) and Central gives the verdict with the policies and
 * exceptions it enforces now. A check stores nothing: it is a question, not an ingest.
 *
 *   POST /api/v1/ci/image-check       {facts}    the `image` subject, as `image scan` builds it
 *   POST /api/v1/ci/deployment-check  {objects}  Kubernetes objects as JSON
 *
 * Both answer {decision, failBuild, violations, excepted}.
 */
import type { Finding } from '../../findings/finding.js';
import { enforcementOf, evaluate, type Subject, type Verdict } from '../../policy/evaluate.js';
import type { Stage } from '../../policy/types.js';
import type { CentralContext } from '../context.js';
import type { StoredException } from '../store/exceptions.js';
import { isUserError } from '../../util/errors.js';
import { ApiError, errorSchema } from './errors.js';
import type { ApiModule } from './module.js';

/** Big enough for the facts of an image with tens of thousands of components, or a large Helm render. */
export const CI_BODY_LIMIT = 32 * 1024 * 1024;

/** Enforcements that fail a CI check: fail-build, and for deployments what admission would deny (as roxctl deployment check fails on deploy-time enforcement). */
const FAILING: Record<'build' | 'deploy', readonly string[]> = {
  build: ['fail-build'],
  deploy: ['fail-build', 'deny-admission'],
};

export interface CiVerdict {
  decision: Verdict['decision'];
  failBuild: boolean;
  violations: Finding[];
  excepted: { policy: string; exception: { id?: string; owner: string; reason: string; expires?: string } }[];
}

const verdictSchema = {
  type: 'object',
  required: ['decision', 'failBuild', 'violations', 'excepted'],
  properties: {
    decision: { type: 'string', enum: ['allow', 'warn', 'deny'] },
    failBuild: { type: 'boolean' },
    violations: { type: 'array', items: { type: 'object', additionalProperties: true } },
    excepted: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          policy: { type: 'string' },
          exception: { type: 'object', properties: { id: { type: 'string' }, owner: { type: 'string' }, reason: { type: 'string' }, expires: { type: 'string' } } },
        },
      },
    },
  },
} as const;

const imageCheckSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['facts'],
  properties: {
    // The image subject's own checker (imageFactsFromData) validates the facts field by field.
    facts: { type: 'object', description: 'the image subject (ImageFacts) as `image scan` builds it; see `gatehouse policy fields --subject image`' },
  },
} as const;

const deploymentCheckSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['objects'],
  properties: {
    objects: { type: 'array', minItems: 1, maxItems: 20_000, items: { type: 'object' }, description: 'Kubernetes objects as JSON (apiVersion, kind, metadata, …)' },
  },
} as const;

/** Evaluates one subject against Central's current policies and exceptions. */
async function check(ctx: CentralContext, subject: Subject, stage: 'build' | 'deploy'): Promise<CiVerdict> {
  const verdict = evaluate(subject, ctx.policies.set, { stage: stage as Stage, now: ctx.now(), exceptions: ctx.policies.exceptions });
  const failing = FAILING[stage];
  return {
    decision: verdict.decision,
    failBuild: verdict.violations.some((v) => enforcementOf(v).some((e) => failing.includes(e))),
    violations: verdict.violations,
    excepted: verdict.excepted.map(({ finding, exception: e }) => ({
      policy: finding.policy?.id ?? finding.id,
      exception: { ...((e as Partial<StoredException>).id ? { id: (e as StoredException).id } : {}), owner: e.owner, reason: e.reason, ...(e.expires ? { expires: e.expires } : {}) },
    })),
  };
}

export const ciApi: ApiModule = (app, ctx) => {
  app.post<{ Body: { facts: unknown } }>('/api/v1/ci/image-check', {
    bodyLimit: CI_BODY_LIMIT,
    config: { permission: 'ci:check' },
    schema: {
      summary: "Verdict of Central's build-stage image policies and exceptions on one scanned image (stores nothing)",
      body: imageCheckSchema,
      response: { 200: verdictSchema, 400: errorSchema },
    },
  }, async (req) => {
    const adapter = ctx.policies.subjects.require('image');
    const facts = (await adapter.fromData!(req.body.facts, 'facts')) as { now: string };
    // Age and expiry are judged by Central's clock, not the runner's.
    facts.now = ctx.now().toISOString();
    return check(ctx, { kind: 'image', value: facts }, 'build');
  });

  app.post<{ Body: { objects: unknown[] } }>('/api/v1/ci/deployment-check', {
    bodyLimit: CI_BODY_LIMIT,
    config: { permission: 'ci:check' },
    schema: {
      summary: "Verdict of Central's deploy-stage workload policies and exceptions on manifests (stores nothing)",
      body: deploymentCheckSchema,
      response: { 200: verdictSchema, 400: errorSchema },
    },
  }, async (req) => {
    // An empty file name: positions in the request body mean nothing to the caller, who maps findings back to its files.
    let subject: unknown;
    try {
      subject = await ctx.policies.subjects.require('workload').fromData!(req.body.objects, '');
    } catch (e) {
      if (!isUserError(e)) throw e;
      throw new ApiError(400, 'bad-request', `objects: ${e.message.replace(/^:\s*/, '')}`);
    }
    return check(ctx, { kind: 'workload', value: subject }, 'deploy');
  });
};
