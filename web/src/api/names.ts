/**
 * Workload identities (`k8s:<cluster>/<ns>/<Kind>/<name>/<container>`, `host:<host>/<image>/<container>`,
 * src/runtime/baseline/identity.ts) as people read them. Pure functions (the browser tests use them too).
 */
export interface WorkloadName { label: string; cluster?: string; namespace?: string; host?: string }

export function workloadParts(id: string): WorkloadName {
  if (id.startsWith('k8s:')) {
    const [cluster, namespace, kind, name, container] = id.slice(4).split('/');
    return { label: `${namespace}/${kind}/${name}${container && container !== name ? ` (${container})` : ''}`, cluster, namespace };
  }
  if (id.startsWith('host:')) {
    const parts = id.slice(5).split('/');
    const host = parts[0];
    const container = parts[parts.length - 1];
    return { label: parts.length > 1 ? `${host}: ${container}` : `${host} (host)`, host, ...(host ? { cluster: host } : {}) };
  }
  return { label: id };
}

/** A title with the workload identities in it shortened: `… in k8s:default/shop/Deployment/web/web` → `… in shop/Deployment/web`. */
export function readableTitle(title: string): string {
  return title.replace(/\b(k8s|host):[^\s,()→]+?(?=(:\d+)?(\s|$|[,()→]))/g, (id) => workloadParts(id).label);
}
