/**
 * Permissions and ownership of the files CIS sections 1.1 and 4.1 list: static-pod
 * manifests, kubeconfigs, the PKI directory, the etcd data directory, the kubelet's unit,
 * kubeconfig, CA and config files. A file that does not exist is not applicable; one that
 * cannot be examined is unknown.
 */
import type { Stats } from 'node:fs';
import type { Severity } from '../findings/finding.js';
import type { HostRoot } from './host.js';
import { fail, notApplicable, pass, unknown, type Outcome } from './result.js';

export interface FileCheck {
  id: string;
  cis: string;
  title: string;
  severity: Severity;
  manual?: boolean;
  remediation: string;
  /** Candidate paths (the first that exists is checked), or every file of a directory. */
  paths: string[];
  expand?: 'dir-files' | 'dir-tree';
  /** Only files whose name matches. */
  match?: RegExp;
  want: { mode?: number } | { owner: [string, string] };
}

const octal = (m: number) => (m & 0o7777).toString(8).padStart(3, '0');

async function idNames(h: HostRoot): Promise<{ user(uid: number): string; group(gid: number): string }> {
  const parse = (text: string) => new Map(text.split('\n').filter(Boolean).map((l) => l.split(':')).map((f) => [Number(f[2]), f[0]!] as [number, string]));
  const pw = await h.read('/etc/passwd');
  const gr = await h.read('/etc/group');
  const users = pw.ok ? parse(pw.value) : new Map<number, string>();
  const groups = gr.ok ? parse(gr.value) : new Map<number, string>();
  users.set(0, 'root');
  groups.set(0, 'root');
  return { user: (u) => users.get(u) ?? String(u), group: (g) => groups.get(g) ?? String(g) };
}

function judge(c: FileCheck, path: string, st: Stats, names: { user(uid: number): string; group(gid: number): string }): { ok: boolean; evidence: string } {
  if ('mode' in c.want && c.want.mode !== undefined) {
    const extra = st.mode & 0o777 & ~c.want.mode;
    return { ok: extra === 0, evidence: `${path}: mode ${octal(st.mode)}${extra ? ` (CIS wants ${octal(c.want.mode)} or more restrictive)` : ''}` };
  }
  const [u, g] = (c.want as { owner: [string, string] }).owner;
  const owner = `${names.user(st.uid)}:${names.group(st.gid)}`;
  return { ok: owner === `${u}:${g}`, evidence: `${path}: owner ${owner}${owner === `${u}:${g}` ? '' : ` (CIS wants ${u}:${g})`}` };
}

export async function runFileCheck(h: HostRoot, c: FileCheck): Promise<Outcome> {
  if (c.paths.length === 0) return notApplicable('no such file is configured on this node');
  const names = await idNames(h);
  const problems: string[] = [];
  for (const p of c.paths) {
    const st = await h.stat(p);
    if (!st.ok) {
      if (st.absent) continue;
      return unknown(st.reason);
    }
    let targets: string[] = [p];
    if (c.expand) {
      if (!st.value.isDirectory()) return unknown(`${p}: not a directory`);
      targets = c.expand === 'dir-tree' ? [p, ...(await walk(h, p))] : (await walk(h, p, false));
      if (c.match) targets = targets.filter((t) => c.match!.test(t));
      if (targets.length === 0) return notApplicable(`${p}: no matching files`);
    }
    const evidence: string[] = [];
    const bad: string[] = [];
    for (const t of targets) {
      const s = t === p ? st : await h.stat(t);
      if (!s.ok) {
        problems.push(s.reason);
        continue;
      }
      const j = judge(c, t, s.value, names);
      evidence.push(j.evidence);
      if (!j.ok) bad.push(j.evidence);
    }
    if (bad.length) return fail(evidence.length > 20 ? [...bad, `… ${evidence.length - bad.length} more file(s) fine`] : evidence, bad.slice(0, 5).join('; '), p);
    if (problems.length) return unknown(problems.join('; '), evidence);
    return pass(evidence, p);
  }
  return notApplicable(`${c.paths.join(', ')}: ${c.paths.length > 1 ? 'none exists' : 'does not exist'}`);
}

async function walk(h: HostRoot, dir: string, deep = true): Promise<string[]> {
  const l = await h.list(dir);
  if (!l.ok) return [];
  const out: string[] = [];
  for (const n of l.value) {
    const p = `${dir.replace(/\/$/, '')}/${n}`;
    const st = await h.stat(p, false);
    if (!st.ok) continue;
    if (st.value.isDirectory()) {
      if (deep) out.push(p, ...(await walk(h, p)));
    } else if (st.value.isFile()) out.push(p);
  }
  return out;
}

const perm = (id: string, cis: string, what: string, paths: string[], mode = 0o600, manual = false, extra: Partial<FileCheck> = {}): FileCheck => ({
  id, cis, title: `Ensure that the ${what} permissions are set to ${octal(mode)} or more restrictive`, severity: 'MEDIUM', manual, remediation: `chmod ${octal(mode)} ${paths[0]}`, paths, want: { mode }, ...extra,
});
const own = (id: string, cis: string, what: string, paths: string[], owner: [string, string] = ['root', 'root'], manual = false, extra: Partial<FileCheck> = {}): FileCheck => ({
  id, cis, title: `Ensure that the ${what} ownership is set to ${owner.join(':')}`, severity: 'MEDIUM', manual, remediation: `chown ${owner.join(':')} ${paths[0]}`, paths, want: { owner }, ...extra,
});

