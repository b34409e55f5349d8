/** `gatehouse engine-proxy`: the Docker Engine API authorization proxy (src/engine-proxy/). */
import { readFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { parseAddress } from '../../engine-proxy/address.js';
import { JsonlAuditLog } from '../../engine-proxy/audit.js';
import { EngineProxy } from '../../engine-proxy/proxy.js';
import { loadEnginePolicies } from '../../engine-proxy/policy.js';
import { trustPolicyVerifier } from '../../engine-proxy/trust-verifier.js';
import { subjects } from '../../subjects/index.js';
import { loadTrustPolicy } from '../../trust/policy.js';
import { UserError, describeError } from '../../util/errors.js';
import { registerShipperMetrics, serveMetrics } from '../../util/metrics.js';
import { addMetricsOptions, metricsServeOptions, type MetricsCliOptions } from '../metrics-options.js';
import { EngineProxyMetrics } from '../../engine-proxy/metrics.js';
import { addCentralOptions, centralClientFrom, type CentralCliOptions } from '../central-options.js';
import { ShippedDecisionSink, addSpoolOption, defaultSpoolDir, eventShipperFor, reportingHost } from '../central-push.js';
import { createLogger, logFunction, LOG_LEVELS } from '../../util/log.js';
import { addNatsOptions, busPublisherFrom, keepingAlive, type NatsCliOptions } from './bus-push.js';

interface ProxyCliOptions {
  listen: string;
  upstream: string;
  policy: string[];
  audit?: string;
  alertWebhook?: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
  auditOnly?: boolean;
  trustPolicy?: string;
  spoolDir?: string;
  logLevel: string;
}

const collect = (v: string, prev: string[]): string[] => [...prev, v];

function readPem(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new UserError(`cannot read ${what} ${path}: ${describeError(e)}`, 'bad-option');
  }
}

export function registerEngineProxyCommands(program: Command): void {
  const cmd = program
    .command('engine-proxy')
    .description('authorize every Docker Engine API call against a policy before passing it to the engine (point DOCKER_HOST at --listen)')
    .option('--listen <addr>', 'where clients connect: unix:///path or tcp://host:port (TLS with client certs)', 'unix:///run/gatehouse/docker.sock')
    .option('--upstream <addr>', 'the engine API: unix:///path or tcp://host:port', 'unix:///var/run/docker.sock')
    .option('--policy <pack>', 'policy pack about engine-request: a file, a directory or a built-in pack name (repeatable; default: engine); reloaded on SIGHUP. Old EngineProxyPolicy rule files are still read (deprecated)', collect, [])
    .option('--trust-policy <file>', 'trust policy (YAML, as `image verify --policy`): images it does not allow fail the image.signed check')
    .option('--audit-only', 'evaluate every policy as inform: log "would deny" instead of denying')
    .option('--audit <file>', 'append every decision to this JSONL audit log')
    .option('--alert-webhook <url>', 'POST denials and would-denials to this URL (JSON with the violations as findings)')
    .option('--tls-cert <file>', 'server certificate (PEM) for tcp:// listen')
    .option('--tls-key <file>', 'server key (PEM) for tcp:// listen')
    .option('--tls-ca <file>', 'CA (PEM) that client certificates must chain to')
    .addOption(new Option('--log-level <level>', 'level of the JSON log lines on stderr').choices(LOG_LEVELS).default('info'));
  addNatsOptions(addSpoolOption(addCentralOptions(addMetricsOptions(cmd))), 'every decision', '<host>').action(async (o: ProxyCliOptions & CentralCliOptions & MetricsCliOptions & NatsCliOptions) => {
      const host = reportingHost();
      // Decisions go to Central (--server) or to the event bus (--nats), through the same disk spool.
      const central = (await busPublisherFrom(o, 'the engine proxy sends its decisions', `gatehouse-engine-proxy ${host}`)) ?? centralClientFrom(o);
      const listen = parseAddress(o.listen, '--listen');
      const upstream = parseAddress(o.upstream, '--upstream');
      const metricsAt = metricsServeOptions(o);
      const warn = (m: string) => process.stderr.write(`warning: ${m}\n`);
      const load = () => loadEnginePolicies(o.policy, subjects(), { warn });
      // Every pack is checked before anything listens: a bad one exits 2 with file:line.
      const policy = await load();
      let tls: { cert: Buffer; key: Buffer; ca: Buffer } | undefined;
      if (listen.kind === 'tcp') {
        if (!o.tlsCert || !o.tlsKey || !o.tlsCa) throw new UserError('tcp:// listen needs --tls-cert, --tls-key and --tls-ca', 'bad-option');
        tls = { cert: readPem(o.tlsCert, 'TLS certificate'), key: readPem(o.tlsKey, 'TLS key'), ca: readPem(o.tlsCa, 'TLS CA') };
      }
      const log = logFunction(createLogger({ component: 'engine-proxy', level: o.logLevel as (typeof LOG_LEVELS)[number] }));
      const auditLog = o.audit ? new JsonlAuditLog(o.audit, (e) => log('error', `audit log ${o.audit}: ${describeError(e)}`)) : undefined;
      // Every decision also goes to Central, through a disk spool that outlives an outage.
      const imageVerifier = o.trustPolicy ? trustPolicyVerifier(await loadTrustPolicy(o.trustPolicy)) : undefined;
      const shipping = central ? eventShipperFor(central, { kind: 'engine-proxy', host }, o.spoolDir ?? defaultSpoolDir('engine-proxy'), { log: (level, msg) => log(level, msg) }) : undefined;
      const audit = shipping ? new ShippedDecisionSink(shipping.shipper, auditLog) : auditLog;
      const metrics = new EngineProxyMetrics();
      if (shipping) registerShipperMetrics(metrics.registry, () => shipping.shipper.stats());
      let metricsServer: Awaited<ReturnType<typeof serveMetrics>> | undefined;
      try {
        const proxy = new EngineProxy({ listen, upstream, policy, loadPolicy: load, informOnly: o.auditOnly, tls, audit, alertWebhook: o.alertWebhook, log, imageVerifier, metrics });
        await proxy.start();
        if (metricsAt) {
          metricsServer = await serveMetrics(metrics.registry, metricsAt);
          log('info', `metrics at ${metricsServer.url}`);
        }
        process.on('SIGHUP', () => void proxy.reloadPolicy());
        await new Promise<void>((resolve) => {
          const stop = () => resolve();
          process.once('SIGINT', stop);
          process.once('SIGTERM', stop);
        });
        await proxy.close();
        await audit?.close();
      } finally {
        await metricsServer?.close();
        await keepingAlive(shipping?.close());
      }
    });
}
