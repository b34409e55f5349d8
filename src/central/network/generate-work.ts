/**
 * The CPU-heavy part of `POST /api/v1/network/policies/generate`: the connectivity model, the
 * observed edges mapped onto it, intents, and the generator with its before/after simulation
 * (two netpol analyses: seconds of CPU at thousands of workloads). Pure and synchronous, so it
 * runs in a worker thread (generate-pool.ts) and Central's event loop keeps serving.
 */
import { buildModel, type NetpolObject } from '../../kube/netpol/model.js';
import { inferIntentFromEnv, parseIntentFile, type IntentConnection } from '../../kube/netpol/intent.js';
import type { NetworkGraph } from '../../network/graph-types.js';
import { observedFromGraph } from '../../network/observed-graph.js';
import { generateFromObserved } from '../../network/observed-policy.js';
import { isUserError } from '../../util/errors.js';

export interface GenerateOptions {
  namespace?: string;
  learning?: 'open' | 'enforce';
  exclude?: string[];
  keepExisting?: boolean;
  intent?: string;
  env?: boolean;
  limit?: number;
}

export interface GenerateInput {
  clusterName: string;
  objects: NetpolObject[];
  graph: NetworkGraph;
  options: GenerateOptions;
}

/** A request the input cannot satisfy: the route answers it with this status. */
export interface GenerateRefusal { refused: { status: 400 | 422; code: string; message: string } }

export type GenerateOutcome = { result: Record<string, unknown> } | GenerateRefusal;

export function generateObservedPolicies(input: GenerateInput): GenerateOutcome {
  const { clusterName, objects, graph, options } = input;
  let model;
  try {
    model = buildModel(objects);
  } catch (e) {
    if (isUserError(e)) return { refused: { status: 422, code: 'bad-policy', message: `cluster ${clusterName}: ${e.message.split('\n')[0]}` } };
    throw e;
  }
  const observed = observedFromGraph(graph, model);
  const intents: IntentConnection[] = [];
  if (options.intent !== undefined) {
    try {
      intents.push(...parseIntentFile(options.intent, 'intent', model));
    } catch (e) {
      if (isUserError(e)) return { refused: { status: 400, code: 'bad-intent', message: e.message.split('\n')[0]! } };
      throw e;
    }
  }
  if (options.env !== false) intents.push(...inferIntentFromEnv(model));
  const res = generateFromObserved(model, { edges: observed.edges, learning: observed.learning }, {
    intents, learning: options.learning, namespace: options.namespace, exclude: options.exclude, keepExisting: options.keepExisting, limit: options.limit,
  });
  return {
    result: {
      cluster: clusterName,
      yaml: res.yaml,
      policies: res.policies,
      simulation: res.simulation,
      learning: res.learning,
      unobserved: res.unobserved,
      intents: res.intents,
      notes: [...observed.notes, ...res.notes],
      assumptions: res.assumptions,
    },
  };
}
