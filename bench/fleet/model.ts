/**
 * The simulated fleet, deterministic from a seed: N nodes, D top-level workloads (the
 * cluster of bench/central/inventory.ts: namespaces of 50, Deployment/StatefulSet/DaemonSet
 * mix, three pods each) placed on the nodes, a few hundred distinct images with CycloneDX
 * SBOMs (shared base images, per-app layers) and the events a sensor on each node sends:
 * runtime alerts, process anomalies and network flows between the fleet's pods.
 *
 * The pods' names and IPs follow clusterObjects' formulas; the seed process checks every
 * name here against the objects it stores, so a drift fails loudly.
 */
import { createHash } from 'node:crypto';
import type { ImageReport, IngestEvent } from '../../src/central/client/ingest-types.js';
import type { Finding, Severity } from '../../src/findings/finding.js';
import { syntheticDigest } from '../../src/central/images/bench-hook.js';
import { imageRef } from '../central/inventory.js';
import { rng } from '../../test/helpers/random.js';
import { alertEvent } from '../../src/cli/central-push.js';
import { compileOutput, makeAlert, type OutputTemplate } from '../../src/runtime/alerts/alert.js';
import type { RuntimeEvent } from '../../src/runtime/event.js';
import { fieldRegistry } from '../../src/runtime/rules/fields.js';
import type { CompiledRule } from '../../src/runtime/rules/loader.js';
import { ruleSetFromText } from '../../src/runtime/rules/ruleset.js';
import { withContainer } from '../../src/sensor/run.js';

export interface FleetSize {
  nodes: number;
  deployments: number;
  seed: number;
}

/** The tests' seeded PRNG (mulberry32): the same seed gives the same fleet and the same event stream. */
export const prng = rng;

/** Distinct images: one per 40 workloads, between 50 and 400 ("a few hundred distinct SBOMs"). */
export const imageCount = (deployments: number) => Math.max(50, Math.min(400, Math.round(deployments / 40)));

export interface SimPod {
  deployment: number;
  namespace: string;
  name: string;
  ip: string;
  image: string;
  containerId: string;
}

/** clusterObjects' pod name and IP for workload i, replica p. */
export function podOf(i: number, p: number, images: number): SimPod {
  const name = `svc-${i}`;
  return {
    deployment: i,
    namespace: `team-${Math.floor(i / 50)}`,
    name: `${name}-${p}-x${(i * 7 + p) % 1000}`,
    ip: `10.${(i >> 8) & 255}.${i & 255}.${p + 2}`,
    image: imageRef(i % images),
    containerId: createHash('sha256').update(`fleet-container-${i}-${p}`).digest('hex').slice(0, 64),
  };
}

/** Which node runs replica p of workload i: spread by the seed, replicas on different nodes. */
export function nodeOf(size: FleetSize, i: number, p: number): number {
  const offset = Math.floor(prng(size.seed ^ 0x9e3779b9)() * size.nodes);
  return (i * 3 + p * 7 + offset) % size.nodes;
}

export const nodeName = (n: number) => `node-${n}`;

/** Pods per node, for the node's sensor. */
export function podsByNode(size: FleetSize): SimPod[][] {
  const images = imageCount(size.deployments);
  const out: SimPod[][] = Array.from({ length: size.nodes }, () => []);
  for (let i = 0; i < size.deployments; i++) for (let p = 0; p < 3; p++) out[nodeOf(size, i, p)]!.push(podOf(i, p, images));
  return out;
}

// ---------------------------------------------------------------- images and SBOMs

interface Pkg { type: 'deb' | 'apk' | 'rpm' | 'npm' | 'pypi' | 'maven' | 'golang'; name: string; version: string }