/** Where things are on this node: from the components' flags when known, else kubeadm's paths. */
export interface NodePaths {
  manifests: string;
  pki: string;
  etcdDataDir: string;
  schedulerKubeconfig: string;
  controllerManagerKubeconfig: string;
  kubeletKubeconfig: string;
  kubeletConfig: string;
  kubeletClientCA?: string;
  proxyKubeconfig?: string;
  /** The administrative kubeconfigs (kubeadm: admin.conf, super-admin.conf). */
  adminKubeconfigs: string[];
  /** The kubelet's systemd unit and drop-ins (the first that exists is checked). */
  kubeletServices: string[];
}

export function fileChecks(p: NodePaths): FileCheck[] {
  const m = (n: string) => [`${p.manifests}/${n}.yaml`, `${p.manifests}/${n}.yml`, `${p.manifests}/${n}.manifest`];
  const kubeletUnits = p.kubeletServices;
  return [
    perm('node.files.apiserver-manifest-mode', '1.1.1', 'API server pod specification file', m('kube-apiserver')),
    own('node.files.apiserver-manifest-owner', '1.1.2', 'API server pod specification file', m('kube-apiserver')),
    perm('node.files.controller-manager-manifest-mode', '1.1.3', 'controller manager pod specification file', m('kube-controller-manager')),
    own('node.files.controller-manager-manifest-owner', '1.1.4', 'controller manager pod specification file', m('kube-controller-manager')),
    perm('node.files.scheduler-manifest-mode', '1.1.5', 'scheduler pod specification file', m('kube-scheduler')),
    own('node.files.scheduler-manifest-owner', '1.1.6', 'scheduler pod specification file', m('kube-scheduler')),
    perm('node.files.etcd-manifest-mode', '1.1.7', 'etcd pod specification file', m('etcd')),
    own('node.files.etcd-manifest-owner', '1.1.8', 'etcd pod specification file', m('etcd')),
    perm('node.files.cni-mode', '1.1.9', 'Container Network Interface file', ['/etc/cni/net.d'], 0o600, true, { expand: 'dir-files' }),
    own('node.files.cni-owner', '1.1.10', 'Container Network Interface file', ['/etc/cni/net.d'], ['root', 'root'], true, { expand: 'dir-files' }),
    perm('node.files.etcd-data-dir-mode', '1.1.11', 'etcd data directory', [p.etcdDataDir], 0o700, false, { severity: 'HIGH' }),
    own('node.files.etcd-data-dir-owner', '1.1.12', 'etcd data directory', [p.etcdDataDir], ['etcd', 'etcd']),
    perm('node.files.admin-kubeconfig-mode', '1.1.13', 'default administrative credential file', p.adminKubeconfigs, 0o600, false, { severity: 'HIGH' }),
    own('node.files.admin-kubeconfig-owner', '1.1.14', 'default administrative credential file', p.adminKubeconfigs),
    perm('node.files.scheduler-kubeconfig-mode', '1.1.15', 'scheduler.conf file', [p.schedulerKubeconfig]),
    own('node.files.scheduler-kubeconfig-owner', '1.1.16', 'scheduler.conf file', [p.schedulerKubeconfig]),
    perm('node.files.controller-manager-kubeconfig-mode', '1.1.17', 'controller-manager.conf file', [p.controllerManagerKubeconfig]),
    own('node.files.controller-manager-kubeconfig-owner', '1.1.18', 'controller-manager.conf file', [p.controllerManagerKubeconfig]),
    own('node.files.pki-owner', '1.1.19', 'Kubernetes PKI directory and file', [p.pki], ['root', 'root'], false, { expand: 'dir-tree' }),
    perm('node.files.pki-cert-mode', '1.1.20', 'Kubernetes PKI certificate file', [p.pki], 0o600, true, { expand: 'dir-files', match: /\.crt$/ }),
    perm('node.files.pki-key-mode', '1.1.21', 'Kubernetes PKI key file', [p.pki], 0o600, true, { expand: 'dir-files', match: /\.key$/, severity: 'HIGH' }),
    perm('node.files.kubelet-service-mode', '4.1.1', 'kubelet service file', kubeletUnits),
    own('node.files.kubelet-service-owner', '4.1.2', 'kubelet service file', kubeletUnits),
    perm('node.files.proxy-kubeconfig-mode', '4.1.3', 'proxy kubeconfig file', p.proxyKubeconfig ? [p.proxyKubeconfig] : [], 0o600, true),
    own('node.files.proxy-kubeconfig-owner', '4.1.4', 'proxy kubeconfig file', p.proxyKubeconfig ? [p.proxyKubeconfig] : [], ['root', 'root'], true),
    perm('node.files.kubelet-kubeconfig-mode', '4.1.5', '--kubeconfig kubelet.conf file', [p.kubeletKubeconfig]),
    own('node.files.kubelet-kubeconfig-owner', '4.1.6', '--kubeconfig kubelet.conf file', [p.kubeletKubeconfig]),
    perm('node.files.kubelet-client-ca-mode', '4.1.7', 'certificate authorities file', p.kubeletClientCA ? [p.kubeletClientCA] : [], 0o600, true),
    own('node.files.kubelet-client-ca-owner', '4.1.8', 'client certificate authorities file', p.kubeletClientCA ? [p.kubeletClientCA] : [], ['root', 'root'], true),
    perm('node.files.kubelet-config-mode', '4.1.9', 'kubelet config.yaml configuration file', [p.kubeletConfig]),
    own('node.files.kubelet-config-owner', '4.1.10', 'kubelet config.yaml configuration file', [p.kubeletConfig]),
  ];
}
