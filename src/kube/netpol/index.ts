/** Library entry points for network segmentation: load manifests, analyze, format. */
import type { LoadNote } from './load.js';
import { loadNetpolObjects } from './load.js';
import { buildModel, type ClusterModel } from './model.js';
import { analyzeConnectivity, type Connection, type FocusOptions } from './analyze.js';
import { formatConnlist, type ConnlistFormat } from './connlist.js';

export { analyzeConnectivity, formatConnlist, buildModel };
export { parseFocusConn } from './focus.js';
export { unprotectedWorkloads, unprotectedFindings, type UnprotectedWorkload } from './unprotected.js';
export { parseIntentFile, inferIntentFromEnv, type IntentConnection, type Endpoint } from './intent.js';
export { generatePolicies, policiesToYaml, verifyGenerated, type Mismatch, type GenerateResult } from './generate.js';
export type { Connection, FocusOptions, ConnlistFormat, ClusterModel };

export interface LoadedCluster {
  model: ClusterModel;
  notes: LoadNote[];
}

export async function loadCluster(paths: string[]): Promise<LoadedCluster> {
  const { objects, notes } = await loadNetpolObjects(paths);
  return { model: buildModel(objects), notes };
}

export async function connlistFromPaths(paths: string[], format: ConnlistFormat, focus: FocusOptions = {}): Promise<string> {
  const { model } = await loadCluster(paths);
  return formatConnlist(analyzeConnectivity(model, focus), format, model, focus.conn ? `${focus.conn.protocol} ${focus.conn.port}` : undefined);
}
