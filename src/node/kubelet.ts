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

export async function readKubeletConfig(h: HostRoot, file: string): Promise<KubeletConfig | { reason: string }> {
  const r = await h.read(file);
  if (!r.ok) return { reason: `kubelet config not readable: ${r.reason}` };
  const doc = parseDocument(r.value);
  if (doc.errors.length) return { reason: `${file}: not valid YAML: ${doc.errors[0]!.message.split('\n')[0]}` };
  const cfg = doc.toJS() as any;
  if (cfg?.kind !== 'KubeletConfiguration') return { reason: `${file}: kind is ${JSON.stringify(cfg?.kind)}, expected KubeletConfiguration` };
  const values = new Map<string, { value: string; path: string }>();
  for (const [flag, path] of FIELDS) {
    let v: any = cfg;
    for (const p of path) v = v?.[p];
    if (v === undefined || v === null) continue;
    const value = Array.isArray(v) ? v.join(',') : typeof v === 'object' ? Object.entries(v).map(([k, x]) => `${k}=${x}`).join(',') : String(v);
    values.set(flag, { value, path: path.join('.') });
  }
  if (cfg.serverTLSBootstrap === true && !values.has('tls-cert-file')) {
    values.set('tls-cert-file', { value: '(serverTLSBootstrap)', path: 'serverTLSBootstrap' });
    values.set('tls-private-key-file', { value: '(serverTLSBootstrap)', path: 'serverTLSBootstrap' });
  }
  return { values, file, defaults: KUBELET_CONFIG_DEFAULTS };
}
