/** Registers every Kubernetes field with the policy field registry (one line per group). */
import { registerFields } from '../../policy/fields.js';
import { clusterFields } from './cluster.js';
import { containerFields } from './container.js';
import { pssFields } from './pss.js';
import { workloadFields } from './workload.js';

let registered = false;
export function registerKubeFields(): void {
  if (registered) return;
  registered = true;
  registerFields(workloadFields);
  registerFields(containerFields);
  registerFields(clusterFields);
  registerFields(pssFields);
}