const DEB = ['base-files', 'libc6', 'libssl3', 'openssl', 'zlib1g', 'libgcc-s1', 'libstdc++6', 'ca-certificates', 'tzdata', 'bash', 'coreutils', 'dpkg', 'apt', 'gpgv', 'libgnutls30', 'libsystemd0', 'libudev1', 'libzstd1', 'liblzma5', 'libbz2-1.0', 'libcap2', 'libpam0g', 'libpcre2-8-0', 'libselinux1', 'libsqlite3-0', 'libxml2', 'libcurl4', 'curl', 'perl-base', 'sed', 'grep', 'tar', 'gzip', 'util-linux', 'mount', 'passwd', 'login', 'ncurses-base', 'libtinfo6', 'debconf'];
const APK = ['alpine-baselayout', 'busybox', 'musl', 'libcrypto3', 'libssl3', 'zlib', 'ca-certificates-bundle', 'apk-tools', 'scanelf', 'musl-utils', 'libc-utils', 'ssl_client'];
const RPM = ['glibc', 'openssl-libs', 'zlib', 'bash', 'coreutils-single', 'systemd-libs', 'libgcc', 'libstdc++', 'ca-certificates', 'tzdata', 'rpm', 'dnf', 'libxml2', 'curl', 'libcurl', 'sqlite-libs', 'pcre2', 'libselinux', 'krb5-libs', 'gnutls'];
const NPM = ['express', 'lodash', 'axios', 'react', 'react-dom', 'debug', 'ms', 'body-parser', 'cookie', 'jsonwebtoken', 'semver', 'minimist', 'qs', 'ws', 'uuid', 'moment', 'chalk', 'commander', 'yargs', 'tslib', 'follow-redirects', 'path-to-regexp', 'send', 'serve-static', 'mime'];
const PYPI = ['requests', 'urllib3', 'idna', 'certifi', 'charset-normalizer', 'flask', 'werkzeug', 'jinja2', 'markupsafe', 'django', 'pyyaml', 'cryptography', 'cffi', 'pycparser', 'numpy', 'pandas', 'setuptools', 'pip', 'gunicorn', 'sqlalchemy'];
const MAVEN = ['org.springframework/spring-core', 'org.springframework/spring-web', 'com.fasterxml.jackson.core/jackson-databind', 'org.apache.logging.log4j/log4j-core', 'org.yaml/snakeyaml', 'io.netty/netty-handler', 'org.apache.tomcat.embed/tomcat-embed-core', 'ch.qos.logback/logback-classic'];
const GO = ['golang.org/x/net', 'golang.org/x/crypto', 'golang.org/x/sys', 'google.golang.org/grpc', 'google.golang.org/protobuf', 'github.com/prometheus/client_golang', 'github.com/sirupsen/logrus', 'k8s.io/client-go', 'github.com/gin-gonic/gin'];

interface BaseImage { name: string; os: { family: string; version: string }; type: Pkg['type']; packages: string[]; extra: number }

/** The shared base images most of a fleet is built on. */
const BASES: BaseImage[] = [
  { name: 'debian', os: { family: 'debian', version: '12' }, type: 'deb', packages: DEB, extra: 60 },
  { name: 'ubuntu', os: { family: 'ubuntu', version: '22.04' }, type: 'deb', packages: DEB, extra: 80 },
  { name: 'alpine', os: { family: 'alpine', version: '3.19' }, type: 'apk', packages: APK, extra: 5 },
  { name: 'ubi9', os: { family: 'redhat', version: '9.3' }, type: 'rpm', packages: RPM, extra: 120 },
  { name: 'distroless', os: { family: 'debian', version: '12' }, type: 'deb', packages: DEB.slice(0, 8), extra: 0 },
];
const APP_ECOSYSTEMS: { type: Pkg['type']; names: string[] }[] = [{ type: 'npm', names: NPM }, { type: 'pypi', names: PYPI }, { type: 'maven', names: MAVEN }, { type: 'golang', names: GO }];

