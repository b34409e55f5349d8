/**
 * The floor of bench:rules' sensor-built mix: Falco's stable rules for the event types the
 * sensor's mix holds (openat, execve, connect) written by hand as one JS function, as a
 * programmer would write them for speed: each field read once into a local, string sets for
 * the lists, the cheapest selective test first inside each rule (conditions are pure, so
 * the order of `and` operands does not change the result), rules in load order, first match
 * wins (Falco's rule_matching: first).
 *
 * Three rules carry tails of 40+ exception clauses (Read sensitive file untrusted, Read
 * sensitive file trusted after startup, Run shell untrusted). Their heads are written here;
 * an event that passes a head (a would-be alert: none in the benign mix) is decided by the
 * rule's compiled predicate. So the floor is exact on every event, and on events that
 * alert nothing it is pure hand-written code. `floorAgrees` checks it against the engine.
 */
import { EvalContext, type RuleSet } from '../src/runtime/rules/index.js';
import type { RuntimeEvent } from '../src/runtime/event.js';

const SHELLS = new Set(['ash', 'bash', 'csh', 'ksh', 'sh', 'tcsh', 'zsh', 'dash']);
const SENSITIVE = new Set(['/etc/shadow', '/etc/sudoers', '/etc/pam.conf', '/etc/security/pwquality.conf']);
const SENSITIVE_DIRS = new Set(['/etc/sudoers.d', '/etc/pam.d']);
const SERVER_PROCS = new Set(['nginx', 'httpd', 'httpd-foregroun', 'lighttpd', 'apache', 'apache2', 'mysqld', 'postgres', 'sqlplus', 'docker', 'dockerd',
  'containerd-shim', 'runc:[1:CHILD]', 'pause', 'exe', 'docker-compose', 'docker-entrypoi', 'docker-runc-cur', 'docker-current', 'dockerd-current', 'sshd']);
const LOG_DIRS = new Set(['/var/log', '/dev/log']);
const LOG_FILES = new Set(['syslog', 'auth.log', 'secure', 'kern.log', 'cron', 'user.log', 'dpkg.log', 'last.log', 'yum.log', 'access_log', 'mysql.log', 'mysqld.log']);
const LOG_REPOS = ['splunk/fluentd-hec', 'fluent/fluentd-kubernetes-daemonset', 'openshift3/ose-logging-fluentd', 'containernetworking/azure-npm'];
const CONTAINERD_SNAPSHOTS = ['/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/', '/var/lib/rancher/k3s/agent/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots',
  '/var/lib/containerd/tmpmounts/', '/var/lib/rancher/k3s/agent/containerd/tmpmounts/'];
const SYS_USERS = new Set(['bin', 'daemon', 'games', 'lp', 'mail', 'nobody', 'sshd', 'sync', 'uucp', 'www-data']);
const TERMINAL_PARENTS = new Set(['runc:[0:PARENT]', 'runc:[1:CHILD]', 'runc', 'docker-runc', 'exe', 'docker-runc-cur', 'containerd-shim', 'systemd', 'crio', 'conmon']);
const GREPS = new Set(['grep', 'egrep', 'fgrep']);
const BULK_REMOVE = new Set(['shred', 'mkfs', 'mke2fs']);
const SHM_REPOS = new Set(['falcosecurity/falco', 'docker.io/falcosecurity/falco', 'public.ecr.aws/falcosecurity/falco', 'docker.io/calico/node', 'calico/node',
  'docker.io/cloudnativelabs/kube-router', 'docker.io/docker/ucp-agent', 'docker.io/mesosphere/mesos-slave', 'docker.io/rook/toolbox', 'docker.io/sysdig/sysdig',
  'gcr.io/google_containers/kube-proxy', 'gcr.io/google-containers/startup-script', 'gcr.io/projectcalico-org/node', 'gke.gcr.io/kube-proxy', 'gke.gcr.io/gke-metadata-server',
  'gke.gcr.io/netd-amd64', 'gke.gcr.io/watcher-daemonset', 'gcr.io/google-containers/prometheus-to-sd', 'registry.k8s.io/ip-masq-agent-amd64', 'registry.k8s.io/kube-proxy',
  'registry.k8s.io/prometheus-to-sd', 'quay.io/calico/node', 'sysdig/sysdig', 'docker.io/sematext/sematext-agent-docker', 'docker.io/sematext/agent', 'docker.io/sematext/logagent',
  'registry.access.redhat.com/sematext/sematext-agent-docker', 'registry.access.redhat.com/sematext/agent', 'registry.access.redhat.com/sematext/logagent',
  'registry.k8s.io/dns/k8s-dns-node-cache', 'mcr.microsoft.com/oss/kubernetes/kube-proxy']);
