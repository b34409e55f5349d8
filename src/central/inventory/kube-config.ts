/** A cluster's connection from a kubeconfig file, the default kubeconfig, or the pod's service account. */
import { existsSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import { UserError, describeError } from '../../util/errors.js';

export interface KubeConfigOptions {
  /** A kubeconfig file (default: $KUBECONFIG, then ~/.kube/config). */
  kubeconfigFile?: string;
  /** A context of that kubeconfig (default: its current context). */
  context?: string;
  /** Use the service account of the pod Central runs in. */
  inCluster?: boolean;
}

export function kubeConfigFrom(opts: KubeConfigOptions = {}): KubeConfig {
  const kc = new KubeConfig();
  if (opts.inCluster) {
    if (opts.kubeconfigFile) throw new UserError('a cluster is either in-cluster or from a kubeconfig, not both', 'usage');
    if (!process.env.KUBERNETES_SERVICE_HOST) throw new UserError('not running inside a Kubernetes pod (KUBERNETES_SERVICE_HOST is not set)', 'usage');
    try {
      kc.loadFromCluster();
    } catch (e) {
      throw new UserError(`cannot use the pod's service account: ${describeError(e)}`, 'usage');
    }
    return kc;
  }
  const file = opts.kubeconfigFile;
  try {
    if (file) {
      if (!existsSync(file)) throw new UserError(`kubeconfig ${file} does not exist`, 'usage');
      kc.loadFromFile(file);
    } else kc.loadFromDefault();
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(`cannot read the kubeconfig${file ? ` ${file}` : ''}: ${describeError(e)}`, 'usage');
  }
  if (opts.context) {
    if (!kc.getContextObject(opts.context)) {
      throw new UserError(`context "${opts.context}" is not in the kubeconfig (known: ${kc.getContexts().map((c) => c.name).join(', ') || 'none'})`, 'usage');
    }
    kc.setCurrentContext(opts.context);
  }
  if (!kc.getCurrentCluster()) throw new UserError(`the kubeconfig${file ? ` ${file}` : ''} names no current cluster (give a context)`, 'usage');
  return kc;
}