const purlOf = (p: Pkg, base: BaseImage) => {
  switch (p.type) {
    case 'deb': return `pkg:deb/${base.os.family}/${p.name}@${p.version}?distro=${base.os.family}-${base.os.version}`;
    case 'apk': return `pkg:apk/alpine/${p.name}@${p.version}?distro=alpine-${base.os.version}`;
    case 'rpm': return `pkg:rpm/redhat/${p.name}@${p.version}?distro=rhel-9`;
    case 'maven': { const [g, a] = p.name.split('/'); return `pkg:maven/${g}/${a}@${p.version}`; }
    default: return `pkg:${p.type}/${p.name}@${p.version}`;
  }
};

/** Image i: a base image (a few bases shared by everyone, at a few patch levels) plus its own application layer. */
export function imagePackages(seed: number, i: number): { base: BaseImage; basePackages: Pkg[]; appPackages: Pkg[] } {
  const r = prng(seed * 7919 + i);
  const base = BASES[i % BASES.length]!;
  const patch = i % 3; // three patch levels of each base in use at once
  const basePackages: Pkg[] = [...base.packages, ...Array.from({ length: base.extra }, (_, k) => `lib${base.name}-extra${k}`)].map((name, k) => ({ type: base.type, name, version: `${1 + (k % 4)}.${k % 10}.${patch}-1` }));
  const eco = APP_ECOSYSTEMS[Math.floor(r() * APP_ECOSYSTEMS.length)]!;
  const appCount = 30 + Math.floor(r() * 170);
  const appPackages: Pkg[] = Array.from({ length: appCount }, (_, k) => {
    const name = k < eco.names.length ? eco.names[k]! : `${eco.type === 'maven' ? 'com.example/' : ''}app${i}-dep${k}`;
    return { type: eco.type, name, version: `${1 + Math.floor(r() * 5)}.${Math.floor(r() * 20)}.${Math.floor(r() * 10)}` };
  });
  return { base, basePackages, appPackages };
}

const SEVERITIES: Severity[] = ['LOW', 'MEDIUM', 'MEDIUM', 'HIGH', 'HIGH', 'CRITICAL'];

/** What `image scan --server` pushes for image i: its SBOM and a few vulnerability findings. */
export function imageReport(seed: number, i: number): ImageReport {
  const { base, basePackages, appPackages } = imagePackages(seed, i);
  const digest = syntheticDigest(i);
  const ref = imageRef(i).split('@')[0]!;
  const all = [...basePackages, ...appPackages];
  const components = [
    { type: 'operating-system', name: base.os.family, version: base.os.version },
    ...all.map((p) => ({ type: 'library', 'bom-ref': purlOf(p, base), name: p.name, version: p.version, purl: purlOf(p, base) })),
  ];
  const r = prng(seed * 104729 + i);
  const vulnerable = all.filter(() => r() < 0.04);
  const findings: Finding[] = vulnerable.map((p, k) => ({
    id: `CVE-${2021 + (k % 5)}-${10000 + Math.floor(r() * 50000)}`,
    kind: 'vulnerability',
    severity: SEVERITIES[Math.floor(r() * SEVERITIES.length)]!,
    title: `${p.name} ${p.version}: vulnerability`,
    resource: { image: { ref, digest } },
    data: { package: { name: p.name, version: p.version, purl: purlOf(p, base) }, ...(r() < 0.6 ? { fixedVersion: `${p.version}.1` } : {}) },
  }));
  return {
    image: { digest, refs: [ref], os: base.os, created: '2026-11-20T08:00:00Z', layers: [{ digest: `sha256:${createHash('sha256').update(`base-${base.name}-${i % 3}`).digest('hex')}`, size: 30_000_000, createdBy: `FROM ${base.name}` }, { digest: `sha256:${createHash('sha256').update(`app-${i}`).digest('hex')}`, size: 5_000_000 + (i % 50) * 100_000, createdBy: 'COPY app /app' }] },
    sbom: { bomFormat: 'CycloneDX', specVersion: '1.6', serialNumber: `urn:uuid:${createHash('sha256').update(`fleet-sbom-${seed}-${i}`).digest('hex').replace(/^(.{8})(.{4}).(.{3}).(.{3})(.{12}).*$/, '$1-$2-4$3-8$4-$5')}`, version: 1, metadata: { component: { type: 'container', name: ref } }, components },
    findings,
    db: { version: 'fleet-sim' },
  };
}

