/** Library entry points for network segmentation: load manifests, analyze, format. */
import { loadManifests, type LoadNote, type LoadResult } from '../manifests.js';
import type { ClusterSourceOptions } from '../cluster.js';
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
  return modelOf(await loadManifests(paths));
}

/** The connectivity model of loaded objects (manifests or a live cluster). */
export function modelOf({ objects, notes }: LoadResult): LoadedCluster {
  // Kinds outside Kubernetes proper (NADs, UDNs, Routes, VMs…) are netpol's own business.
  return { model: buildModel(objects), notes: notes.filter((n) => !n.message.startsWith('unknown kind ')) };
}

/**
 * What connectivity depends on in a live cluster, as np-guard reads it there: the pods
 * themselves (grouped into workloads by their controller), namespaces, the policies, and
 * services and ConfigMaps (for `generate`'s intent from env). Admin policies are alpha APIs; a cluster without them notes so.
 */
export const LIVE_NETPOL_RESOURCES = [
  { apiVersion: 'v1', kind: 'Namespace' },
  { apiVersion: 'v1', kind: 'Pod' },
  { apiVersion: 'v1', kind: 'Service' },
  { apiVersion: 'v1', kind: 'ConfigMap' },
  { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy' },
  { apiVersion: 'policy.networking.k8s.io/v1alpha1', kind: 'AdminNetworkPolicy' },
  { apiVersion: 'policy.networking.k8s.io/v1alpha1', kind: 'BaselineAdminNetworkPolicy' },
] as const;

/** How to list a live cluster for connectivity (see LIVE_NETPOL_RESOURCES). */
export const LIVE_NETPOL_SOURCE: Omit<ClusterSourceOptions, 'kubeconfig' | 'context'> = { resources: LIVE_NETPOL_RESOURCES, keepOwned: true };

export async function connlistFromPaths(paths: string[], format: ConnlistFormat, focus: FocusOptions = {}): Promise<string> {
  const { model } = await loadCluster(paths);
  return formatConnlist(analyzeConnectivity(model, focus), format, model, focus.conn ? `${focus.conn.protocol} ${focus.conn.port}` : undefined);
}
