/** Worker thread entry: runs generate-work.ts for generate-pool.ts, one request at a time. */
import { parentPort } from 'node:worker_threads';
import { generateObservedPolicies, type GenerateInput } from './generate-work.js';

parentPort!.on('message', (msg: { id: number; input: GenerateInput }) => {
  try {
    parentPort!.postMessage({ id: msg.id, outcome: generateObservedPolicies(msg.input) });
  } catch (e) {
    parentPort!.postMessage({ id: msg.id, error: e instanceof Error ? e.message : String(e) });
  }
});
