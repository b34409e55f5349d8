/**
 * The kubelet's --config file (KubeletConfiguration, kubelet.config.k8s.io/v1beta1): its
 * fields under the names of the flags they replace, and the defaults that apply when a
 * config file is used (which differ from the flag defaults: anonymous auth off, Webhook
 * authorization, read-only port 0).
 */
import { parseDocument } from 'yaml';
import type { HostRoot } from './host.js';

export const KUBELET_CONFIG_DEFAULTS: Record<string, string> = {
  'anonymous-auth': 'false',
  'authorization-mode': 'Webhook',
  'read-only-port': '0',
  'streaming-connection-idle-timeout': '4h0m0s',
  'make-iptables-util-chains': 'true',
  'rotate-certificates': 'false',
  'protect-kernel-defaults': 'false',
  'pod-max-pids': '-1',
};

const FIELDS: [string, string[]][] = [
  ['anonymous-auth', ['authentication', 'anonymous', 'enabled']],
  ['authorization-mode', ['authorization', 'mode']],
  ['client-ca-file', ['authentication', 'x509', 'clientCAFile']],
  ['read-only-port', ['readOnlyPort']],
  ['streaming-connection-idle-timeout', ['streamingConnectionIdleTimeout']],
  ['make-iptables-util-chains', ['makeIPTablesUtilChains']],
  ['tls-cert-file', ['tlsCertFile']],
  ['tls-private-key-file', ['tlsPrivateKeyFile']],
  ['rotate-certificates', ['rotateCertificates']],
  ['protect-kernel-defaults', ['protectKernelDefaults']],
  ['pod-max-pids', ['podPidsLimit']],
  ['event-qps', ['eventRecordQPS']],
  ['tls-cipher-suites', ['tlsCipherSuites']],
  ['feature-gates', ['featureGates']],
];

export type KubeletConfig = { values: Map<string, { value: string; path: string }>; file: string; defaults: Record<string, string> };

/** kube-proxy's --config (KubeProxyConfiguration): the field CIS 4.3.1 reads. */
const PROXY_FIELDS: [string, string[]][] = [['metrics-bind-address', ['metricsBindAddress']]];

async function readConfigDoc(h: HostRoot, file: string, kind: string): Promise<any | { reason: string }> {
  const r = await h.read(file);
  if (!r.ok) return { reason: `${kind} not readable: ${r.reason}` };
  const doc = parseDocument(r.value);
  if (doc.errors.length) return { reason: `${file}: not valid YAML: ${doc.errors[0]!.message.split('\n')[0]}` };
  const cfg = doc.toJS() as any;
  if (cfg?.kind !== kind) return { reason: `${file}: kind is ${JSON.stringify(cfg?.kind)}, expected ${kind}` };
  return { cfg };
}

function overlay(values: Map<string, { value: string; path: string }>, cfg: any, file: string, fields: [string, string[]][]): void {
  for (const [flag, path] of fields) {
    let v: any = cfg;
    for (const p of path) v = v?.[p];
    if (v === undefined || v === null) continue;
    const value = Array.isArray(v) ? v.join(',') : typeof v === 'object' ? Object.entries(v).map(([k, x]) => `${k}=${x}`).join(',') : String(v);
    values.set(flag, { value, path: `${file}: ${path.join('.')}` });
  }
}

/**
 * The kubelet's --config file, then the drop-ins of --config-dir (`*.conf`, in name order,
 * each a partial KubeletConfiguration overriding what came before, as the kubelet merges them).
 */
export async function readKubeletConfig(h: HostRoot, file: string | undefined, dropinDir?: string): Promise<KubeletConfig | { reason: string }> {
  const values = new Map<string, { value: string; path: string }>();
  const files: string[] = [];
  let tlsBootstrap: string | undefined;
  const add = async (f: string) => {
    const d = await readConfigDoc(h, f, 'KubeletConfiguration');
    if ('reason' in d) return d.reason as string;
    overlay(values, d.cfg, f, FIELDS);
    if (d.cfg.serverTLSBootstrap === true) tlsBootstrap = f;
    files.push(f);
    return undefined;
  };
  if (file) {
    const err = await add(file);
    if (err) return { reason: err };
  }
  if (dropinDir) {
    const l = await h.list(dropinDir);
    if (!l.ok) return { reason: `kubelet --config-dir not readable: ${l.reason}` };
    for (const n of l.value.filter((x) => x.endsWith('.conf'))) {
      const err = await add(`${dropinDir.replace(/\/$/, '')}/${n}`);
      if (err) return { reason: err };
    }
  }
  if (tlsBootstrap && !values.has('tls-cert-file')) {
    values.set('tls-cert-file', { value: '(serverTLSBootstrap)', path: `${tlsBootstrap}: serverTLSBootstrap` });
    values.set('tls-private-key-file', { value: '(serverTLSBootstrap)', path: `${tlsBootstrap}: serverTLSBootstrap` });
  }
  return { values, file: files.join(' + ') || (dropinDir ?? ''), defaults: KUBELET_CONFIG_DEFAULTS };
}

/** kube-proxy's --config file. */
export async function readKubeProxyConfig(h: HostRoot, file: string): Promise<KubeletConfig | { reason: string }> {
  const d = await readConfigDoc(h, file, 'KubeProxyConfiguration');
  if ('reason' in d) return { reason: d.reason };
  const values = new Map<string, { value: string; path: string }>();
  overlay(values, d.cfg, file, PROXY_FIELDS);
  return { values, file, defaults: {} };
}
