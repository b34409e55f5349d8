/**
 * The live event source: runs the eBPF sensor and feeds its events into the rule engine
 * in-process. Alerts carry the container of their event (as Falco's append_output adds
 * container fields); every second (and at the end) new drops become an alert through the
 * same sinks, so losses show up wherever alerts go. With runtime policies, every alert
 * (drop reports included) carries its verdict before it reaches a sink.
 *
 * It lives in sensor/ (which may import runtime/, never the other way round): the rule
 * engine does not know where its events come from.
 */
import type { RuntimeEvent } from '../runtime/event.js';
import type { Alert } from '../runtime/alerts/alert.js';
import type { AlertSink } from '../runtime/alerts/sinks.js';
import { Engine } from '../runtime/rules/engine.js';
import type { RuleSet } from '../runtime/rules/ruleset.js';
import { openPathBounds, unionBounds, type OpenBounds } from '../runtime/rules/path-bounds.js';
import { dropAlert } from './drop-alert.js';
import { DEFAULT_OPEN_BOUNDS, NO_OPENS } from './open-filter.js';
import type { SensorMetrics } from './metrics.js';
import { Sensor, type SensorOptions, type SensorStats } from './sensor.js';
import { FlowTracker, type ContainerLookup, type FlowTrackerOptions, type FlowTrackerStats } from './flows/tracker.js';
import type { CgroupScope } from './cgroup-scope.js';

export interface SensorRunOptions extends SensorOptions {
  ruleSet?: RuleSet;
  sinks?: AlertSink[];
  /** Every event, e.g. to write them as JSONL for a later `runtime replay`. */
  onEvent?: (ev: RuntimeEvent) => void;
  onAlert?: (a: Alert) => void;
  /** Adds the policy verdict to an alert (src/runtime/alerts/verdict.ts) before any sink sees it. */
  annotate?: (a: Alert, ev: RuntimeEvent | undefined) => Alert;
  onReady?: (sensor: Sensor) => void;
  /** Stops the sensor when aborted. */
  signal?: AbortSignal;
  dropCheckMs?: number;
  /** Counts events, alerts and drops for Prometheus (src/sensor/metrics.ts). */
  metrics?: SensorMetrics;
  /** Network flows: connections aggregated per interval, handed to `flows.onFlows` (src/sensor/flows). */
  flows?: FlowTrackerOptions;
  /** The host name alerts carry (`--node-name`); default: the machine's. */
  nodeName?: string;
  /** Only containers below this cgroup parent are reported (`--cgroup-parent`, src/sensor/cgroup-scope.ts). */
  scope?: CgroupScope;
}

export interface SensorRunResult {
  stats: SensorStats;
  alerts: number;
  drops: number;
  flows?: FlowTrackerStats;
  /** Events of containers (or the host) outside --cgroup-parent, dropped unseen by rules and flows. */
  outOfScope?: number;
}

/** Container fields every sensor alert carries, whatever its rule's output names. */
const CONTAINER_FIELDS = ['container.id', 'container.name', 'container.image', 'container.image.repository', 'container.image.tag'] as const;

const K8S_LABELS = [['k8s.pod.name', 'io.kubernetes.pod.name'], ['k8s.ns.name', 'io.kubernetes.pod.namespace']] as const;

export function withContainer(a: Alert, ev: RuntimeEvent): Alert {
  const fields = { ...a.output_fields };
  for (const f of CONTAINER_FIELDS) {
    const v = ev[f];
    if (fields[f] === undefined) fields[f] = v === undefined || v === null ? null : String(v);
  }
  // The pod, as Falco fills k8s.* from the CRI labels: incidents join an exec through the API to it.
  for (const [f, label] of K8S_LABELS) {
    const v = ev[`container.label[${label}]`];
    if ((fields[f] === undefined || fields[f] === null) && typeof v === 'string' && v) fields[f] = v;
  }
  const id = fields['container.id'];
  const suffix = id && id !== 'host' ? ` container_id=${id} container_name=${fields['container.name']} container_image=${fields['container.image']}` : '';
  return { ...a, output: a.output + suffix, output_fields: fields };
}