const SSH_PORTS = new Set([80, 8080, 88, 443, 8443, 53, 4444]);

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** IPv4 dotted quad in 127.0.0.0/8, 10/8, 172.16/12, 192.168/16 (the only forms the sensor writes for IPv4). */
function inNet(ip: string, a: number, b = -1, bMask = 0): boolean {
  const dot = ip.indexOf('.');
  if (Number(ip.slice(0, dot)) !== a) return false;
  if (b < 0) return true;
  const second = Number(ip.slice(dot + 1, ip.indexOf('.', dot + 1)));
  return (second & bMask) === b;
}

export interface Floor {
  /** The name of the first stable rule the event matches, or null. */
  first(ev: RuntimeEvent): string | null;
}

export function handWrittenFloor(rs: RuleSet): Floor {
  const ctx = new EvalContext();
  const tail = (name: string) => {
    const r = rs.rules.find((x) => x.name === name);
    if (!r) throw new Error(`floor: rule '${name}' is not loaded`);
    return (ev: RuntimeEvent): boolean => {
      ctx.reset(ev);
      return r.predicate(ctx);
    };
  };
  const untrusted = tail('Read sensitive file untrusted');
  const trustedAfterStartup = tail('Read sensitive file trusted after startup');
  const runShell = tail('Run shell untrusted');
  const k8sApi = tail('Contact K8S API Server From Container');

  function open(ev: RuntimeEvent): string | null {
    const typechar = ev['fd.typechar'];
    if (typechar !== 'f') return null;
    const fdnum = ev['fd.num'] as number;
    const read = ev['evt.is_open_read'] === true && fdnum >= 0;
    const name = str(ev['fd.name']) ?? '';
    // Directory traversal monitored file read
    if (read || (fdnum === -1 && (str(ev['evt.res']) ?? '').startsWith('E'))) {
      const raw = str(ev['fd.nameraw']);
      if (raw !== undefined && raw.includes('../') && /\.\.\/.*\.\.\//.test(raw) &&
        (name.startsWith('/etc/') || (name.includes('/.ssh/') && /^\/home\/.*\/\.ssh\//.test(name)) || name.startsWith('/root/.ssh') || name.includes('id_rsa')) &&
        !SHELLS.has(str(ev['proc.pname']) ?? '')) return 'Directory traversal monitored file read';
    }
    if (read && (SENSITIVE.has(name) || SENSITIVE_DIRS.has(str(ev['fd.directory']) ?? ''))) {
      if (SERVER_PROCS.has(str(ev['proc.name']) ?? '') && trustedAfterStartup(ev)) return 'Read sensitive file trusted after startup';
      if (untrusted(ev)) return 'Read sensitive file untrusted';
    }
    if (ev['evt.is_open_write'] !== true || fdnum < 0) return null;
    // Clear Log Activities
    if ((LOG_DIRS.has(str(ev['fd.directory']) ?? '') || LOG_FILES.has(str(ev['fd.filename']) ?? '')) && (str(ev['evt.arg.flags']) ?? '').includes('O_TRUNC') &&
      !(ev['proc.name'] === 'containerd' && CONTAINERD_SNAPSHOTS.some((p) => name.startsWith(p)))) {
      const repo = str(ev['container.image.repository']);
      if (!(repo !== undefined && LOG_REPOS.some((r) => repo.endsWith(r))) && ev['evt.num'] !== 0) return 'Clear Log Activities';
    }
    // Detect release_agent File Container Escapes
    if (name.endsWith('release_agent') && ev['container.id'] !== 'host' && ev['container.id'] !== undefined) {
      const caps = str(ev['thread.cap_effective']) ?? '';
      if ((ev['user.uid'] === 0 || caps.includes('CAP_DAC_OVERRIDE')) && caps.includes('CAP_SYS_ADMIN')) return 'Detect release_agent File Container Escapes';
    }
    return null;
  }

  function exec(ev: RuntimeEvent): string | null {
    const name = str(ev['proc.name']) ?? '';
    const pname = str(ev['proc.pname']);
    const cid = ev['container.id'];
    const inContainer = cid !== 'host' && cid !== undefined;
    const shell = SHELLS.has(name);
    const notEvt0 = ev['evt.num'] !== 0;
    if (shell && pname !== undefined && runShell(ev)) return 'Run shell untrusted';
    if (SYS_USERS.has(str(ev['user.name']) ?? '') && notEvt0) {
      const aname = ev['proc.aname'];
      if ((Array.isArray(aname) && (aname as unknown[]).includes('sshd') && name !== 'sshd') || name === 'systemd-logind' || name === 'login') return 'System user interactive';
    }
    if (shell && inContainer && notEvt0) {
      const tty = ev['proc.tty'];
      if (typeof tty === 'number' && tty !== 0 && (pname === undefined || TERMINAL_PARENTS.has(pname))) return 'Terminal shell in container';
    }
    const args = str(ev['proc.args']) ?? '';
    if (inContainer) {
      if (name === 'nc') {
        const cmd = str(ev['proc.cmdline']) ?? '';
        if (cmd.includes(' -e') || cmd.includes(' -c')) return 'Netcat Remote Code Execution in Container';
      } else if (name === 'ncat' && (args.includes('--sh-exec') || args.includes('--exec') || args.includes('-e ') || args.includes('-c ') || args.includes('--lua-exec'))) {
        return 'Netcat Remote Code Execution in Container';
      }
    }
    const grep = GREPS.has(name);
    if (grep) {
      const a = args.toLowerCase();
      if (a.includes('begin private') || a.includes('begin openssh private') || a.includes('begin rsa private') || a.includes('begin dsa private') || a.includes('begin ec private') ||
        (ev['evt.num'] === 0 && (a.includes(' pass ') || a.includes(' ssh ') || a.includes(' user ')))) return 'Search Private Keys or Passwords';
    } else if (name === 'find' && (args.includes('id_rsa') || args.includes('id_dsa') || args.includes('id_ed25519') || args.includes('id_ecdsa'))) return 'Search Private Keys or Passwords';
    if (BULK_REMOVE.has(name) && notEvt0) return 'Remove Bulk Data from Disk';
    if (name === 'debugfs' && inContainer && ev['container.privileged'] === true) return 'Debugfs Launched in Privileged Container';
    if (grep) {
      const a = args.toLowerCase();
      if (a.includes('aws_access_key_id') || a.includes('aws_secret_access_key') || a.includes('aws_session_token') || a.includes('accesskeyid') || a.includes('secretaccesskey')) return 'Find AWS Credentials';
    } else if (name === 'find' && args.endsWith('.aws/credentials')) return 'Find AWS Credentials';
    // Execution from /dev/shm
    const exe = str(ev['proc.exe']) ?? '';
    const cwd = str(ev['proc.cwd']) ?? '';
    const shm = exe.startsWith('/dev/shm/') || (cwd.startsWith('/dev/shm/') && (exe.startsWith('./') || args.startsWith('./'))) ||
      (shell && (args.startsWith('-c /dev/shm') || args.startsWith('-i /dev/shm') || args.startsWith('/dev/shm')));
    if (shm && !SHM_REPOS.has(str(ev['container.image.repository']) ?? '')) return 'Execution from /dev/shm';
    if (inContainer && ev['proc.is_exe_upper_layer'] === true && notEvt0) return 'Drop and execute new binary in container';
    if (ev['proc.is_exe_from_memfd'] === true &&
      !(name === 'runc' || pname === 'runc' || ev['proc.exepath'] === 'memfd:runc_cloned:/proc/self/exe' || exe === 'memfd:runc_cloned:/proc/self/exe')) return 'Fileless execution via memfd_create';
    return null;
  }

  function connect(ev: RuntimeEvent): string | null {
    const tc = ev['fd.typechar'];
    if (tc !== '4' && tc !== '6') return null;
    // Contact K8S API Server From Container: needs fd.sip.name, which no Gatehouse source fills yet
    if (ev['fd.sip.name'] === 'kubernetes.default.svc.cluster.local' && k8sApi(ev)) return 'Contact K8S API Server From Container';
    // Disallowed SSH Connection Non Standard Port
    const exe = str(ev['proc.exe']);
    if (exe === undefined || !exe.endsWith('ssh') || ev['fd.l4proto'] !== 'tcp') return null;
    const sport = ev['fd.sport'];
    if (typeof sport !== 'number' || !SSH_PORTS.has(sport)) return null;
    const rawres = ev['evt.rawres'];
    if (!((typeof rawres === 'number' && rawres >= 0) || ev['evt.res'] === 'EINPROGRESS')) return null;
    const sip = str(ev['fd.sip']) ?? '';
    const cip = str(ev['fd.cip']) ?? '';
    // fd.ip != 0.0.0.0 and fd.net != 127.0.0.0/8 hold when either end satisfies them; fd.snet not in private ranges
    if (!(cip !== '0.0.0.0' || sip !== '0.0.0.0')) return null;
    if (!(!inNet(cip, 127) || !inNet(sip, 127))) return null;
    if (inNet(sip, 10) || inNet(sip, 172, 16, 0xf0) || inNet(sip, 192, 168, 0xff)) return null;
    return 'Disallowed SSH Connection Non Standard Port';
  }

  return {
    first(ev) {
      const t = ev['evt.type'];
      if (t === 'open' || t === 'openat' || t === 'openat2') return open(ev);
      if (t === 'execve' || t === 'execveat') return exec(ev);
      if (t === 'connect') return connect(ev);
      return null;
    },
  };
}

/** Events of the mix on which the floor and the engine disagree (first rule name), at most `max`. */
export function floorDisagreements(rs: RuleSet, floor: Floor, events: RuntimeEvent[], max = 5): string[] {
  const out: string[] = [];
  for (const ev of events) {
    const mine = floor.first(ev);
    const engine = rs.match(ev)[0]?.name ?? null;
    if (mine !== engine) {
      out.push(`${String(ev['evt.type'])} ${String(ev['proc.name'])} ${String(ev['fd.name'] ?? ev['proc.cmdline'])}: floor ${mine}, engine ${engine}`);
      if (out.length >= max) break;
    }
  }
  return out;
}
