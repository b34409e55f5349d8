/** The object source every Kubernetes command shares: manifest paths, or a live cluster. */
import type { Command } from 'commander';
import { loadClusterObjects, type ClusterSourceOptions } from '../kube/cluster.js';
import { loadManifests, type LoadResult } from '../kube/manifests.js';
import { UserError } from '../util/errors.js';

export interface ClusterCliOptions {
  cluster?: boolean;
  kubeconfig?: string;
  context?: string;
  /** Helm values files and overrides for chart directories among the paths. */
  values?: string[];
  set?: string[];
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

export function addClusterOptions(cmd: Command): Command {
  return cmd
    .option('--cluster', 'read the objects from the live cluster of the kubeconfig instead of files')
    .option('--kubeconfig <file>', 'kubeconfig for --cluster (default: $KUBECONFIG, ~/.kube/config)')
    .option('--context <name>', 'kubeconfig context for --cluster (default: the current one)')
    .option('--values <file>', 'Helm values file for chart directories among the paths, as helm template -f (repeatable; later ones win)', collect)
    .option('--set <key=value>', 'Helm value override for chart directories, as helm template --set (repeatable)', collect);
}

/** Objects from the given paths, or from the cluster with --cluster (then paths must be empty). */
export async function loadObjects(paths: string[], o: ClusterCliOptions, live: Omit<ClusterSourceOptions, 'kubeconfig' | 'context'> = {}): Promise<LoadResult & { cluster?: string }> {
  if (!o.cluster) {
    if (o.kubeconfig || o.context) throw new UserError('--kubeconfig and --context apply to --cluster only', 'usage');
    if (!paths.length) throw new UserError('give manifest files or directories (or - for stdin), or --cluster', 'usage');
    return loadManifests(paths, { render: { values: o.values, set: o.set } });
  }
  if (o.values?.length || o.set?.length) throw new UserError('--values and --set apply to Helm chart directories, not --cluster', 'usage');
  if (paths.length) throw new UserError('--cluster reads the objects from the cluster: give no paths with it', 'usage');
  return loadClusterObjects({ ...live, kubeconfig: o.kubeconfig, context: o.context });
}