/**
 * Which opens leave the kernel: those the rules can match; when every event is wanted too
 * (onEvent), also the default set (reads below /etc, /root, /home and secrets, all writes).
 */
export function sensorOpenBounds(ruleSet: RuleSet | undefined, everyEvent: boolean): OpenBounds {
  if (!ruleSet) return DEFAULT_OPEN_BOUNDS;
  const bounds = openPathBounds(ruleSet.rules);
  return everyEvent ? unionBounds(DEFAULT_OPEN_BOUNDS, bounds) : bounds;
}

/** The container lookup flows use, limited to the scope (conntrack attributes by address: another node's container is not ours). */
export function scopedLookup(lookup: ContainerLookup, scope: CgroupScope | undefined): ContainerLookup {
  if (!scope) return lookup;
  return {
    byShort: (id) => (scope.hasContainer(id) ? lookup.byShort(id) : undefined),
    byAddress: (ip) => {
      const c = lookup.byAddress(ip);
      return c && scope.hasContainer(c.id) ? c : undefined;
    },
  };
}

export async function runSensor(opts: SensorRunOptions): Promise<SensorRunResult> {
  const sensor = await Sensor.start({
    ...opts,
    // flows alone read no opens
    openBounds: opts.openBounds ?? (!opts.ruleSet && !opts.onEvent && opts.flows ? NO_OPENS : sensorOpenBounds(opts.ruleSet, !!opts.onEvent)),
    ...(opts.flows ? { udp: true, watchContainers: true } : {}),
  });
  const scope = opts.scope;
  const flows = opts.flows ? new FlowTracker(opts.flows, scopedLookup(sensor.containerLookup, scope)) : undefined;
  flows?.start();
  const engine = opts.ruleSet ? new Engine(opts.ruleSet) : undefined;
  const sinks = opts.sinks ?? [];
  const metrics = opts.metrics;
  metrics?.watch(() => sensor.stats());
  let alerts = 0;
  let drops = 0;
  let outOfScope = 0;
  const nodeName = opts.nodeName;
  const emit = (made: Alert, ev: RuntimeEvent | undefined) => {
    const raw = nodeName && made.hostname !== nodeName ? { ...made, hostname: nodeName } : made;
    const a = opts.annotate ? opts.annotate(raw, ev) : raw;
    for (const s of sinks) s.write(a);
    metrics?.alert(a);
    opts.onAlert?.(a);
  };
  const report = () => {
    const r = sensor.takeDropReport();
    if (r) {
      drops += r.total;
      emit(dropAlert(r), undefined);
    }
  };
  const timer = setInterval(report, opts.dropCheckMs ?? 1000);
  const stop = () => void sensor.stop();
  if (opts.signal?.aborted) stop();
  opts.signal?.addEventListener('abort', stop, { once: true });
  opts.onReady?.(sensor);
  try {
    for await (const batch of sensor.batches()) {
      for (const ev of batch) {
        // after the event is built (its container resolved): rules, flows and baselines never see it
        if (scope && !scope.hasContainer(ev['container.id'] as string | undefined)) {
          outOfScope++;
          continue;
        }
        metrics?.event(ev);
        opts.onEvent?.(ev);
        flows?.push(ev);
        if (!engine) continue;
        for (const a of engine.push(ev)) {
          alerts++;
          emit(withContainer(a, ev), ev);
        }
      }
    }
  } finally {
    clearInterval(timer);
    opts.signal?.removeEventListener('abort', stop);
    await sensor.stop();
    flows?.stop();
    report();
    for (const s of sinks) await s.close();
  }
  return { stats: sensor.stats(), alerts, drops, ...(flows ? { flows: flows.stats() } : {}), ...(scope ? { outOfScope } : {}) };
}
