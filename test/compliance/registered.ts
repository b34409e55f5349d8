/** Checks other engines register (node and control-plane checks), for the framework catalog in tests. */
import type { RegisteredCheck } from '../../src/compliance/index.js';

export async function registeredChecks(): Promise<RegisteredCheck[]> {
  return [];
}