// ---------------------------------------------------------------- events

/** The Falco priority prioritySeverity (src/runtime/rules/priority.ts) maps to each rule's severity. */
const FALCO_PRIORITY: Partial<Record<Severity, string>> = { CRITICAL: 'Critical', HIGH: 'Error', MEDIUM: 'Warning', LOW: 'Notice' };
const RULES: { id: string; title: string; severity: Severity; proc: string; cmd: string; file?: string; tags: string[] }[] = [
  { id: 'Terminal shell in container', title: 'Terminal shell in container', severity: 'HIGH', proc: 'bash', cmd: 'bash -il', tags: ['container', 'shell', 'mitre_execution', 'T1059'] },
  { id: 'Read sensitive file untrusted', title: 'Read sensitive file untrusted', severity: 'HIGH', proc: 'cat', cmd: 'cat /etc/shadow', file: '/etc/shadow', tags: ['filesystem', 'mitre_credential_access', 'T1555'] },
  { id: 'Write below etc', title: 'Write below etc', severity: 'MEDIUM', proc: 'sed', cmd: 'sed -i s/a/b/ /etc/hosts', file: '/etc/hosts', tags: ['filesystem', 'mitre_persistence', 'T1098'] },
  { id: 'Launch Package Management Process in Container', title: 'Package management process launched in container', severity: 'MEDIUM', proc: 'apt-get', cmd: 'apt-get install -y netcat', tags: ['process', 'mitre_persistence', 'T1505'] },
  { id: 'Outbound Connection to C2 Servers', title: 'Outbound connection to C2 server', severity: 'CRITICAL', proc: 'python3', cmd: 'python3 -c import socket', tags: ['network', 'mitre_command_and_control', 'T1071'] },
  { id: 'Drop and execute new binary in container', title: 'Executable not in the image run', severity: 'CRITICAL', proc: 'xmrig', cmd: '/tmp/xmrig -o pool', tags: ['process', 'mitre_persistence', 'TA0003', 'PCI_DSS_11.5.1'] },
];

/**
 * The rules as Falco rules, loaded and compiled by the sensor's loader: a sensor's alert is
 * makeAlert's (the rule's output template rendered from the event) with withContainer's
 * container and pod fields (src/sensor/run.ts), shipped as alertEvent's finding — the fields
 * incident correlation reads (container.id, k8s.ns.name, k8s.pod.name) come from that path.
 */
const FLEET_RULES: Array<{ rule: CompiledRule; output: OutputTemplate }> = (() => {
  const text = RULES.map((r) => `- rule: ${JSON.stringify(r.id)}
  desc: ${JSON.stringify(r.title)}
  condition: evt.type in (execve, execveat, open, openat) and container.id != host and proc.name = ${JSON.stringify(r.proc)}
  output: ${JSON.stringify(`${r.title} (user=%user.name user_loginuid=%user.loginuid process=%proc.name command=%proc.cmdline parent=%proc.pname${r.file ? ' file=%fd.name' : ''})`)}
  priority: ${FALCO_PRIORITY[r.severity]!.toUpperCase()}
  tags: ${JSON.stringify(r.tags)}
`).join('');
  const set = ruleSetFromText([{ name: 'fleet-rules.yaml', text }]);
  return RULES.map((r) => {
    const rule = set.rules.find((x) => x.name === r.id)!;
    return { rule, output: compileOutput(rule.output, fieldRegistry) };
  });
})();

