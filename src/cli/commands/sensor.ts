/**
 * `gatehouse sensor`: the eBPF sensor (bpftrace), its events fed to Falco rules in-process;
 * with --policy every alert carries its runtime policy verdict (`gatehouse` key).
 */
import { createWriteStream, existsSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { UserError } from '../../util/errors.js';
import { createLogger, logFunction, LOG_LEVELS } from '../../util/log.js';
import { registerShipperMetrics, serveMetrics, type MetricsListener } from '../../util/metrics.js';
import { addMetricsOptions, metricsServeOptions, type MetricsCliOptions } from '../metrics-options.js';
import { SensorMetrics } from '../../sensor/metrics.js';
import { AlertJudge } from '../../runtime/alerts/verdict.js';
import { loadRuleSet, parsePriority } from '../../runtime/rules/index.js';
import { runSensor, sensorOpenBounds } from '../../sensor/run.js';
import { CgroupScope, parseCgroupParent } from '../../sensor/cgroup-scope.js';
import { DROP_RULE } from '../../sensor/drop-alert.js';
import { AnomalyDetector } from '../../runtime/anomaly/index.js';
import { BaselineStore, parseDuration } from '../../runtime/baseline/index.js';
import { ALL_OPENS, DEFAULT_OPEN_BOUNDS } from '../../sensor/open-filter.js';
import type { RuntimeEvent } from '../../runtime/event.js';
import type { Alert } from '../../runtime/alerts/alert.js';
import { addCentralOptions, centralClientFrom, type CentralCliOptions } from '../central-options.js';
import { BusPublisher } from '../../central/client/bus-publisher.js';
import { prepareBusAccess } from '../../central/bus/access.js';
import { BaselineSync, journalHook } from '../../central/client/baseline-sync.js';
import { LearnJournal } from '../../runtime/baseline/merge.js';
import type { IngestEvent } from '../../central/client/ingest-types.js';
import type { FlushedFlow } from '../../sensor/flows/aggregator.js';
import { ShippedAlertSink, addSpoolOption, defaultSpoolDir, eventShipperFor, reportingHost, type ShipperHandle } from '../central-push.js';
import { defaultAuditLog } from '../../respond/audit.js';
import { sensorResponder } from '../../respond/alert-sink.js';
import { defaultEngineEndpoint } from '../../respond/engine.js';
import { AlertReport, alertAnnotator, alertFormats, alertSinks, checkExitCode, collect, defaultAlertFormat, loadRuntimePolicies, streamedFormat } from '../runtime-policy.js';

interface SensorCliOptions {
  rules: string[];
  format?: string;
  output?: string;
  webhook?: string;
  policy: string[];
  cluster?: string;
  events?: string;
  duration?: string;
  priority?: string;
  queue: string;
  bpftrace?: string;
  probe?: string;
  opens?: 'rules' | 'default' | 'all';
  exitCode: string;
  spoolDir?: string;
  baselineDir?: string;
  learn?: string;
  baselineSync: string;
  respond?: boolean;
  respondDryRun?: boolean;
  respondAudit?: string;
  respondCooldown: string;
  killSwitch?: string;
  evidenceDir?: string;
  host?: string;
  nats?: string;
  natsCreds?: string;
  natsTlsCa?: string;
  flows?: string;
  flowInterval: string;
  flowConntrack: boolean;
  nodeName?: string;
  cgroupParent?: string;
  logLevel: string;
}

const jsonReplacer = (_k: string, v: unknown) => (typeof v === 'bigint' ? Number(v) : v);

/** A flushed flow as an ingest event: its id hashes the flow key, interval start and host, so a retry is a duplicate. */
export function flowEvent(f: FlushedFlow): IngestEvent {
  return { id: f.id, type: 'flow', time: new Date(f.intervalStart).toISOString(), data: f.flow as unknown as Record<string, unknown> };
}

export function registerSensorCommands(program: Command): Command {
  const sensor = program
    .command('sensor')
    .description('run the eBPF sensor (root, bpftrace): container activity as Falco-style events and alerts')
    .option('-r, --rules <file>', 'Falco rules file to evaluate in-process (as falco -r); repeatable, loaded in order: -r A -r B', collect, [])
    .option('--policy <pack>', 'runtime policy pack: file, directory or built-in name (runtime); repeatable', collect, [])
    .option('--cluster <name>', 'cluster name for the scope.clusters of runtime policies')
    .addOption(new Option('--format <format>', "falco: Falco's text alert lines, json: Falco's JSON alert lines (both streamed; default falco on a terminal, json otherwise); table, sarif, junit: a report of the alerts and policy violations when the sensor stops").choices(alertFormats()))
    .option('-o, --output <file>', "write alerts (json: appended as lines) or the report to this file instead of stdout ('-')")
    .option('--webhook <url>', 'POST every alert as JSON to this http(s) URL (as Falco http_output); with it, alerts go to stdout or a file only when --output is given')
    .option('--events <target>', 'also write every event as JSONL (- for stdout, or a file) for `runtime replay`')
    .option('--duration <seconds>', 'stop after this many seconds (default: until SIGINT/SIGTERM)')
    .option('--priority <level>', 'only rules at least this severe')
    .option('--queue <n>', 'events buffered between probe and rules before drops are counted', '65536')
    .option('--bpftrace <path>', 'bpftrace binary', 'bpftrace')
    .option('--probe <file>', 'probe script (default: the Gatehouse probe)')
    .addOption(
      new Option('--opens <which>', 'opens that leave the kernel: those the rules can match (rules; with --events also the default set), the default set (reads below /etc, /root, /home, secrets; all writes), or all')
        .choices(['rules', 'default', 'all']),
    )
    .option('--baseline-dir <dir>', 'learn a behavioural baseline per workload into DIR (one file each), lock it after --learn and raise anomaly alerts (source gatehouse-anomaly) through the same outputs')
    .option('--learn <duration>', 'observation window of a new baseline, in activity time (90s, 15m, 1h; default 1h)')
    .option('--baseline-sync <duration>', 'with --baseline-dir and --server: how often the baselines are pushed to Central and its merged ones (lifecycle included) adopted', '30s')
    .option('--respond', "carry out the runtime policies' enforcement (kill, stop, pause, isolate) on this host's containers, through the engine at --host or $DOCKER_HOST")
    .option('--respond-dry-run', 'with --respond: decide and audit every action, change nothing')
    .option('--respond-audit <file>', 'with --respond: the response audit log (default $GATEHOUSE_RESPOND_AUDIT, else ~/.local/state/gatehouse/respond-audit.jsonl)')
    .option('--respond-cooldown <seconds>', 'with --respond: one action per container and action in this period', '300')
    .option('--kill-switch <file>', 'with --respond: no action runs while this file exists')
    .option('--evidence-dir <dir>', 'with --respond: capture a forensic evidence bundle here before a destructive action')
    .option('--host <url>', "with --respond: container engine API (unix:///path or tcp://host:port; default $DOCKER_HOST, else podman's socket)")
    .option('--nats <url>', 'publish alerts and flows to the NATS JetStream event bus at nats://HOST:PORT (subject gatehouse.events.<cluster>) instead of pushing to --server, through the same disk spool (see --spool-dir)')
    .option('--nats-creds <file>', 'with --nats: NATS credentials — a .creds file, an nkey user seed (SU…) or one line of user:password')
    .option('--nats-tls-ca <file>', 'with --nats: the CA (PEM) that signed the NATS server certificate (TLS to the bus)')
    .option('--flows <target>', 'report network flows (connect, accept, UDP first packet; conntrack for what no probe saw), aggregated per --flow-interval, as JSON lines of ObservedFlow (- for stdout, or a file); with --server they are also sent to Central')
    .option('--flow-interval <duration>', 'with --flows: aggregation interval (30s, 1m, …)', '30s')
    .option('--no-flow-conntrack', 'with --flows: do not read /proc/net/nf_conntrack for connections no probe saw')
    .option('--node-name <name>', 'the host name of alerts, flows and what goes to Central (default: $NODE_NAME, as a DaemonSet sets it from spec.nodeName, else the machine\'s host name)')
    .option('--cgroup-parent <path>', 'report only containers whose cgroup v2 path is below PATH (kubelet: /kubepods.slice; podman/docker: their --cgroup-parent); the host\'s own processes are left out too')
    .addOption(new Option('--exit-code <n>', 'exit code when a rule or an anomaly alerted').default('0'))
    .addOption(new Option('--log-level <level>', 'level of the JSON log lines on stderr (start, ready, stop, warnings)').choices(LOG_LEVELS).default('info'));
  return addSpoolOption(addCentralOptions(addMetricsOptions(sensor))).action(async (o: SensorCliOptions & CentralCliOptions & MetricsCliOptions) => {
      // Operational lines are pino JSON on stderr (src/util/log.ts: secrets redacted); usage errors stay one human line.
      const log = logFunction(createLogger({ component: 'sensor', level: o.logLevel as (typeof LOG_LEVELS)[number] }));
      if (!o.rules.length && !o.events && !o.baselineDir && !o.flows) throw new UserError('nothing to do: give --rules FILE… (alerts), --baseline-dir DIR (anomalies) and/or --events FILE|- (events)');
      if (!o.flows && o.flowInterval !== '30s') throw new UserError('--flow-interval applies with --flows FILE|- only', 'usage');
      const flowIntervalMs = parseDuration(o.flowInterval, '--flow-interval');
      if (o.learn !== undefined && !o.baselineDir) throw new UserError('--learn sets the observation window of baselines: give --baseline-dir DIR too', 'usage');
      const learnMs = o.learn === undefined ? undefined : parseDuration(o.learn, '--learn');
      let detector: AnomalyDetector | undefined;
      // with Central (not the bus) the baselines are shared: what is learned is journalled and pushed
      const journal = o.baselineDir && !o.nats && (o.server || process.env.GATEHOUSE_SERVER) ? new LearnJournal() : undefined;
      if (o.baselineDir) {
        const store = new BaselineStore(o.baselineDir);
        store.ensureDir();
        // every stored baseline is read now: a corrupt one stops the sensor before it starts (and is left as it is)
        const bad = store.list().find((x) => x.error);
        if (bad) throw new UserError(bad.error!, 'corrupt-baseline');
        detector = new AnomalyDetector({ store, ...(learnMs !== undefined ? { learnMs } : {}), ...(o.cluster ? { cluster: o.cluster } : {}), ...(journal ? { onLearn: journalHook(journal) } : {}), onError: (m) => log('warn', m) });
      }
      const host = reportingHost(o.nodeName);
      const scope = o.cgroupParent !== undefined ? new CgroupScope(parseCgroupParent(o.cgroupParent)) : undefined;
      if (o.nats && o.server) throw new UserError('the sensor sends its events either to Central (--server) or to the event bus (--nats): give one', 'usage');
      await prepareBusAccess(o);
      const central = o.nats ? new BusPublisher({ url: o.nats, name: `gatehouse-sensor ${host}` }) : centralClientFrom(o);
      if (central && !o.rules.length && !o.flows && !detector) throw new UserError('--server pushes alerts, flows and baselines: give -r FILE, --flows FILE|- and/or --baseline-dir DIR too', 'usage');
      const queue = Number(o.queue);
      if (!Number.isInteger(queue) || queue < 1) throw new UserError(`--queue must be a positive integer, got '${o.queue}'`);
      const duration = o.duration === undefined ? undefined : Number(o.duration);
      if (duration !== undefined && !(duration > 0)) throw new UserError(`--duration must be a positive number of seconds, got '${o.duration}'`);
      const exitCode = checkExitCode(o.exitCode);
      const metricsAt = metricsServeOptions(o);
      const metrics = metricsAt ? new SensorMetrics() : undefined;
      const minPriority = o.priority ? parsePriority(o.priority) : undefined;
      if (o.priority && !minPriority) throw new UserError(`unknown priority '${o.priority}'`);

      if (o.policy.length && !o.rules.length && !detector) throw new UserError('--policy judges alerts: give -r FILE or --baseline-dir DIR too');
      const format = defaultAlertFormat(o);
      const alerting = o.rules.length > 0 || !!detector;
      const sinks = alerting ? alertSinks({ ...o, format }) : [];
      const report = streamedFormat(format) || !alerting ? undefined : new AlertReport('sensor', format, o.output);
      // Policies are loaded and compiled before the probe starts: a bad pack is exit 2 here.
      const policies = await loadRuntimePolicies(o.policy);
      const judge = policies ? new AlertJudge(policies, o.cluster ? { cluster: o.cluster } : {}) : undefined;
      const annotate = alertAnnotator(judge, report);
      if (o.respond) {
        if (!judge) throw new UserError('--respond carries out runtime policies: give --policy PACK too', 'usage');
        if (!/^\d+(\.\d+)?$/.test(o.respondCooldown)) throw new UserError(`--respond-cooldown must be a number of seconds, got '${o.respondCooldown}'`, 'usage');
        sinks.push(sensorResponder({
          endpoint: o.host ?? defaultEngineEndpoint(process.env, existsSync),
          auditLog: o.respondAudit ?? defaultAuditLog(),
          cooldownSeconds: Number(o.respondCooldown),
          ...(o.respondDryRun ? { dryRun: true } : {}),
          ...(o.killSwitch ? { killSwitchFile: o.killSwitch } : {}),
          ...(o.evidenceDir ? { evidenceDir: o.evidenceDir } : {}),
        }));
      } else if (o.respondDryRun || o.respondAudit || o.killSwitch || o.evidenceDir || o.host) throw new UserError('--respond-dry-run, --respond-audit, --kill-switch, --evidence-dir and --host apply with --respond only', 'usage');
      const ruleSet = o.rules.length ? loadRuleSet(o.rules, { minPriority }) : undefined;
      if (o.opens === 'rules' && !ruleSet) throw new UserError('--opens rules needs -r FILE');
      let eventsOut: NodeJS.WritableStream | WriteStream | undefined;
      if (o.events) eventsOut = o.events === '-' ? process.stdout : createWriteStream(o.events, { flags: 'w' });
      const writeEvent = eventsOut ? (ev: RuntimeEvent) => eventsOut!.write(`${JSON.stringify(ev, jsonReplacer)}\n`) : undefined;
      // anomaly alerts go through the same annotation (policy verdicts) and sinks as rule alerts
      let anomalies = 0;
      let lastFlush = Date.now();
      const onEvent = detector
        ? (ev: RuntimeEvent) => {
            writeEvent?.(ev);
            for (const made of detector.push(ev)) {
              anomalies++;
              const raw = made.hostname === host ? made : { ...made, hostname: host };
              const a = annotate ? annotate(raw, ev) : raw;
              metrics?.alert(a);
              for (const s of sinks) s.write(a);
            }
            if (Date.now() - lastFlush > 30_000) {
              lastFlush = Date.now();
              detector.flush();
            }
          }
        : writeEvent;
      // Alerts go through a disk spool: those raised while Central is down are sent when it is back.
      let shipping: ShipperHandle | undefined;
      if (central) {
        shipping = eventShipperFor(central, { kind: 'sensor', host, ...(o.cluster ? { cluster: o.cluster } : {}) }, o.spoolDir ?? defaultSpoolDir('sensor'), { log: (level, msg) => log(level, msg) });
        sinks.push(new ShippedAlertSink(shipping.shipper));
        const shipper = shipping.shipper;
        if (metrics) registerShipperMetrics(metrics.registry, () => shipper.stats());
      }
      // Baselines shared through Central: deltas pushed and the merged baselines adopted every 30 s and at exit
      let baselineSync: BaselineSync | undefined;
      if (detector && journal && central && !(central instanceof BusPublisher)) {
        let last = '';
        const onError = (m: string) => { if (m !== last) log('warn', (last = m)); };
        baselineSync = new BaselineSync({ client: central, detector, journal, host, stateFile: join(o.baselineDir!, '.central-sync.state'), onError });
        baselineSync.start(parseDuration(o.baselineSync, '--baseline-sync'));
      }
      // Network flows: JSON lines of ObservedFlow, and ingest events of type flow through the same shipper
      let flowsOut: NodeJS.WritableStream | WriteStream | undefined;
      if (o.flows) flowsOut = o.flows === '-' ? process.stdout : createWriteStream(o.flows, { flags: 'w' });
      const flowShipper = shipping?.shipper;
      const onFlows = (flows: FlushedFlow[]) => {
        if (flowsOut) flowsOut.write(flows.map((f) => `${JSON.stringify(f.flow)}\n`).join(''));
        if (flowShipper) for (const f of flows) flowShipper.submit(flowEvent(f));
      };
      let metricsServer: MetricsListener | undefined;
      if (metrics && metricsAt) {
        try {
          metricsServer = await serveMetrics(metrics.registry, metricsAt);
        } catch (e) {
          await shipping?.close();
          throw e;
        }
        log('info', `sensor metrics at ${metricsServer.url}`, { url: metricsServer.url });
      }

      const ac = new AbortController();
      const onSignal = () => ac.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      log('info', 'sensor starting (attaching probes)…', { host, ...(o.cluster ? { cluster: o.cluster } : {}), ...(o.nats ? { bus: true } : central ? { central: true } : {}) });
      let timer: NodeJS.Timeout | undefined;
      try {
        const res = await runSensor({
          ruleSet,
          sinks,
          ...(annotate ? { annotate } : {}),
          onEvent,
          ...(detector ? { onAlert: (a: Alert) => { if (a.rule === DROP_RULE) detector.noteDrops(Number(a.output_fields['sensor.drops'] ?? 0)); } } : {}),
          queueCapacity: queue,
          bpftrace: o.bpftrace,
          script: o.probe,
          openBounds: o.opens === 'all' ? ALL_OPENS : o.opens === 'default' ? DEFAULT_OPEN_BOUNDS : o.opens === 'rules' ? sensorOpenBounds(ruleSet, false) : undefined,
          signal: ac.signal,
          ...(metrics ? { metrics } : {}),
          nodeName: host,
          ...(scope ? { scope } : {}),
          ...(o.flows ? { flows: { intervalMs: flowIntervalMs, host, ...(o.flowConntrack ? {} : { conntrack: false as const }), onFlows } } : {}),
          onReady: () => {
            log('info', 'sensor ready');
            if (duration !== undefined) timer = setTimeout(() => ac.abort(), duration * 1000);
          },
        });
        const s = res.stats;
        const verdicts = judge ? `; policy verdicts: ${judge.counts.deny} deny, ${judge.counts.warn} warn, ${judge.counts.allow} allow` : '';
        const anomalyText = detector ? `, ${anomalies} anomalies (${detector.stats.workloads} workloads, ${[...detector.baselines.values()].filter((b) => b.locked).length} locked baselines)` : '';
        const fl = res.flows;
        const flowText = fl ? `, ${fl.flushed} flows from ${fl.observed} connections (${fl.dropped} over the cap${fl.conntrack ? `; conntrack: ${fl.conntrack.reported} seen by conntrack only${fl.conntrack.errors ? `, unreadable: ${fl.conntrack.lastError}` : ''}` : ''})` : '';
        const scopeText = res.outOfScope !== undefined ? `, ${res.outOfScope} events outside ${scope!.parent} left out` : '';
        const summary = `${s.events} events${scopeText}, ${res.alerts} alerts${anomalyText}${flowText}, ${res.drops} dropped (kernel=${s.lostInKernel} queue=${s.droppedInQueue} incomplete=${s.incomplete})${verdicts}`;
        report?.write([summary]);
        log('info', `sensor stopped: ${summary}`, { events: s.events, alerts: res.alerts, anomalies, drops: res.drops });
        const failed = sinks.reduce((n, k) => n + k.failed, 0);
        if (failed) throw new UserError(`${failed} alerts could not be delivered to ${o.webhook ?? o.output}`);
        if (res.alerts + anomalies > 0) process.exitCode = exitCode;
      } finally {
        clearTimeout(timer);
        if (baselineSync) {
          await baselineSync.sync(AbortSignal.timeout(10_000));
          baselineSync.close();
        }
        detector?.flush();
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        if (eventsOut && eventsOut !== process.stdout) await new Promise<void>((r) => (eventsOut as WriteStream).end(() => r()));
        if (flowsOut && flowsOut !== process.stdout) await new Promise<void>((r) => (flowsOut as WriteStream).end(() => r()));
        await shipping?.close();
        await metricsServer?.close();
      }
    });
}
