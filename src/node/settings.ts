/**
 * What a check reads of one component instance: a setting by its flag name, resolved from
 * the flags, else from the component's config file (kubelet --config), else its default —
 * with one line of evidence saying which.
 */
import type { HostRoot } from './host.js';
import type { Component, FlagSource } from './flags.js';

export interface Setting {
  value: string | undefined;
  evidence: string;
}

export interface Instance {
  component: Component;
  source: FlagSource;
  h: HostRoot;
  /** A setting by flag name; `dflt` is the component's default when nothing sets it. */
  get(flag: string, dflt?: string): Setting;
  /** Notes on how the instance was read (config file not readable, …). */
  problems: string[];
  /** Instances of other components on this node (for checks across components, CIS 2.7). */
  peers(component: Component): Instance[];
}

export function flagInstance(
  h: HostRoot,
  source: FlagSource,
  config?: { values: Map<string, { value: string; path: string }>; file: string; defaults: Record<string, string> },
  all?: Map<Component, Instance[]>,
): Instance {
  const problems: string[] = [];
  return {
    component: source.component,
    source,
    h,
    problems,
    peers: (c) => all?.get(c) ?? [],
    get(flag: string, dflt?: string): Setting {
      const v = source.flags.get(flag);
      if (v?.length) {
        const value = v.at(-1)!;
        const by = source.defaulted?.has(flag) ? ' (written by kubeadm)' : '';
        return { value, evidence: `--${flag}=${value}${by}` };
      }
      const envName = `ETCD_${flag.toUpperCase().replace(/-/g, '_')}`;
      const e = source.env?.get(envName);
      if (e !== undefined) return { value: e, evidence: `${envName}=${e} (environment)` };
      const c = config?.values.get(flag);
      if (c) return { value: c.value, evidence: `${c.path}: ${c.value}` };
      const cd = config?.defaults[flag];
      if (config && cd !== undefined) return { value: cd, evidence: `--${flag} not set and ${config.file} does not set it (config default ${cd})` };
      return { value: dflt, evidence: `--${flag} not set${dflt !== undefined ? ` (default ${dflt})` : ''}` };
    },
  };
}

export const listOf = (v: string | undefined): string[] => (v ? v.split(',').map((s) => s.trim()).filter(Boolean) : []);

/** `--feature-gates=A=true,B=false` → value of one gate. */
export function featureGate(v: string | undefined, gate: string): string | undefined {
  for (const kv of listOf(v)) {
    const [k, x] = kv.split('=');
    if (k?.trim() === gate) return x?.trim();
  }
  return undefined;
}