/** The syscall event a node's sensor sees when rule n fires in a pod: the CRI's container labels name the pod. */
function podRuleEvent(node: number, pod: SimPod, n: number, time: string): RuntimeEvent {
  const r = RULES[n]!;
  const [repository, tag] = pod.image.split('@')[0]!.split(/:(?=[^:/]+$)/);
  return {
    'evt.type': 'execve', 'evt.rawtime': BigInt(Date.parse(time)) * 1_000_000n, 'evt.hostname': nodeName(node),
    'proc.name': r.proc, 'proc.cmdline': r.cmd, 'proc.pname': 'runc', 'proc.pid': 4000 + (n * 97) % 1000, 'user.name': 'root', 'user.loginuid': -1,
    ...(r.file ? { 'fd.name': r.file } : {}),
    'container.id': pod.containerId.slice(0, 12), 'container.name': 'app', 'container.image': pod.image.split('@')[0]!,
    'container.image.repository': repository!, 'container.image.tag': tag ?? 'latest',
    'container.label[io.kubernetes.pod.name]': pod.name, 'container.label[io.kubernetes.pod.namespace]': pod.namespace,
  };
}

/** Rule n's alert in a pod as the node's sensor ships it (ShippedAlertSink: alertEvent's event with the run's id). */
function podRuleAlert(id: string, node: number, pod: SimPod, n: number, time: string): IngestEvent {
  const { rule, output } = FLEET_RULES[n]!;
  const ev = podRuleEvent(node, pod, n, time);
  return { ...alertEvent('sensor', withContainer(makeAlert(rule, output, ev, nodeName(node)), ev)), id };
}

export interface EventMix {
  /** Share of flow events (the rest are alerts, a tenth of them process anomalies). */
  flowShare: number;
}

/** One event of node `node`'s sensor (k: its sequence number on that node), about one of the node's pods. */
export function nodeEvent(run: string, node: number, k: number, pods: readonly SimPod[], allPods: (i: number) => SimPod, deployments: number, r: () => number, mix: EventMix, now: Date): IngestEvent {
  const pod = pods[Math.floor(r() * pods.length)]!;
  const time = now.toISOString();
  const id = `${run}:${node}:${k}`;
  if (r() < mix.flowShare) {
    // A connection to another workload's Service port (the fleet's east-west traffic), sometimes outside.
    const external = r() < 0.1;
    const peer = allPods(Math.floor(r() * deployments));
    return {
      id, type: 'flow', time,
      data: {
        protocol: 'TCP', direction: 'egress',
        local: { ip: pod.ip, port: 30000 + Math.floor(r() * 30000), container: { id: pod.containerId, name: 'app', image: pod.image }, pod: { namespace: pod.namespace, name: pod.name }, process: { name: 'app' } },
        remote: external ? { ip: `93.184.${Math.floor(r() * 255)}.${Math.floor(r() * 255)}`, port: 443, dns: 'api.example.com' } : { ip: peer.ip, port: 8080 },
        firstSeen: time, lastSeen: time, connections: 1 + Math.floor(r() * 20), observedBy: 'ebpf',
      },
    };
  }
  const container = { id: pod.containerId.slice(0, 12), name: 'app', image: pod.image };
  const k8s = { kind: 'Pod', namespace: pod.namespace, name: pod.name, container: 'app' };
  if (r() < 0.1) {
    return {
      id, type: 'alert', time,
      finding: {
        id: 'gatehouse-anomaly/process', kind: 'anomaly', severity: 'MEDIUM', title: 'Process not in the learned baseline',
        detail: `process /usr/bin/nc (parent sh) never seen in ${pod.namespace}/${pod.name} during learning`,
        resource: { host: nodeName(node), k8s, container },
        data: { source: 'gatehouse-anomaly', process: { exe: '/usr/bin/nc', parent: 'sh' } },
      },
    };
  }
  return podRuleAlert(id, node, pod, Math.floor(r() * RULES.length), time);
}

