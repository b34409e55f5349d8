/** A cluster's connection from a kubeconfig file, the default kubeconfig, or the pod's service account. */
import type { KubeConfig } from '@kubernetes/client-node';
import { readKubeConfig } from '../../kube/cluster.js';

export interface KubeConfigOptions {
  /** A kubeconfig file (default: $KUBECONFIG, then ~/.kube/config). */
  kubeconfigFile?: string;
  /** A context of that kubeconfig (default: its current context). */
  context?: string;
  /** Use the service account of the pod Central runs in. */
  inCluster?: boolean;
}

export function kubeConfigFrom(opts: KubeConfigOptions = {}): KubeConfig {
  return readKubeConfig({ file: opts.kubeconfigFile, context: opts.context, inCluster: opts.inCluster });
}
