/**
 * The container engine's configuration: Docker (daemon.json, dockerd's process, its socket)
 * and Podman (containers.conf and its drop-ins, the API service process, its socket); on
 * Kubernetes nodes the CRI runtimes containerd and CRI-O (their process and socket: the
 * daemon.json-style settings are per pod there, set by the kubelet, so not applicable).
 * Rootless, user-namespace remapping, no-new-privileges, live-restore, socket permissions.
 */
import type { Severity } from '../findings/finding.js';
import type { HostRoot } from './host.js';
import { fail, notApplicable, pass, unknown, type Outcome } from './result.js';

export interface EngineState {
  name: 'docker' | 'podman' | 'containerd' | 'cri-o';
  /** Evidence that the engine is installed or running. */
  seen: string[];
  /** uid of each running daemon / API service process. */
  daemons: { pid: number; uid: number }[];
  config: Map<string, { value: unknown; file: string }>;
  configProblems: string[];
  sockets: { path: string; mode: number; uid: number; gid: number }[];
}

/** Minimal TOML for containers.conf: [tables], key = string | bool | number | one-line array. */
export function parseSimpleToml(text: string, file: string, into: Map<string, { value: unknown; file: string }>, problems: string[]): void {
  let table = '';
  text.split('\n').forEach((raw, n) => {
    const line = raw.replace(/^\s+|\s+$/g, '');
    if (!line || line.startsWith('#')) return;
    const t = /^\[\s*([A-Za-z0-9_.-]+)\s*\]$/.exec(line);
    if (t) {
      table = t[1]!;
      return;
    }
    const kv = /^([A-Za-z0-9_-]+)\s*=\s*(.*)$/.exec(line);
    if (!kv) return; // multi-line arrays and inline tables: not needed for the keys read here
    let v = kv[2]!.replace(/\s+#[^"']*$/, '');
    let value: unknown;
    if (/^".*"$|^'.*'$/.test(v)) value = v.slice(1, -1);
    else if (v === 'true' || v === 'false') value = v === 'true';
    else if (/^-?\d+$/.test(v)) value = Number(v);
    else if (v.startsWith('[') && v.endsWith(']')) value = [...v.matchAll(/"([^"]*)"|'([^']*)'/g)].map((m) => m[1] ?? m[2]);
    else {
      v = v.trim();
      if (v.startsWith('[')) return;
      problems.push(`${file}:${n + 1}: cannot read value of ${kv[1]}`);
      return;
    }
    into.set(`${table ? `${table}.` : ''}${kv[1]}`, { value, file });
  });
}

/** Every process's argv, read once per check. */
async function listProcesses(h: HostRoot): Promise<{ pid: number; argv: string[] }[]> {
  const l = await h.list('/proc');
  if (!l.ok) return [];
  const out = [];
  for (const d of l.value.filter((x) => /^\d+$/.test(x))) {
    const c = await h.readBytes(`/proc/${d}/cmdline`);
    if (c.ok) out.push({ pid: Number(d), argv: c.value.toString('utf8').split('\0').filter(Boolean) });
  }
  return out;
}

/** Processes whose command (flags left out) matches, with their real uid. */
async function processesNamed(h: HostRoot, procs: { pid: number; argv: string[] }[], names: RegExp): Promise<{ pid: number; uid: number }[]> {
  const out = [];
  for (const { pid, argv } of procs) {
    if (!argv[0] || !names.test(argv.filter((a, i) => i === 0 || !a.startsWith('-')).join(' '))) continue;
    const st = await h.read(`/proc/${pid}/status`);
    out.push({ pid, uid: st.ok ? Number(/^Uid:\s*(\d+)/m.exec(st.value)?.[1] ?? NaN) : NaN });
  }
  return out;
}

async function socketsAt(h: HostRoot, paths: string[]) {
  const out: EngineState['sockets'] = [];
  const seen = new Set<string>();
  for (const p of paths) {
    const st = await h.stat(p);
    if (!st.ok || !st.value.isSocket() || seen.has(`${st.value.dev}:${st.value.ino}`)) continue;
    seen.add(`${st.value.dev}:${st.value.ino}`);
    if (st.ok && st.value.isSocket()) out.push({ path: p, mode: st.value.mode & 0o7777, uid: st.value.uid, gid: st.value.gid });
  }
  return out;
}

export async function readEngines(h: HostRoot): Promise<EngineState[]> {
  const engines: EngineState[] = [];
  const procs = await listProcesses(h);
  // Docker
  {
    const config = new Map<string, { value: unknown; file: string }>();
    const problems: string[] = [];
    const seen: string[] = [];
    const dj = await h.read('/etc/docker/daemon.json');
    if (dj.ok) {
      seen.push('/etc/docker/daemon.json');
      try {
        const o = JSON.parse(dj.value) as Record<string, unknown>;
        for (const [k, v] of Object.entries(o)) config.set(k, { value: v, file: '/etc/docker/daemon.json' });
      } catch (e) {
        problems.push(`/etc/docker/daemon.json: not valid JSON: ${(e as Error).message}`);
      }
    } else if (!dj.absent) problems.push(dj.reason);
    const daemons = await processesNamed(h, procs, /(^|\/)dockerd(\s|$)/);
    for (const d of daemons) seen.push(`dockerd pid ${d.pid} (uid ${d.uid})`);
    const sockets = await socketsAt(h, ['/run/docker.sock', '/var/run/docker.sock']);
    for (const s of sockets) seen.push(s.path);
    if (seen.length || problems.length) engines.push({ name: 'docker', seen, daemons, config, configProblems: problems, sockets });
  }
  // Podman
  {
    const config = new Map<string, { value: unknown; file: string }>();
    const problems: string[] = [];
    const seen: string[] = [];
    const files = ['/usr/share/containers/containers.conf', '/etc/containers/containers.conf'];
    const dropins = await h.list('/etc/containers/containers.conf.d');
    if (dropins.ok) files.push(...dropins.value.filter((f) => f.endsWith('.conf')).map((f) => `/etc/containers/containers.conf.d/${f}`));
    for (const f of files) {
      const r = await h.read(f);
      if (r.ok) {
        seen.push(f);
        parseSimpleToml(r.value, f, config, problems);
      } else if (!r.absent) problems.push(r.reason);
    }
    const daemons = await processesNamed(h, procs, /(^|\/)podman\s(.*\s)?system\s+service\b/);
    for (const d of daemons) seen.push(`podman system service pid ${d.pid} (uid ${d.uid})`);
    const sockets = await socketsAt(h, ['/run/podman/podman.sock', '/var/run/podman/podman.sock']);
    for (const s of sockets) seen.push(s.path);
    if (seen.length || problems.length) engines.push({ name: 'podman', seen, daemons, config, configProblems: problems, sockets });
  }
  // CRI runtimes: process and socket.
  for (const [name, proc, socks] of [
    ['containerd', /(^|\/)containerd(\s|$)/, ['/run/containerd/containerd.sock']],
    ['cri-o', /(^|\/)crio(\s|$)/, ['/run/crio/crio.sock', '/var/run/crio/crio.sock']],
  ] as const) {
    const daemons = await processesNamed(h, procs, proc);
    const sockets = await socketsAt(h, [...socks]);
    const seen = [...daemons.map((d) => `${name} pid ${d.pid} (uid ${d.uid})`), ...sockets.map((s) => s.path)];
    if (seen.length) engines.push({ name, seen, daemons, config: new Map(), configProblems: [], sockets });
  }
  return engines;
}

const isCri = (e: EngineState) => e.name === 'containerd' || e.name === 'cri-o';
const CRI_PER_POD = 'set per pod by the kubelet on a CRI runtime (securityContext, hostUsers: false), not in the runtime';

export interface EngineCheck {
  id: string;
  title: string;
  severity: Severity;
  remediation: string;
  evaluate(e: EngineState): Outcome;
}

const cfg = (e: EngineState, key: string) => e.config.get(key);
const shown = (e: EngineState, key: string) => {
  const c = cfg(e, key);
  return c ? `${c.file}: ${key} = ${JSON.stringify(c.value)}` : `${key} not set in ${e.name === 'docker' ? '/etc/docker/daemon.json' : 'containers.conf'}`;
};

export const ENGINE_CHECKS: EngineCheck[] = [
  {
    id: 'node.engine.rootless', title: 'The container engine runs rootless', severity: 'MEDIUM',
    remediation: 'Run the engine as an unprivileged user (dockerd-rootless-setuptool.sh, or podman as a user with its user socket).',
    evaluate: (e) => {
      if (e.daemons.length === 0) return e.name === 'podman' ? notApplicable('no podman API service runs (podman runs as the invoking user)', e.seen) : unknown(`${e.name === 'docker' ? 'dockerd' : e.name} is not running`, e.seen);
      const root = e.daemons.filter((d) => d.uid === 0);
      const ev = e.daemons.map((d) => `${e.name} daemon pid ${d.pid}: uid ${d.uid}`);
      return root.length ? fail(ev, `${e.name} runs as root (pid ${root.map((d) => d.pid).join(', ')})`) : pass(ev);
    },
  },
  {
    id: 'node.engine.userns-remap', title: 'Containers run in a remapped user namespace', severity: 'MEDIUM',
    remediation: 'Docker: set "userns-remap": "default" in daemon.json. Podman: set userns = "auto" in containers.conf (or run rootless).',
    evaluate: (e) => {
      if (e.daemons.length && e.daemons.every((d) => d.uid !== 0)) return pass([`${e.name} is rootless: containers run in the user's namespace`]);
      if (isCri(e)) return notApplicable(`user namespaces are ${CRI_PER_POD}`, e.seen);
      const key = e.name === 'docker' ? 'userns-remap' : 'containers.userns';
      const v = cfg(e, key)?.value;
      const ok = e.name === 'docker' ? typeof v === 'string' && v !== '' : typeof v === 'string' && v !== '' && v !== 'host';
      return ok ? pass([shown(e, key)]) : fail([shown(e, key)], "containers share the host's user namespace");
    },
  },
  {
    id: 'node.engine.no-new-privileges', title: 'Containers run with no-new-privileges by default', severity: 'MEDIUM',
    remediation: 'Docker: "no-new-privileges": true in daemon.json. Podman: no_new_privileges = true under [containers] in containers.conf.',
    evaluate: (e) => {
      if (isCri(e)) return notApplicable(`no-new-privileges (allowPrivilegeEscalation) is ${CRI_PER_POD}`, e.seen);
      const key = e.name === 'docker' ? 'no-new-privileges' : 'containers.no_new_privileges';
      return cfg(e, key)?.value === true ? pass([shown(e, key)]) : fail([shown(e, key)], 'processes in containers may gain privileges (setuid binaries, file capabilities) unless each run asks for no-new-privileges');
    },
  },
  {
    id: 'node.engine.live-restore', title: 'Containers keep running when the engine daemon stops (live-restore)', severity: 'LOW',
    remediation: 'Docker: "live-restore": true in daemon.json.',
    evaluate: (e) => {
      if (e.name === 'podman') return notApplicable('podman has no long-lived daemon that containers depend on (conmon supervises each container)', e.seen);
      if (isCri(e)) return notApplicable(`${e.name} keeps containers running across its restarts (a shim or conmon per container)`, e.seen);
      return cfg(e, 'live-restore')?.value === true ? pass([shown(e, 'live-restore')]) : fail([shown(e, 'live-restore')], 'containers stop when dockerd stops or is upgraded');
    },
  },
  {
    id: 'node.engine.socket-permissions', title: "The engine's API socket is not writable beyond root and its group (mode 660 or stricter)", severity: 'HIGH',
    remediation: 'chmod 660 the socket and keep its group to administrators only (root:docker).',
    evaluate: (e) => {
      if (e.sockets.length === 0) return notApplicable(`no ${e.name} API socket at its standard paths`, e.seen);
      const ev = e.sockets.map((s) => `${s.path}: mode ${s.mode.toString(8).padStart(3, '0')}, owner ${s.uid}:${s.gid}`);
      const bad = e.sockets.filter((s) => (s.mode & 0o007) !== 0 || s.uid !== 0);
      return bad.length ? fail(ev, `${bad.map((s) => s.path).join(', ')}: writable by others or not owned by root`) : pass(ev);
    },
  },
];
