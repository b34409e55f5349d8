/** The workload field set: every Kubernetes field group, one line each. */
import { FieldRegistry } from '../../policy/fields.js';
import { clusterFields } from './cluster.js';
import { containerFields } from './container.js';
import { imageFactsFields } from './image-facts.js';
import type { EvalContext } from './context.js';
import { pssFields } from './pss.js';
import { workloadFields } from './workload.js';

export function workloadFieldRegistry(): FieldRegistry<EvalContext> {
  return new FieldRegistry<EvalContext>()
    .register(workloadFields)
    .register(containerFields)
    .register(clusterFields)
    .register(pssFields)
    .register(imageFactsFields);
}
