/**
 * Central's background jobs (inventory watches, re-matching after a DB update, …): each
 * starts after the server listens and stops when its signal aborts. A new job is one
 * function and one line in CENTRAL_JOBS.
 */
import type { CentralContext } from './context.js';
import { liveInventoryJob } from './live/job.js';
import { exceptionExpiryJob } from './jobs/exception-expiry.js';
import { vulnDbWatchJob } from './images/db-watch.js';
import { imagePolicyJob } from './images/image-policies.js';
import { inUseScanJob } from './images/scan-in-use.js';
import { registryHygieneJob } from './jobs/registry-hygiene.js';
import { leased } from './leases.js';

export interface CentralJobTools {
  /** Central's logger (pino, redacted); jobs never write to the console. */
  log: { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void; error(obj: object, msg?: string): void };
}

/** Runs until `signal` aborts, then resolves; a rejection is logged and does not stop Central. */
export type CentralJob = (ctx: CentralContext, signal: AbortSignal, tools: CentralJobTools) => Promise<void>;

/**
 * The jobs every `gatehouse server` runs (a job's function name is its name in logs).
 * Periodic work is leased (src/central/leases.ts): with several Centrals on one PostgreSQL
 * each runs on one instance at a time, and moves when that instance dies. The image policy
 * job stays on every instance: it evaluates the images pushed to that instance.
 */
export const CENTRAL_JOBS: CentralJob[] = [
  leased('live-inventory', liveInventoryJob),
  leased('exception-expiry', exceptionExpiryJob()),
  imagePolicyJob,
  leased('vuln-db-rematch', vulnDbWatchJob),
  leased('in-use-scan', inUseScanJob),
  leased('registry-hygiene', registryHygieneJob()),
];