/** The cluster's name in Central for a seed (one fleet per store). */
export const clusterName = (seed: number) => `fleet-${seed}`;

/** Workload i's replica p's pod IP (podOf's formula, without its container id hash). */
const podIp = (i: number, p: number) => `10.${(i >> 8) & 255}.${i & 255}.${p + 2}`;

/**
 * nodeEvent's events made cheaply, for the publishers: the same events from the same random
 * draws in the same order (test/bus/fleet-model.test.ts compares them), but what does not
 * change between two events of a pod — its alert findings but their time, the container
 * and Pod references — is built once per pod and shared, the time is formatted once per tick
 * and a flow's peer is its IP only. A real sensor builds its events on its own node; the
 * simulator builds 1,000 nodes' on this machine, so its own share should stay small.
 */
export class NodeEventMaker {
  private readonly findings = new Map<SimPod, Finding[]>();

  constructor(private readonly run: string, private readonly deployments: number, private readonly r: () => number, private readonly mix: EventMix) {}

  /** nodeEvent(run, node, k, pods, (i) => podOf(i, Math.floor(r() * 3), …), deployments, r, mix, now) with `time` = now.toISOString(). */
  event(node: number, k: number, pods: readonly SimPod[], time: string): IngestEvent {
    const r = this.r;
    const pod = pods[Math.floor(r() * pods.length)]!;
    const id = `${this.run}:${node}:${k}`;
    if (r() < this.mix.flowShare) {
      const external = r() < 0.1;
      const peerIp = podIp(Math.floor(r() * this.deployments), Math.floor(r() * 3));
      return {
        id, type: 'flow', time,
        data: {
          protocol: 'TCP', direction: 'egress',
          local: { ip: pod.ip, port: 30000 + Math.floor(r() * 30000), container: { id: pod.containerId, name: 'app', image: pod.image }, pod: { namespace: pod.namespace, name: pod.name }, process: { name: 'app' } },
          remote: external ? { ip: `93.184.${Math.floor(r() * 255)}.${Math.floor(r() * 255)}`, port: 443, dns: 'api.example.com' } : { ip: peerIp, port: 8080 },
          firstSeen: time, lastSeen: time, connections: 1 + Math.floor(r() * 20), observedBy: 'ebpf',
        },
      };
    }
    // Slot 0: the anomaly; 1 + n: RULES[n] (each built at its first use).
    const slot = r() < 0.1 ? 0 : 1 + Math.floor(r() * RULES.length);
    let f = this.findings.get(pod);
    if (!f) this.findings.set(pod, (f = []));
    if (slot === 0) return { id, type: 'alert', time, finding: (f[0] ??= podFinding(node, pod, 0)) };
    // The pod's alert for this rule made once through the sensor's path, then given this event's
    // time where makeAlert puts it (the finding's data.time, the output's prefix): nodeEvent makes
    // each anew, and the test compares the two.
    const made = (f[slot] ??= podRuleAlert('', node, pod, slot - 1, T_MADE).finding!);
    const alertTime = `${time.slice(0, 23)}000000Z`;
    return { id, type: 'alert', time, finding: { ...made, detail: `${alertTime.slice(11, 29)}${made.detail!.slice(18)}`, data: { ...made.data, time: alertTime } } };
  }
}

/** The time a pod's rule alerts are first made at (each event's time replaces it). */
const T_MADE = '2000-01-01T00:00:00.000Z';

/** A pod's anomaly finding as nodeEvent writes it, from the draws that pick it. */
function podFinding(node: number, pod: SimPod, slot: 0): Finding {
  // Draws of an anomaly: pod, flow or not, anomaly.
  const draws = [0, 0.99, slot];
  return nodeEvent('', node, 0, [pod], () => pod, 1, () => draws.shift()!, { flowShare: 0 }, new Date(0)).finding!;
}
