/** Behavioural baselines per workload (issue 19 item 1): what they hold, their lifecycle, their files. */
export { Baseline, BaselineFormatError, DEFAULT_LEARN_MS, type BaselineFile, type BaselineState, type Deviation } from './baseline.js';
export { CHANNELS, argShape, argsShape, dirPrefix, extractFeatures, pathShape, peerShape, toolClass, type Channel, type Feature } from './features.js';
export { normaliseWorkloadArg, ownerFromPodName, workloadOf, type WorkloadIdentity } from './identity.js';
export { BaselineStore } from './store.js';
export { parseDuration } from './duration.js';
